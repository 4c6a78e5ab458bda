// Turning the command line's options into serve()'s: module and folder
// arguments resolved against the working directory, the certificate files
// read, and the log lines the command line prints as the server runs.

import { resolve } from "node:path";
import type { ServeOptions } from "../server.ts";
import { moduleUrl } from "../_common/module_url.ts";
import type { CliOptions } from "./flags.ts";

/** The options passed on to serve() unchanged when given. */
const COPIED = [
  "hostname",
  "port",
  "workers",
  "spareWorkers",
  "concurrency",
  "queueCapacity",
  "maxBodySize",
  "requestTimeout",
  "drainTimeout",
  "maxRequests",
  "maxRequestsPerWorker",
  "maxWorkerMemory",
  "readinessPath",
  "readinessDelay",
  "metricsPath",
  "dashboardPath",
] as const;

/**
 * The serve() options for `options`, resolving relative paths against `cwd`.
 *
 * @throws {Error} If the certificate or key cannot be read.
 */
export async function toServeOptions(
  options: CliOptions,
  cwd: string = Deno.cwd(),
): Promise<ServeOptions> {
  // Without a handler module: the demo server's.
  const handler = options.handler === undefined
    ? new URL("./demo_handler.ts", import.meta.url)
    : moduleUrl("serve", "HANDLER", options.handler, cwd);
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
  for (const key of COPIED) {
    const value = options[key];
    if (value !== undefined) Object.assign(serveOptions, { [key]: value });
  }
  if (options.maxWorkers !== undefined) {
    const min = options.workers ?? 1;
    serveOptions.workers = { min, max: options.maxWorkers };
  }
  if (options.cert !== undefined && options.key !== undefined) {
    serveOptions.cert = await Deno.readTextFile(resolve(cwd, options.cert));
    serveOptions.key = await Deno.readTextFile(resolve(cwd, options.key));
  }
  if (options.staticRoot !== undefined) {
    const root = moduleUrl("serve", "--static-root", options.staticRoot, cwd);
    serveOptions.static = options.staticPrefix === undefined
      ? { root }
      : { root, prefix: options.staticPrefix };
  }
  return serveOptions;
}
