// The server side of the ringpool contender, run in its own process by
// bench/sse.ts --serve.

/** The server side of the ringpool contender: serve() with its defaults. */
export async function serveRingpool(
  port: number,
  statsFile: string,
): Promise<void> {
  // Loaded here, not at the top: only the server process needs it.
  const { serve } = await import("../../src/server.ts");
  const server = await serve({
    handler: new URL("../handlers/sse.ts", import.meta.url),
    hostname: "127.0.0.1",
    port,
    onListen() {},
  });
  // stats() reads shared memory; written for the harness to sample.
  const timer = setInterval(() => {
    Deno.writeTextFileSync(statsFile, JSON.stringify(server.stats()));
  }, 250);
  await server.finished;
  clearInterval(timer);
}
