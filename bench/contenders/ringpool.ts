// Contender: ringpool's `serve()`. Usage:
//   deno run -A ringpool.ts PORT WORKERS [MAX_BODY_BYTES]
// Exits with status 3 and a message on stderr when `serve()` is unavailable
// (for example still "not implemented"), so the harness can report that.
import { serve } from "../../src/server.ts";

const port = Number(Deno.args[0] ?? "8000");
const workers = Number(Deno.args[1] ?? "2");
const maxBodySize = Deno.args[2] === undefined
  ? undefined
  : Number(Deno.args[2]);

let server;
try {
  server = await serve({
    handler: new URL("../handlers/handler.ts", import.meta.url),
    workers,
    hostname: "127.0.0.1",
    port,
    handleSignals: false,
    onListen() {},
    ...(maxBodySize === undefined ? {} : { maxBodySize }),
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
