/**
 * ringpool: serve HTTP on a pool of worker threads, for Deno 2.
 *
 * The main thread runs `Deno.serve` and keeps every connection; each request
 * is handed through shared memory to whichever worker is free, which runs a
 * `deno serve`-style handler module (`export default { fetch }`) and streams
 * the response back. Threads coordinate through a lock-free ring buffer in a
 * `SharedArrayBuffer`: idle workers sleep in `Atomics.wait`, the main thread
 * never blocks. Shutdown drains in-flight requests, closes the ring and joins
 * every worker.
 *
 * - {@linkcode serve}: the HTTP server (`PoolServer` handle, shaped like
 *   `Deno.HttpServer`).
 * - {@linkcode ThreadPool}: run named exports of a module on N workers.
 * - {@linkcode RingBuffer}: the bounded MPMC queue of integers under both.
 * - {@linkcode serveStatic}: files from a folder, answered on the main thread.
 * - {@linkcode upgradeWebSocket}: WebSockets in handlers (`Deno.upgradeWebSocket`
 *   works unchanged there too: the socket stays on the main thread and its
 *   messages are relayed to the worker).
 *
 * Run `deno run -A mod.ts` for the demo server of _The Rust Programming
 * Language_'s last chapter, or `deno run -A mod.ts app.ts --port 8080` to
 * serve your own module (`--help` lists the flags).
 *
 * @example Serve a handler module on two workers
 * ```ts
 * import { serve } from "@ringpool/ringpool";
 * import assert from "node:assert/strict";
 *
 * const handler = "data:text/javascript," + encodeURIComponent(
 *   "export default { fetch: (_req, info) => new Response(`hi from ${info.workerId}`) };",
 * );
 * await using server = await serve({
 *   handler,
 *   workers: 2,
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   handleSignals: false,
 *   onListen: () => {},
 * });
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * assert.match(await response.text(), /^hi from [12]$/);
 * ```
 *
 * @module
 */

export * from "./src/errors.ts";
export * from "./src/ring_buffer.ts";
export * from "./src/thread_pool.ts";
export * from "./src/server.ts";
export * from "./src/static_files.ts";
export * from "./src/websocket.ts";

if (import.meta.main) {
  // Loaded only here, so importing the library never loads the CLI.
  const { main } = await import("./src/cli.ts");
  // `deno run -A mod.ts [handler.ts] [--port 8080 ...]`: the book's demo
  // server, or the given handler module, on a pool of worker threads. The
  // process ends by itself once the server has shut down; only a failure
  // sets a non-zero exit code.
  Deno.exitCode = await main(Deno.args);
}
