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
