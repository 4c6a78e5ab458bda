/**
 * The command line: `deno run -A mod.ts` runs the demo server of the last
 * chapter of "The Rust Programming Language"; `deno run -A mod.ts app.ts
 * --port 8080` serves your own handler module on a pool of worker threads.
 *
 * @module
 */

import { UsageError } from "./errors.ts";
import { type PoolServer, serve, type ServeOptions } from "./server.ts";
import { type CliOptions, USAGE } from "./_cli/flags.ts";
import { parseCommandLine } from "./_cli/parse.ts";
import { toServeOptions } from "./_cli/serve_options.ts";

export type { CliOptions } from "./_cli/flags.ts";

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
  return parseCommandLine(args);
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

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
