/**
 * ringpool: serve HTTP on a pool of worker threads, coordinated through a
 * lock-free ring buffer in shared memory.
 *
 * - {@linkcode RingBuffer}: a bounded MPMC queue of integers in a
 *   `SharedArrayBuffer`; workers sleep in `Atomics.wait`, the main thread
 *   waits with `Atomics.waitAsync`.
 *
 * @example Queue integers between threads
 * ```ts
 * import { RingBuffer } from "@ringpool/ringpool";
 * import assert from "node:assert/strict";
 *
 * const ring = new RingBuffer(8);
 * ring.tryPush(42);
 * assert.equal(ring.tryPop(), 42);
 * ```
 *
 * @module
 */

export * from "./src/errors.ts";
export * from "./src/ring_buffer.ts";
export * from "./src/thread_pool.ts";
export * from "./src/server.ts";
export * from "./src/static_files.ts";

import { main } from "./src/cli.ts";

if (import.meta.main) {
  // `deno run -A mod.ts [handler.ts] [--port 8080 ...]`: the book's demo
  // server, or the given handler module, on a pool of worker threads. The
  // process ends by itself once the server has shut down; only a failure
  // sets a non-zero exit code.
  Deno.exitCode = await main(Deno.args);
}
