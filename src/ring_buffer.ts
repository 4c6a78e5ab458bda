/**
 * A bounded multi-producer multi-consumer queue of integers in a
 * `SharedArrayBuffer`, shared between the main thread and worker threads.
 *
 * The fast path is Dmitry Vyukov's bounded MPMC queue: every cell carries a
 * sequence number that tells producers and consumers whose turn it is, so a
 * push or a pop is one compare-and-swap on a position counter plus one store
 * that publishes the cell. Waiting is layered on top with two epoch words
 * that only move when somebody sleeps, and closing needs no extra
 * read-modify-write on the fast path (see {@linkcode RingBuffer.tryPush}).
 *
 * @module
 */

import { isMainThread } from "node:worker_threads";
import { RingClosedError } from "./errors.ts";

// Shared memory layout, in Int32 words. HEAD and TAIL sit on their own
// 64-byte cache lines so producers and consumers do not false-share; the
// control line (words 32-47) is read on every operation but written only
// when a thread sleeps, wakes another, or closes the ring.
//
//   word  0 ┌──────────────────────────┐
//           │ HEAD                     │ next position a push claims (mod 2^32)
//   word 16 ├──────────────────────────┤
//           │ TAIL                     │ next position a pop claims (mod 2^32)
//   word 32 ├──────────────────────────┤
//           │ CLOSED                   │ 0 open, 1 closed (never reopens)
//   word 33 │ ITEM_EPOCH               │ bumped before waking consumers
//   word 34 │ SPACE_EPOCH              │ bumped before waking producers
//   word 35 │ SLEEPING_CONSUMERS       │ consumers between announcing sleep and waking
//   word 36 │ SLEEPING_PRODUCERS       │ producers between announcing sleep and waking
//   word 37 │ CAPACITY                 │ number of cells, a power of two
//   word 38 │ MAGIC                    │ identifies the layout for RingBuffer.from()
//   word 48 ├──────────────────────────┤
//           │ cell 0: SEQUENCE, VALUE  │ position p lives in cell p & (capacity - 1):
//           │ cell 1: SEQUENCE, VALUE  │   SEQUENCE == p      free for the push of p
//           │ …                        │   SEQUENCE == p + 1  holds the item of p
//           └──────────────────────────┘   VALUE == TOMBSTONE  a push refused by close
const HEAD = 0;
const TAIL = 16;
const CLOSED = 32;
const ITEM_EPOCH = 33;
const SPACE_EPOCH = 34;
const SLEEPING_CONSUMERS = 35;
const SLEEPING_PRODUCERS = 36;
const CAPACITY = 37;
const MAGIC = 38;
const CELLS = 48;
const MAGIC_VALUE = 0x52494e47; // "RING"
const MAX_CAPACITY = 1 << 24;
// Fills a cell that a push claimed but then refused because the ring was
// closed meanwhile; pops skip it. Real values are never negative.
const TOMBSTONE = -1;

/** The largest value a ring can carry: `2^31 - 1`. */
export const RING_VALUE_MAX = 0x7fffffff;

/** Options for {@linkcode RingBuffer}. */
export interface RingBufferOptions {
  /**
   * The position counters start here instead of 0. Only useful for testing
   * wrap-around of the 32-bit counters; any safe integer is taken modulo
   * 2^32.
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
   * Give up after this many milliseconds and resolve `undefined`. A finite
   * timeout keeps the event loop alive while waiting.
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

/** A rejection for popAsync-like calls with bad options or an aborted signal. */
function refusal(
  method: string,
  options: PopAsyncOptions,
): Promise<never> | undefined {
  try {
    checkTimeout(method, options.timeoutMs ?? Infinity);
    options.signal?.throwIfAborted();
  } catch (error) {
    return Promise.reject(error);
  }
  return undefined;
}

/** Whether the value at the tail is published (a pop would take it now). */
function published(words: Int32Array, mask: number): boolean {
  const position = Atomics.load(words, TAIL);
  const cell = CELLS + 2 * (position & mask);
  return Atomics.load(words, cell) === ((position + 1) | 0);
}

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
 * Every value is delivered exactly once, and values pushed by one thread
 * are popped in the order it pushed them. A push or pop may report "full"
 * or "empty" for a moment while another thread sits between claiming a
 * cell and publishing it, so size rings for about twice what can be in
 * flight and always check `tryPush`'s result.
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
   * How many extra times `pop`/`push` retry before they sleep. Spinning
   * trades CPU for a faster hand-off when the other side answers within
   * microseconds. Local to this wrapper, not shared.
   *
   * The default is 0, measured with `deno run -A bench/ring.ts` (an
   * unpipelined ping-pong between two workers on a 2-core machine): when
   * both cores were idle, spin 100-1000 cut the round trip from about 6 µs
   * to 0.3-1 µs; when the cores were busy with other work, spin 100 gained
   * nothing (9-16 µs against 6-19 µs) and spin 1000 was 3-5 times slower
   * (29-70 µs), because a spinning thread holds the core its partner needs
   * to answer. A pool usually has as many workers as cores plus a busy
   * main thread, so spinning is opt-in: raise it when threads have cores
   * to spare and latency matters more than CPU.
   *
   * @default {0}
   */
  spin = 0;

  /**
   * Allocates a ring in a new `SharedArrayBuffer`.
   *
   * @param capacity How many items it holds: a power of two from 2 to 2^24.
   * @param options Test-only settings.
   * @throws {RangeError} If `capacity` is not a power of two in range, or
   * `startIndex` is not a safe integer.
   */
  constructor(capacity: number, options: RingBufferOptions = {}) {
    if (adopting !== undefined) {
      this.#buffer = adopting;
      this.#words = new Int32Array(adopting);
      this.#capacity = capacity;
      this.#mask = capacity - 1;
      return;
    }
    if (!isValidCapacity(capacity)) {
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
    // ToInt32 of a safe integer is the integer modulo 2^32, as the option says.
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
        "Cannot wrap ring buffer as 'buffer' must be the SharedArrayBuffer of a RingBuffer: pass ring.buffer",
      );
    }
    const words = new Int32Array(buffer);
    const capacity = Atomics.load(words, CAPACITY);
    if (
      Atomics.load(words, MAGIC) !== MAGIC_VALUE ||
      !isValidCapacity(capacity) ||
      buffer.byteLength !== (CELLS + 2 * capacity) * 4
    ) {
      throw new TypeError(
        "Cannot wrap ring buffer as 'buffer' does not hold a RingBuffer layout: pass ring.buffer",
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

  /**
   * About how many items are in the ring now: exact when no thread is in
   * the middle of an operation (after a close it may count pushes that
   * were refused but not yet skipped by a pop).
   */
  get length(): number {
    const size = (Atomics.load(this.#words, HEAD) -
      Atomics.load(this.#words, TAIL)) | 0;
    return size < 0 ? 0 : size > this.#capacity ? this.#capacity : size;
  }

  /** Whether {@linkcode RingBuffer.close} was called, on any thread. */
  get closed(): boolean {
    return Atomics.load(this.#words, CLOSED) !== 0;
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
    // Checked first only so that a full, closed ring still reports closed;
    // the check that makes close safe is the one after the claim.
    if (Atomics.load(words, CLOSED) !== 0) throw new RingClosedError();
    let position = Atomics.load(words, HEAD);
    let cell: number;
    for (;;) {
      cell = CELLS + 2 * (position & this.#mask);
      const difference = (Atomics.load(words, cell) - position) | 0;
      if (difference === 0) {
        const seen = Atomics.compareExchange(
          words,
          HEAD,
          position,
          (position + 1) | 0,
        );
        if (seen === position) break;
        position = seen;
      } else if (difference < 0) {
        return false; // the cell still holds an item from a lap ago: full
      } else {
        position = Atomics.load(words, HEAD); // another push got here first
      }
    }
    // The claim (HEAD CAS) comes before this load, and a consumer that
    // decides the ring is drained loads CLOSED before HEAD. So either that
    // consumer sees our claim and waits for the cell, or we see CLOSED
    // here and refuse. This is what lets close() race pushes without an
    // "active producers" counter on the fast path.
    if (Atomics.load(words, CLOSED) !== 0) {
      words[cell + 1] = TOMBSTONE;
      Atomics.store(words, cell, (position + 1) | 0);
      // Consumers that saw HEAD != TAIL sleep until this cell is published.
      this.#wake(ITEM_EPOCH, Infinity);
      throw new RingClosedError();
    }
    words[cell + 1] = value;
    // Publishing store: the consumer's load of seq orders the value read
    // after it. Being seq-cst it also orders the SLEEPING_CONSUMERS load
    // below after it (Dekker with the sleeper's add-then-retry in #popSlow).
    Atomics.store(words, cell, (position + 1) | 0);
    if (Atomics.load(words, SLEEPING_CONSUMERS) !== 0) {
      // After close, consumers also sleep while HEAD != TAIL, waiting for
      // this very cell; if one wake-up went to a consumer that takes the
      // item, the others would never learn the ring is drained. So once
      // closed, wake them all (found by tests/ring_model_test.ts).
      this.#wake(
        ITEM_EPOCH,
        Atomics.load(words, CLOSED) !== 0 ? Infinity : 1,
      );
    }
    return true;
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
          // Hand the cell to the push one lap ahead; seq-cst, so the
          // SLEEPING_PRODUCERS load below cannot move before it.
          Atomics.store(words, cell, (position + this.#capacity) | 0);
          if (Atomics.load(words, SLEEPING_PRODUCERS) !== 0) {
            this.#wake(SPACE_EPOCH, 1);
          }
          if (value !== TOMBSTONE) return value;
          position = Atomics.load(words, TAIL); // skip a refused push
        } else {
          position = seen;
        }
      } else if (difference < 0) {
        return undefined; // not yet published: empty
      } else {
        position = Atomics.load(words, TAIL); // another pop got here first
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
   * @throws {RangeError} If `value` or `timeoutMs` is out of range.
   * @throws {RingClosedError} If the ring is or becomes closed; the value
   * was not added.
   *
   * @example Push from a worker
   * ```ts ignore
   * const ring = RingBuffer.from(buffer);
   * ring.push(42); // waits for room
   * ```
   */
  push(value: number, timeoutMs: number = Infinity): boolean {
    assertMayBlock("push");
    if (this.tryPush(value)) return true;
    return this.#pushSlow(value, checkTimeout("push", timeoutMs));
  }

  #pushSlow(value: number, timeoutMs: number): boolean {
    const words = this.#words;
    const deadline = performance.now() + timeoutMs;
    for (let spins = this.spin; spins > 0; spins--) {
      if (this.tryPush(value)) return true;
    }
    for (;;) {
      // Load the epoch before announcing and retrying: a pop that frees a
      // cell after our retry sees the announcement and bumps the epoch, so
      // the wait below returns at once instead of missing the wake-up.
      const epoch = Atomics.load(words, SPACE_EPOCH);
      Atomics.add(words, SLEEPING_PRODUCERS, 1);
      try {
        if (this.tryPush(value)) return true;
        const left = deadline - performance.now();
        if (left <= 0) return false;
        Atomics.wait(words, SPACE_EPOCH, epoch, left);
      } finally {
        Atomics.sub(words, SLEEPING_PRODUCERS, 1);
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
   * @throws {RangeError} If `timeoutMs` is negative or not a number.
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
    const value = this.tryPop();
    if (value !== undefined) return value;
    return this.#popSlow(checkTimeout("pop", timeoutMs));
  }

  #popSlow(timeoutMs: number): number | undefined {
    const words = this.#words;
    const deadline = performance.now() + timeoutMs;
    for (let spins = this.spin; spins > 0; spins--) {
      const value = this.tryPop();
      if (value !== undefined) return value;
    }
    for (;;) {
      // Same order as #pushSlow: epoch, announce, retry, then wait.
      const epoch = Atomics.load(words, ITEM_EPOCH);
      Atomics.add(words, SLEEPING_CONSUMERS, 1);
      const value = this.tryPop();
      let left = 0;
      if (value === undefined && !this.#drained()) {
        left = deadline - performance.now();
        if (left > 0) Atomics.wait(words, ITEM_EPOCH, epoch, left);
      }
      Atomics.sub(words, SLEEPING_CONSUMERS, 1);
      if (value !== undefined) return value;
      if (left <= 0) return undefined; // drained, or out of time
    }
  }

  /**
   * Takes the oldest value, waiting with `Atomics.waitAsync` while the ring
   * is empty. Safe on the main thread. `Atomics.waitAsync` does not keep
   * Deno's event loop alive, so without a finite `timeoutMs` something else
   * (a ref'd worker, a server) must keep it alive while you wait.
   *
   * @param options An abort signal and a timeout.
   * @returns The value, or `undefined` if the ring is closed and drained or
   * the timeout passed.
   * @throws {unknown} `signal.reason` if the signal aborts; no value is taken
   * after that.
   * @throws {RangeError} If `timeoutMs` is negative or not a number.
   *
   * @example Wait for a value on the main thread
   * ```ts
   * import { RingBuffer } from "@ringpool/ringpool";
   * import assert from "node:assert/strict";
   *
   * const ring = new RingBuffer(2);
   * const next = ring.popAsync({ timeoutMs: 1000 });
   * ring.tryPush(5);
   * assert.equal(await next, 5);
   * ```
   */
  popAsync(options: PopAsyncOptions = {}): Promise<number | undefined> {
    const { signal, timeoutMs = Infinity } = options;
    const refused = refusal("popAsync", options);
    if (refused !== undefined) return refused;
    const value = this.tryPop();
    if (value !== undefined || timeoutMs === 0) {
      return Promise.resolve(value);
    }
    return this.#waitAsync(signal, timeoutMs, true);
  }

  /**
   * Waits, like {@linkcode RingBuffer.popAsync}, until the ring holds a
   * value, but takes none: for a consumer that must take it synchronously
   * (say, to note which value it holds before anything can interrupt it).
   * Another consumer may take the value first; then call `tryPop()` and,
   * finding nothing, wait again.
   *
   * @param options An abort signal and a timeout.
   * @returns `true` once a value is there, `false` if the ring is closed and
   * drained or the timeout passed.
   * @throws {unknown} `signal.reason` if the signal aborts.
   * @throws {RangeError} If `timeoutMs` is negative or not a number.
   *
   * @example Wait, then take the value synchronously
   * ```ts
   * import { RingBuffer } from "@ringpool/ringpool";
   * import assert from "node:assert/strict";
   *
   * const ring = new RingBuffer(2);
   * const ready = ring.waitForValueAsync({ timeoutMs: 1000 });
   * ring.tryPush(5);
   * assert.equal(await ready, true);
   * assert.equal(ring.tryPop(), 5);
   * ```
   */
  waitForValueAsync(options: PopAsyncOptions = {}): Promise<boolean> {
    const { signal, timeoutMs = Infinity } = options;
    const refused = refusal("waitForValueAsync", options);
    if (refused !== undefined) return refused;
    const there = published(this.#words, this.#mask);
    if (there || timeoutMs === 0) return Promise.resolve(there);
    return this.#waitAsync(signal, timeoutMs, false).then((value) =>
      value !== undefined
    );
  }

  /**
   * popAsync's wait, which takes the value (`take`) or only sees it there
   * (then resolves 0 for "there" and `undefined` for "closed or timed out").
   */
  async #waitAsync(
    signal: AbortSignal | undefined,
    timeoutMs: number,
    take: boolean,
  ): Promise<number | undefined> {
    const words = this.#words;
    let timedOut = false;
    let interrupt: (() => void) | undefined;
    const onAbort = () => interrupt?.();
    signal?.addEventListener("abort", onAbort, { once: true });
    // A ref'd timer, unlike a timeout given to Atomics.waitAsync, keeps the
    // event loop alive (denoland/deno#15358).
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => {
        timedOut = true;
        interrupt?.();
      }, timeoutMs)
      : undefined;
    try {
      for (;;) {
        // Checked before every tryPop: nothing is taken after an abort.
        signal?.throwIfAborted();
        const epoch = Atomics.load(words, ITEM_EPOCH);
        Atomics.add(words, SLEEPING_CONSUMERS, 1);
        let interrupted = false;
        try {
          if (take) {
            const value = this.tryPop();
            if (value !== undefined) return value;
          } else if (published(words, this.#mask)) return 0;
          if (timedOut || this.#drained()) return undefined;
          const waiting = Atomics.waitAsync(words, ITEM_EPOCH, epoch);
          if (waiting.async) {
            await new Promise<void>((resolve) => {
              interrupt = resolve;
              waiting.value.then(() => resolve());
            });
            interrupt = undefined;
            interrupted = timedOut || signal?.aborted === true;
          }
        } finally {
          Atomics.sub(words, SLEEPING_CONSUMERS, 1);
        }
        if (interrupted) {
          // Our waiter may still be queued on ITEM_EPOCH and swallow a
          // producer's single notify, or it was woken for an item we will
          // not take now: wake everyone so no other consumer misses it.
          this.#wake(ITEM_EPOCH, Infinity);
        }
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
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

  /**
   * Closed and every claimed position consumed. CLOSED is loaded before
   * HEAD: a push that claims after our HEAD load sees CLOSED and refuses
   * (see tryPush), and a push that claimed before it keeps HEAD != TAIL
   * until its cell (item or tombstone) is popped.
   */
  #drained(): boolean {
    const words = this.#words;
    return Atomics.load(words, CLOSED) !== 0 &&
      Atomics.load(words, HEAD) === Atomics.load(words, TAIL);
  }

  // The sleeper loads the epoch, announces itself, re-checks, then waits on
  // that epoch; so bumping the epoch before notifying can never be missed.
  #wake(epochWord: number, count: number): void {
    Atomics.add(this.#words, epochWord, 1);
    Atomics.notify(this.#words, epochWord, count);
  }
}

function isValidCapacity(capacity: number): boolean {
  return Number.isInteger(capacity) && capacity >= 2 &&
    capacity <= MAX_CAPACITY && (capacity & (capacity - 1)) === 0;
}

function checkTimeout(method: string, timeoutMs: number): number {
  if (!(timeoutMs >= 0)) {
    throw new RangeError(
      `Cannot call RingBuffer.${method}() as 'timeoutMs' must be a non-negative number of milliseconds or Infinity: received ${timeoutMs}`,
    );
  }
  return timeoutMs;
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
