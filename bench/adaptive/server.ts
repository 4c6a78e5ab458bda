/**
 * The server process of one adaptive-benchmark contender: ringpool's
 * `serve()` on 127.0.0.1 with the given `workers` option and the dashboard
 * on, so the harness can read worker states and the completed counter from
 * `/_dashboard/stats.json` (answered by the main thread: no slot, no worker).
 *
 *   deno run -A bench/adaptive/server.ts PORT WORKERS_JSON
 *
 * Every contender runs this file, so they pay the same for the dashboard
 * (one counter per response). SIGTERM drains and exits (serve()'s own
 * signal handling).
 *
 * @module
 */
import type { WorkersSpec } from "./types.ts";

/** Where the contender's dashboard lives; its stats are under it. */
export const DASHBOARD_PATH = "/_dashboard";

/** The command line that starts a contender's server on `port`. */
export function serverArgs(port: number, workers: WorkersSpec): string[] {
  return [
    "run",
    "-A",
    new URL(import.meta.url).pathname,
    String(port),
    JSON.stringify(workers),
  ];
}

if (import.meta.main) {
  // Loaded here, not at the top: only the server process needs it.
  const { serve } = await import("../../src/server.ts");
  const port = Number(Deno.args[0]);
  const workers = JSON.parse(Deno.args[1] ?? "4") as WorkersSpec;
  const server = await serve({
    handler: new URL("../handlers/handler.ts", import.meta.url),
    hostname: "127.0.0.1",
    port,
    workers,
    dashboardPath: DASHBOARD_PATH,
    onListen() {},
  });
  await server.finished;
}
