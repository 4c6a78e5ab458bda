// Contender: ringpool's `serve()`. Usage:
//   deno run -A ringpool.ts PORT [--workers N] [--spare-workers N] [--concurrency N]
//     [--max-body-size BYTES] [--handler MODULE] [--static DIR]
// Options left out stay at serve()'s defaults (cores + 1 workers and 1
// spare, concurrency 16; a pool sized with --workers has no spare unless
// --spare-workers says so);
// MODULE defaults to ../handlers/handler.ts; --static DIR serves DIR under
// /static/ from the main thread. Exits with status 3 and a message on
// stderr when `serve()` is unavailable, so the harness can report that.
import { parseArgs } from "node:util";
import { serve } from "../../src/server.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    workers: { type: "string" },
    "spare-workers": { type: "string" },
    concurrency: { type: "string" },
    "max-body-size": { type: "string" },
    handler: { type: "string" },
    static: { type: "string" },
  },
});
const port = Number(positionals[0] ?? "8000");
const number = (
  name: "workers" | "spare-workers" | "concurrency" | "max-body-size",
) => values[name] === undefined ? undefined : Number(values[name]);
const workers = number("workers");
const spareWorkers = number("spare-workers");
const concurrency = number("concurrency");
const maxBodySize = number("max-body-size");

let server;
try {
  server = await serve({
    handler: values.handler ??
      new URL("../handlers/handler.ts", import.meta.url),
    hostname: "127.0.0.1",
    port,
    handleSignals: false,
    onListen() {},
    ...(workers === undefined ? {} : { workers }),
    ...(spareWorkers === undefined ? {} : { spareWorkers }),
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(maxBodySize === undefined ? {} : { maxBodySize }),
    ...(values.static === undefined
      ? {}
      : { static: { root: values.static, prefix: "/static" } }),
  });
} catch (error) {
  console.error(
    `ringpool unavailable: ${error instanceof Error ? error.message : error}`,
  );
  Deno.exit(3);
}
const running = server;
Deno.addSignalListener("SIGTERM", async () => {
  await running.shutdown({ timeout: 1000 }).catch(() => {});
  Deno.exit(0);
});
