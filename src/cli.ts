/**
 * The command line: `deno run -A mod.ts` runs the demo server of the last
 * chapter of "The Rust Programming Language"; `deno run -A mod.ts app.ts
 * --port 8080` serves your own handler module on a pool of worker threads.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { UsageError } from "./errors.ts";
import { type PoolServer, serve, type ServeOptions } from "./server.ts";

/** What {@linkcode parseCliArgs} found on the command line. */
export interface CliOptions {
  /** `--help` / `-h`: print the usage and exit. */
  help: boolean;
  /**
   * The handler module as written (a path or a URL), or `undefined` for the
   * demo server. Relative paths are resolved by {@linkcode main}, against the
   * current working directory.
   */
  handler?: string;
  /** `--hostname`; the demo defaults to `"127.0.0.1"`. */
  hostname?: string;
  /** `--port`; `0` picks a free port. The demo defaults to `7878`. */
  port?: number;
  /** `--workers`; the demo defaults to `4`. */
  workers?: number;
  /** `--concurrency`: requests in flight per worker. */
  concurrency?: number;
  /** `--queue-capacity`: requests that may wait for a worker. */
  queueCapacity?: number;
  /** `--max-body-size`: largest request body in bytes. */
  maxBodySize?: number;
  /** `--request-timeout`: milliseconds a handler may take. */
  requestTimeout?: number;
  /** `--drain-timeout`: milliseconds a shutdown waits for in-flight requests. */
  drainTimeout?: number;
  /** `--cert`: path of the TLS certificate (PEM); needs `key`. */
  cert?: string;
  /** `--key`: path of the TLS private key (PEM); needs `cert`. */
  key?: string;
  /** `--static-root`: a folder (or URL) served from the main thread. */
  staticRoot?: string;
  /** `--static-prefix`: the URL path the static files live under; needs `staticRoot`. */
  staticPrefix?: string;
  /** `--max-requests`: shut down after this many requests. */
  maxRequests?: number;
  /** `--readiness-path`: a path that answers 200, then 503 once a drain starts. */
  readinessPath?: string;
  /** `--readiness-delay`: milliseconds to keep serving after readiness turns 503. */
  readinessDelay?: number;
  /** `--metrics-path`: a path that answers Prometheus text metrics. */
  metricsPath?: string;
}

/** The usage text `--help` prints. */
const USAGE = `ringpool: serve HTTP on a pool of worker threads.

Usage:
  deno run -A mod.ts [HANDLER] [OPTIONS]

HANDLER is a module (a path or a URL) with
  export default { fetch(request, info) { return new Response("hi"); } }
Without HANDLER, the demo server of the last chapter of "The Rust Programming
Language" runs on http://127.0.0.1:7878 with 4 workers: GET / answers a page,
GET /sleep the same page after 5 seconds, anything else a 404 page.

Options:
  --hostname HOST         address to listen on (default 0.0.0.0; demo 127.0.0.1)
  --port N                port to listen on, 0 for any free one (default 8000; demo 7878)
  --workers N             worker threads (default 4)
  --concurrency N         requests in flight per worker (default 16)
  --queue-capacity N      requests that may wait for a worker before 503 (default 1024)
  --max-body-size BYTES   largest request body before 413 (default 10485760)
  --request-timeout MS    time a handler may take before 504 (default 30000)
  --drain-timeout MS      time a shutdown waits for in-flight requests (default 10000)
  --cert FILE --key FILE  serve HTTPS with this PEM certificate and key
  --static-root DIR       serve the files in DIR from the main thread
  --static-prefix PATH    URL path the static files live under (default /)
  --max-requests N        shut down after N requests
  --readiness-path PATH   answer 200 there, 503 from the moment a drain starts (default off)
  --readiness-delay MS    keep serving this long after readiness turns 503 (default 0)
  --metrics-path PATH     answer Prometheus text metrics there (default off)
  -h, --help              print this help and exit

Ctrl-C shuts down gracefully; a second Ctrl-C exits at once.`;

const FLAGS = {
  help: { type: "boolean", short: "h" },
  hostname: { type: "string" },
  port: { type: "string" },
  workers: { type: "string" },
  concurrency: { type: "string" },
  "queue-capacity": { type: "string" },
  "max-body-size": { type: "string" },
  "request-timeout": { type: "string" },
  "drain-timeout": { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  "static-root": { type: "string" },
  "static-prefix": { type: "string" },
  "max-requests": { type: "string" },
  "readiness-path": { type: "string" },
  "readiness-delay": { type: "string" },
  "metrics-path": { type: "string" },
} as const;

/**
 * Parses the command line's arguments. It only looks at `args`: no files
 * are read and relative paths stay as written.
 *
 * @param args The arguments after the script, as in `Deno.args`.
 * @returns The options found; for the demo server (no handler module) the
 *   demo's defaults are filled in.
 * @throws {UsageError} For an unknown flag, a missing or bad value, more than
 *   one handler module, or flags that need each other (`--cert` and `--key`,
 *   `--static-prefix` and `--static-root`).
 *
 * @example Parse the flags of a custom server
 * ```ts
 * import { parseCliArgs } from "./cli.ts";
 * import { UsageError } from "@ringpool/ringpool";
 * import assert from "node:assert/strict";
 *
 * const options = parseCliArgs(["app.ts", "--port", "8080", "--workers=8"]);
 * assert.equal(options.handler, "app.ts");
 * assert.equal(options.port, 8080);
 * assert.equal(options.workers, 8);
 *
 * assert.throws(() => parseCliArgs(["--port", "http"]), UsageError);
 * ```
 */
export function parseCliArgs(args: string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: FLAGS,
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw toUsageError(error);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) {
    throw new UsageError(
      `Expected at most one handler module, received ${positionals.length}: ${
        positionals.map((p) => `'${p}'`).join(" ")
      }`,
    );
  }
  const handler = positionals[0];
  const options: CliOptions = { help: values.help ?? false };
  if (handler !== undefined) options.handler = handler;

  if (values.hostname !== undefined) {
    if (values.hostname === "") {
      throw new UsageError(
        "Invalid value for --hostname: it must not be empty",
      );
    }
    options.hostname = values.hostname;
  }
  const port = integer("port", values.port, 0, 65535);
  if (port !== undefined) options.port = port;
  const numbers = [
    ["workers", "workers", 1],
    ["concurrency", "concurrency", 1],
    ["queue-capacity", "queueCapacity", 0],
    ["max-body-size", "maxBodySize", 0],
    ["request-timeout", "requestTimeout", 1],
    ["drain-timeout", "drainTimeout", 0],
    ["max-requests", "maxRequests", 1],
    ["readiness-delay", "readinessDelay", 0],
  ] as const;
  for (const [flag, key, min] of numbers) {
    const value = integer(flag, values[flag], min);
    if (value !== undefined) options[key] = value;
  }

  for (const flag of ["cert", "key", "static-root"] as const) {
    if (values[flag] === "") {
      throw new UsageError(`Invalid value for --${flag}: it must not be empty`);
    }
  }
  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw new UsageError(
      "--cert and --key must be given together: pass both PEM files or neither",
    );
  }
  if (values.cert !== undefined) options.cert = values.cert;
  if (values.key !== undefined) options.key = values.key;
  if (values["static-root"] !== undefined) {
    options.staticRoot = values["static-root"];
  }
  const prefix = values["static-prefix"];
  if (prefix !== undefined) {
    if (options.staticRoot === undefined) {
      throw new UsageError(
        "--static-prefix needs --static-root: say which folder to serve",
      );
    }
    if (!prefix.startsWith("/")) {
      throw new UsageError(
        `Invalid value for --static-prefix: expected a path starting with "/", received '${prefix}'`,
      );
    }
    options.staticPrefix = prefix;
  }

  for (
    const [flag, key] of [["readiness-path", "readinessPath"], [
      "metrics-path",
      "metricsPath",
    ]] as const
  ) {
    const path = values[flag];
    if (path === undefined) continue;
    if (!path.startsWith("/")) {
      throw new UsageError(
        `Invalid value for --${flag}: expected a path starting with "/", received '${path}'`,
      );
    }
    options[key] = path;
  }

  if (handler === undefined) {
    // The book's server: 127.0.0.1:7878 with a pool of 4.
    options.hostname ??= "127.0.0.1";
    options.port ??= 7878;
    options.workers ??= 4;
  }
  return options;
}

/** Parses a non-negative integer flag value, or `undefined` if not given. */
function integer(
  flag: string,
  value: string | undefined,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  const number = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(number >= min && number <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER
      ? `an integer of at least ${min}`
      : `an integer from ${min} to ${max}`;
    throw new UsageError(
      `Invalid value for --${flag}: expected ${range}, received '${value}'`,
    );
  }
  return number;
}

/** Rewords `node:util` parseArgs errors as one line that says what to do. */
function toUsageError(error: unknown): UsageError {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  // The quoted option, e.g. 'Option '-h, --help' does not take an argument':
  // name the long form.
  const quoted = /'(-[^']*)'/.exec(message)?.[1] ?? "";
  const option = quoted.split(/[ ,]+/).filter((part) => part.startsWith("-"))
    .pop() ?? quoted;
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(
        `Unknown option '${option}': run with --help to see the options`,
        { cause: error },
      );
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (message.includes("does not take")) {
        return new UsageError(`Option '${option}' takes no value`, {
          cause: error,
        });
      }
      // "--port -1": parseArgs will not take a value that looks like a flag.
      return new UsageError(
        `Option '${option}' needs a value: write ${option} VALUE, or ${option}=VALUE if it starts with "-"`,
        { cause: error },
      );
    default:
      return new UsageError(message.split("\n")[0] ?? message, {
        cause: error,
      });
  }
}

/** Turns a path or URL given on the command line into a URL. */
function toUrl(pathOrUrl: string, cwd: string): URL {
  // A scheme of two letters or more is a URL; "C:\..." is a Windows path.
  if (/^[a-z][a-z0-9+.-]+:/i.test(pathOrUrl)) return new URL(pathOrUrl);
  return pathToFileURL(resolve(cwd, pathOrUrl));
}

/**
 * Runs the command line: parses `args`, starts the server and waits until
 * it has shut down (Ctrl-C, SIGTERM or `--max-requests`).
 *
 * Prints `Listening on http://HOST:PORT/` once bound (with the real port
 * when `--port 0` was given), and `Shutting down.` and `Shutting down worker
 * N` for each worker as it shuts down. Usage errors are printed as one line
 * on stderr.
 *
 * @param args The arguments after the script, as in `Deno.args`.
 * @returns The exit code: 0 after a clean shutdown or `--help`, 1 if the
 *   server could not start, 2 for a usage error.
 * @throws {Error} Never for bad input or a failing server, which become the
 *   exit codes above; only an unexpected internal error propagates.
 *
 * @example Print the usage
 * ```ts
 * import { main } from "./cli.ts";
 * import assert from "node:assert/strict";
 *
 * const log = console.log;
 * console.log = () => {};
 * try {
 *   assert.equal(await main(["--help"]), 0);
 * } finally {
 *   console.log = log;
 * }
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let options: CliOptions;
  try {
    options = parseCliArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}`);
    return error.exitCode;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }

  let serveOptions: ServeOptions;
  try {
    serveOptions = await toServeOptions(options);
  } catch (error) {
    console.error(`error: ${errorMessage(error)}`);
    return 1;
  }

  let server: PoolServer;
  try {
    server = await serve(serveOptions);
  } catch (error) {
    console.error(`error: ${errorMessage(error)}`);
    // The server rejects bad option values (beyond what the parser checks)
    // with a RangeError or TypeError: that is a usage error too.
    return error instanceof RangeError || error instanceof TypeError ? 2 : 1;
  }
  try {
    await server.finished;
  } catch (error) {
    console.error(`error: ${errorMessage(error)}`);
    return 1;
  }
  return 0;
}

async function toServeOptions(options: CliOptions): Promise<ServeOptions> {
  const cwd = Deno.cwd();
  const handler = options.handler === undefined
    ? new URL("./_demo_handler.ts", import.meta.url)
    : toUrl(options.handler, cwd);
  const serveOptions: ServeOptions = {
    handler,
    onListen({ hostname, port }) {
      const scheme = options.cert === undefined ? "http" : "https";
      const host = hostname.includes(":") ? `[${hostname}]` : hostname;
      console.log(`Listening on ${scheme}://${host}:${port}/`);
    },
    onDrain() {
      console.log("Shutting down.");
    },
    onWorkerExit(workerId) {
      console.log(`Shutting down worker ${workerId}`);
    },
  };
  const copied = [
    "hostname",
    "port",
    "workers",
    "concurrency",
    "queueCapacity",
    "maxBodySize",
    "requestTimeout",
    "drainTimeout",
    "maxRequests",
    "readinessPath",
    "readinessDelay",
    "metricsPath",
  ] as const;
  for (const key of copied) {
    const value = options[key];
    if (value !== undefined) Object.assign(serveOptions, { [key]: value });
  }
  if (options.cert !== undefined && options.key !== undefined) {
    serveOptions.cert = await Deno.readTextFile(resolve(cwd, options.cert));
    serveOptions.key = await Deno.readTextFile(resolve(cwd, options.key));
  }
  if (options.staticRoot !== undefined) {
    const root = toUrl(options.staticRoot, cwd);
    serveOptions.static = options.staticPrefix === undefined
      ? { root }
      : { root, prefix: options.staticPrefix };
  }
  return serveOptions;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
