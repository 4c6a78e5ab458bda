/**
 * A bounded multi-producer multi-consumer queue of integers in a
 * `SharedArrayBuffer`, shared between the main thread and worker threads.
 *
 * The fast path is Dmitry Vyukov's bounded MPMC queue: every cell carries a
 * sequence number that tells producers and consumers whose turn it is, so a
 * push or a pop is one compare-and-swap on a position counter plus one store
 * that publishes the cell. Waiting is layered on top with two epoch words
 * that only move when somebody sleeps.
 *
 * @module
 */

import { isMainThread } from "node:worker_threads";
import { RingClosedError } from "./errors.ts";

// Shared memory layout, in Int32 words. HEAD and TAIL sit on their own
// 64-byte cache lines so producers and consumers do not false-share.
//
//   word 0        HEAD               next position to claim for a push (mod 2^32)
//   word 16       TAIL               next position to claim for a pop  (mod 2^32)
//   word 32       CLOSED             0 open, 1 closed
//   word 33       ACTIVE_PRODUCERS   pushes between their closed-check and their publish
//   word 34       ITEM_EPOCH         bumped when an item (or close) may wake consumers
//   word 35       SPACE_EPOCH        bumped when space (or close) may wake producers
//   word 36       SLEEPING_CONSUMERS consumers between announcing sleep and waking
//   word 37       SLEEPING_PRODUCERS producers between announcing sleep and waking
//   word 38       CAPACITY           number of cells, a power of two
//   word 39       MAGIC              identifies the layout for RingBuffer.from()
//   word 48 + 2i  cell i: SEQUENCE, then word 49 + 2i: VALUE
const HEAD = 0;
const TAIL = 16;
const CLOSED = 32;
const ACTIVE_PRODUCERS = 33;
const ITEM_EPOCH = 34;
const SPACE_EPOCH = 35;
const SLEEPING_CONSUMERS = 36;
const SLEEPING_PRODUCERS = 37;
const CAPACITY = 38;
const MAGIC = 39;
const CELLS = 48;
const MAGIC_VALUE = 0x52494e47; // "RING"
const MAX_CAPACITY = 1 << 24;

/** The largest value a ring can carry. */
export const RING_VALUE_MAX = 0x7fffffff;

/** Options for {@linkcode RingBuffer}. */
export interface RingBufferOptions {
  /**
   * The position counters start here instead of 0. Only useful for testing
   * wrap-around of the 32-bit counters; any integer is taken modulo 2^32.
   *
   * @default {0}
   */
  startIndex?: number;
}

/** Options for {@linkcode RingBuffer.popAsync}. */
export interface PopAsyncOptions {
  /** Rejects the pending pop with `signal.reason`; no item is taken after an abort. */
  signal?: AbortSignal;
  /**
   * Give up after this many milliseconds and resolve `undefined`.
   *
   * @default {Infinity}
   */
  timeoutMs?: number;
}

// Set by RingBuffer.from() for the duration of one constructor call, so the
// constructor can adopt existing memory instead of allocating.
let adopting: SharedArrayBuffer | undefined;

/** True on the process's main thread, where `Atomics.wait` must never block. */
const onMainThread: boolean = isMainThread &&
  typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope ===
    "undefined";

/**
 * A bounded, lock-free, multi-producer multi-consumer queue of integers
 * (`0` … `2^31 - 1`) in a `SharedArrayBuffer`.
 *
 * Allocate it once with `new RingBuffer(capacity)`, send
 * {@linkcode RingBuffer.buffer} to other threads, and wrap it there with
 * {@linkcode RingBuffer.from}. `tryPush`/`tryPop` never block;
 * `push`/`pop` sleep in `Atomics.wait` and are for workers only;
 * `popAsync` sleeps in `Atomics.waitAsync` and is safe on the main thread.
 *
 * A push or pop may report "full" or "empty" for a moment while another
 * thread sits between claiming a cell and publishing it, so size rings for
 * about twice what can be in flight and always check `tryPush`'s result.
 *
 * @example Push and pop on one thread
 * ```ts
 * import { RingBuffer } from "@ringpool/ringpool";
 * import assert from "node:assert/strict";
 *
 * const ring = new RingBuffer(4);
 * assert.equal(ring.tryPush(7), true);
 * assert.equal(ring.tryPop(), 7);
 * assert.equal(ring.tryPop(), undefined);
 * ```
 *
 * @example Share the ring with another thread
 * ```ts
 * import { RingBuffer } from "@ringpool/ringpool";
 * import assert from "node:assert/strict";
 *
 * const ring = new RingBuffer(8);
 * // In a worker: const same = RingBuffer.from(buffer);
 * const same = RingBuffer.from(ring.buffer);
 * ring.tryPush(1);
 * assert.equal(same.tryPop(), 1);
 * ```
 */
export class RingBuffer {
  readonly #buffer: SharedArrayBuffer;
  readonly #words: Int32Array;
  readonly #mask: number;
  readonly #capacity: number;

  /**
   * How many times `pop`/`push` retry before they sleep. Spinning trades CPU
   * for a faster hand-off when the other side answers within microseconds.
   * Local to this wrapper, not shared.
   *
   * @default {0}
   */
  spin = 0;

  /**
   * Allocates a ring in a new `SharedArrayBuffer`.
   *
   * @param capacity How many items it holds: a power of two from 2 to 2^24.
   * @param options Test-only settings.
   * @throws {RangeError} If `capacity` is not a power of two in range.
   */
  constructor(capacity: number, options: RingBufferOptions = {}) {
    if (adopting !== undefined) {
      this.#buffer = adopting;
      this.#words = new Int32Array(adopting);
      this.#capacity = capacity;
      this.#mask = capacity - 1;
      return;
    }
    if (
      !Number.isInteger(capacity) || capacity < 2 || capacity > MAX_CAPACITY ||
      (capacity & (capacity - 1)) !== 0
    ) {
      throw new RangeError(
        `Cannot create ring buffer as 'capacity' must be a power of two from 2 to ${MAX_CAPACITY}: received ${capacity}`,
      );
    }
    const start = options.startIndex ?? 0;
    if (!Number.isSafeInteger(start)) {
      throw new RangeError(
        `Cannot create ring buffer as 'startIndex' must be a safe integer: received ${start}`,
      );
    }
    const buffer = new SharedArrayBuffer((CELLS + 2 * capacity) * 4);
    const words = new Int32Array(buffer);
    const first = start | 0;
    words[HEAD] = first;
    words[TAIL] = first;
    words[CAPACITY] = capacity;
    // Vyukov: the cell of position p is free for the push of p when seq == p.
    for (let i = 0; i < capacity; i++) {
      const position = (first + i) | 0;
      words[CELLS + 2 * (position & (capacity - 1))] = position;
    }
    words[MAGIC] = MAGIC_VALUE;
    this.#buffer = buffer;
    this.#words = words;
    this.#capacity = capacity;
    this.#mask = capacity - 1;
  }

  /**
   * Wraps the memory of a ring allocated elsewhere (usually on another
   * thread) without copying it.
   *
   * @param buffer The {@linkcode RingBuffer.buffer} of an existing ring.
   * @returns A ring that shares `buffer`.
   * @throws {TypeError} If `buffer` was not made by `new RingBuffer()`.
   *
   * @example Wrap a ring's memory
   * ```ts
   * import { RingBuffer } from "@ringpool/ringpool";
   * import assert from "node:assert/strict";
   *
   * const ring = new RingBuffer(2);
   * assert.equal(RingBuffer.from(ring.buffer).capacity, 2);
   * ```
   */
  static from(buffer: SharedArrayBuffer): RingBuffer {
    if (
      !(buffer instanceof SharedArrayBuffer) || buffer.byteLength < CELLS * 4
    ) {
      throw new TypeError(
        "Cannot wrap ring buffer as 'buffer' must be the SharedArrayBuffer of a RingBuffer",
      );
    }
    const words = new Int32Array(buffer);
    const capacity = Atomics.load(words, CAPACITY);
    if (
      Atomics.load(words, MAGIC) !== MAGIC_VALUE ||
      buffer.byteLength !== (CELLS + 2 * capacity) * 4
    ) {
      throw new TypeError(
        "Cannot wrap ring buffer as 'buffer' does not hold a RingBuffer layout",
      );
    }
    adopting = buffer;
    try {
      return new RingBuffer(capacity);
    } finally {
      adopting = undefined;
    }
  }

  /** The shared memory; send it to another thread and wrap it with {@linkcode RingBuffer.from}. */
  get buffer(): SharedArrayBuffer {
    return this.#buffer;
  }

  /** How many items the ring holds at most. */
  get capacity(): number {
    return this.#capacity;
  }

  /** About how many items are in the ring now (exact when no thread is mid-operation). */
  get length(): number {
    const size = (Atomics.load(this.#words, HEAD) -
      Atomics.load(this.#words, TAIL)) | 0;
    return size < 0 ? 0 : size > this.#capacity ? this.#capacity : size;
  }

  /** Whether {@linkcode RingBuffer.close} was called, on any thread. */
  get closed(): boolean {
    return Atomics.load(this.#words, CLOSED) === 1;
  }

  /**
   * Adds `value` if there is room, without blocking.
   *
   * @param value An integer from 0 to 2^31 - 1.
   * @returns `true` if the value was added, `false` if the ring was full.
   * @throws {RangeError} If `value` is out of range.
   * @throws {RingClosedError} If the ring is closed; the value was not added.
   *
   * @example Fill a ring
   * ```ts
   * import { RingBuffer } from "@ringpool/ringpool";
   * import assert from "node:assert/strict";
   *
   * const ring = new RingBuffer(2);
   * assert.equal(ring.tryPush(1), true);
   * assert.equal(ring.tryPush(2), true);
   * assert.equal(ring.tryPush(3), false);
   * ```
   */
  tryPush(value: number): boolean {
    if ((value >>> 0) !== value || value > RING_VALUE_MAX) {
      throw new RangeError(
        `Cannot push into ring buffer as the value must be an integer from 0 to ${RING_VALUE_MAX}: received ${value}`,
      );
    }
    const words = this.#words;
    // Announce the push before checking CLOSED: a consumer that sees CLOSED
    // and then ACTIVE_PRODUCERS == 0 knows no accepted push is still landing.
    Atomics.add(words, ACTIVE_PRODUCERS, 1);
    let pushed = false;
    try {
      if (Atomics.load(words, CLOSED) === 1) {
        throw new RingClosedError();
      }
      pushed = this.#claimAndPublish(value);
    } finally {
      Atomics.sub(words, ACTIVE_PRODUCERS, 1);
      // A consumer may be waiting for this push to land or be refused.
      if (Atomics.load(words, CLOSED) === 1) this.#wake(ITEM_EPOCH, Infinity);
    }
    // Only consumers that announced sleep need a wake-up (see #sleep).
    if (pushed && Atomics.load(words, SLEEPING_CONSUMERS) > 0) {
      this.#wake(ITEM_EPOCH, 1);
    }
    return pushed;
  }

  #claimAndPublish(value: number): boolean {
    const words = this.#words;
    let position = Atomics.load(words, HEAD);
    for (;;) {
      const cell = CELLS + 2 * (position & this.#mask);
      const difference = (Atomics.load(words, cell) - position) | 0;
      if (difference === 0) {
        const seen = Atomics.compareExchange(
          words,
          HEAD,
          position,
          (position + 1) | 0,
        );
        if (seen === position) {
          words[cell + 1] = value;
          // Publishing store: the consumer's load of seq orders the value read after it.
          Atomics.store(words, cell, (position + 1) | 0);
          return true;
        }
        position = seen;
      } else if (difference < 0) {
        return false; // the cell still holds an item from a lap ago: full
      } else {
        position = Atomics.load(words, HEAD);
      }
    }
  }

  /**
   * Takes the oldest value if there is one, without blocking.
   *
   * @returns The value, or `undefined` if the ring was empty.
   *
   * @example Pop from an empty ring
   * ```ts
   * import { RingBuffer } from "@ringpool/ringpool";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new RingBuffer(2).tryPop(), undefined);
   * ```
   */
  tryPop(): number | undefined {
    const words = this.#words;
    let position = Atomics.load(words, TAIL);
    for (;;) {
      const cell = CELLS + 2 * (position & this.#mask);
      const difference = (Atomics.load(words, cell) - ((position + 1) | 0)) | 0;
      if (difference === 0) {
        const seen = Atomics.compareExchange(
          words,
          TAIL,
          position,
          (position + 1) | 0,
        );
        if (seen === position) {
          const value = words[cell + 1]!;
          // Hand the cell to the push one lap ahead.
          Atomics.store(words, cell, (position + this.#capacity) | 0);
          if (Atomics.load(words, SLEEPING_PRODUCERS) > 0) {
            this.#wake(SPACE_EPOCH, 1);
          }
          return value;
        }
        position = seen;
      } else if (difference < 0) {
        return undefined; // not yet published: empty
      } else {
        position = Atomics.load(words, TAIL);
      }
    }
  }

  /**
   * Adds `value`, sleeping in `Atomics.wait` while the ring is full.
   * For worker threads only.
   *
   * @param value An integer from 0 to 2^31 - 1.
   * @param timeoutMs Give up after this many milliseconds.
   * @returns `true` if added, `false` if the timeout passed first.
   * @throws {Error} On the main thread, which must never block.
   * @throws {RingClosedError} If the ring is or becomes closed.
   *
   * @example Push from a worker
   * ```ts ignore
   * const ring = RingBuffer.from(buffer);
   * ring.push(42); // waits for room
   * ```
   */
  push(value: number, timeoutMs: number = Infinity): boolean {
    assertMayBlock("push");
    const deadline = performance.now() + timeoutMs;
    for (let spins = this.spin;;) {
      if (this.tryPush(value)) return true;
      if (spins-- > 0) continue;
      const epoch = Atomics.load(this.#words, SPACE_EPOCH);
      Atomics.add(this.#words, SLEEPING_PRODUCERS, 1);
      try {
        if (this.tryPush(value)) return true;
        const left = deadline - performance.now();
        if (left <= 0) return false;
        Atomics.wait(this.#words, SPACE_EPOCH, epoch, left);
      } finally {
        Atomics.sub(this.#words, SLEEPING_PRODUCERS, 1);
      }
    }
  }

  /**
   * Takes the oldest value, sleeping in `Atomics.wait` while the ring is
   * empty. For worker threads only.
   *
   * @param timeoutMs Give up after this many milliseconds.
   * @returns The value, or `undefined` if the ring is closed and drained or
   * the timeout passed.
   * @throws {Error} On the main thread, which must never block.
   *
   * @example A worker's job loop
   * ```ts ignore
   * const jobs = RingBuffer.from(buffer);
   * for (let job; (job = jobs.pop()) !== undefined;) run(job);
   * // the ring was closed and every job taken: exit
   * ```
   */
  pop(timeoutMs: number = Infinity): number | undefined {
    assertMayBlock("pop");
    const deadline = performance.now() + timeoutMs;
    for (let spins = this.spin;;) {
      const value = this.tryPop();
      if (value !== undefined) return value;
      if (spins-- > 0) continue;
      const epoch = Atomics.load(this.#words, ITEM_EPOCH);
      Atomics.add(this.#words, SLEEPING_CONSUMERS, 1);
      try {
        const again = this.tryPop();
        if (again !== undefined) return again;
        if (this.#drained()) return undefined;
        const left = deadline - performance.now();
        if (left <= 0) return undefined;
        Atomics.wait(this.#words, ITEM_EPOCH, epoch, left);
      } finally {
        Atomics.sub(this.#words, SLEEPING_CONSUMERS, 1);
      }
    }
  }

  /**
   * Takes the oldest value, waiting with `Atomics.waitAsync` while the ring
   * is empty. Safe on the main thread. `Atomics.waitAsync` does not keep
   * Deno's event loop alive, so something else must while you wait.
   *
   * @param options An abort signal and a timeout.
   * @returns The value, or `undefined` if the ring is closed and drained or
   * the timeout passed.
   * @throws {unknown} `signal.reason` if the signal aborts; no value is taken
   * after that.
   *
   * @example Wait for a value on the main thread
   * ```ts
   * import { RingBuffer } from "@ringpool/ringpool";
   * import assert from "node:assert/strict";
   *
   * const ring = new RingBuffer(2);
   * const next = ring.popAsync();
   * ring.tryPush(5);
   * assert.equal(await next, 5);
   * ```
   */
  async popAsync(options: PopAsyncOptions = {}): Promise<number | undefined> {
    const { signal, timeoutMs = Infinity } = options;
    const deadline = performance.now() + timeoutMs;
    const words = this.#words;
    for (;;) {
      signal?.throwIfAborted();
      const value = this.tryPop();
      if (value !== undefined) return value;
      const epoch = Atomics.load(words, ITEM_EPOCH);
      Atomics.add(words, SLEEPING_CONSUMERS, 1);
      let asleep = true;
      try {
        const again = this.tryPop();
        if (again !== undefined) return again;
        if (this.#drained()) return undefined;
        const left = deadline - performance.now();
        if (left <= 0) return undefined;
        const waiting = Atomics.waitAsync(words, ITEM_EPOCH, epoch, left);
        if (waiting.async) {
          if (signal === undefined) {
            await waiting.value;
          } else {
            await abortable(waiting.value, signal);
          }
        }
      } catch (error) {
        Atomics.sub(words, SLEEPING_CONSUMERS, 1);
        asleep = false;
        // Our abandoned waitAsync is still queued on ITEM_EPOCH and could
        // swallow a producer's single notify; wake everyone so it is flushed.
        this.#wake(ITEM_EPOCH, Infinity);
        throw error;
      } finally {
        if (asleep) Atomics.sub(words, SLEEPING_CONSUMERS, 1);
      }
    }
  }

  /**
   * Closes the ring: later pushes throw {@linkcode RingClosedError}, items
   * already in it can still be popped, and every sleeping thread wakes. Once
   * closed and empty, `pop` and `popAsync` return `undefined` at once.
   * Closing twice is safe.
   *
   * @example Drain a closed ring
   * ```ts
   * import { RingBuffer } from "@ringpool/ringpool";
   * import assert from "node:assert/strict";
   *
   * const ring = new RingBuffer(2);
   * ring.tryPush(1);
   * ring.close();
   * assert.equal(ring.tryPop(), 1);
   * assert.equal(await ring.popAsync(), undefined);
   * ```
   */
  close(): void {
    Atomics.store(this.#words, CLOSED, 1);
    this.#wake(ITEM_EPOCH, Infinity);
    this.#wake(SPACE_EPOCH, Infinity);
  }

  /** Closed, no push still landing, and nothing left to pop. */
  #drained(): boolean {
    const words = this.#words;
    return Atomics.load(words, CLOSED) === 1 &&
      Atomics.load(words, ACTIVE_PRODUCERS) === 0 &&
      Atomics.load(words, HEAD) === Atomics.load(words, TAIL);
  }

  // The sleeper loads the epoch, announces itself, re-checks, then waits on
  // that epoch; so bumping the epoch before notifying can never be missed.
  #wake(epochWord: number, count: number): void {
    Atomics.add(this.#words, epochWord, 1);
    Atomics.notify(this.#words, epochWord, count);
  }
}

function assertMayBlock(method: string): void {
  if (onMainThread) {
    throw new Error(
      `Cannot call RingBuffer.${method}() on the main thread as it would block the event loop: use try${
        method[0]!.toUpperCase() + method.slice(1)
      }() or popAsync() instead`,
    );
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    // Remove the listener when the wait settles so we do not leak it.
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}
