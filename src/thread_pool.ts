/**
 * A pool of worker threads that run the named exports of one module, with
 * jobs and completions handed over through {@linkcode RingBuffer}s in shared
 * memory: the Rust book's `ThreadPool`, done properly for JavaScript.
 *
 * @module
 */

import { resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import type {
  ResourceLimits,
  Transferable as NodeTransferable,
  Worker,
} from "node:worker_threads";
import {
  PoolClosedError,
  QueueFullError,
  WorkerExitedError,
} from "./errors.ts";
import { RingBuffer } from "./ring_buffer.ts";
import { spawnWorker } from "./_live_workers.ts";
import {
  decode,
  encodeInto,
  encodeText,
  FLAG_ERROR,
  FLAG_THROWN_VALUE,
  fromWireError,
  KIND_MASK,
  KIND_MESSAGE,
  type WireError,
} from "./_codec.ts";
import {
  CANCELLED,
  COMPLETED_COUNT,
  controlWords,
  DONE,
  FAILED_COUNT,
  FREE,
  type MainMessage,
  OWNER_SHIFT,
  type PoolWorkerData,
  QUEUED,
  QUEUED_COUNT,
  RUNNING,
  RUNNING_COUNT,
  S_NAME_LEN,
  S_REQ_KIND,
  S_REQ_LEN,
  S_RES_KIND,
  S_RES_LEN,
  S_STATE,
  SLOT_STRIDE,
  slotBase,
  STATE_MASK,
  W_COMPLETED,
  W_FAILED,
  W_ID,
  W_IN_FLIGHT,
  W_LOADED,
  type WorkerMessage,
  workerWord,
} from "./_pool_layout.ts";

// spawnWorker() wraps it in a data: module when this package is imported
// over http(s), as from JSR (node workers only start file: and data: URLs).
const WORKER_URL = new URL("./_pool_worker.ts", import.meta.url);
// A push that finds the job ring "full" only races another thread between
// claiming and publishing a cell (the ring holds twice the slots); retry.
const PUSH_SPINS = 64;

/** Options for {@linkcode ThreadPool}. */
export interface ThreadPoolOptions {
  /**
   * Worker threads.
   *
   * @default {navigator.hardwareConcurrency}
   */
  size?: number;
  /**
   * Jobs in flight per worker. Above 1 only helps async jobs: a worker
   * takes another job while earlier ones are awaiting.
   *
   * @default {1}
   */
  concurrency?: number;
  /**
   * Jobs that may wait for a worker, beyond the `size * concurrency` that
   * run. When they are all taken, `run` rejects with
   * {@linkcode QueueFullError}, or waits if called with `{ wait: true }`.
   *
   * @default {1024}
   */
  queueCapacity?: number;
  /**
   * Bytes of shared memory per job for its name, arguments and result.
   * Larger payloads travel with `postMessage` instead, which measured about
   * 4-7x slower per job here: raise this if your jobs move bigger values.
   * The pool allocates `slotSize * (queueCapacity + size * concurrency)`
   * bytes up front.
   *
   * @default {4096}
   */
  slotSize?: number;
  /** Heap limits of each worker; a worker that exceeds them is replaced. */
  resourceLimits?: ResourceLimits;
}

/** Options for {@linkcode ThreadPool.run}. */
export interface RunOptions {
  /**
   * Cancels the job: a queued job is removed, a running job's worker is
   * terminated and replaced (with `concurrency` above 1 its other jobs are
   * lost too and reject with {@linkcode WorkerExitedError}). The promise
   * rejects with `signal.reason`.
   */
  signal?: AbortSignal;
  /**
   * Objects in `args` to transfer instead of copy (`ArrayBuffer`s,
   * `MessagePort`s). Jobs with transferables use `postMessage`. Results
   * are always copied.
   */
  transfer?: Transferable[];
  /**
   * Wait for room when the queue is full instead of rejecting with
   * {@linkcode QueueFullError}.
   *
   * @default {false}
   */
  wait?: boolean;
}

/** One worker in {@linkcode ThreadPoolStats}. */
export interface WorkerStats {
  /** Pool-local id; a replacement worker gets a new one. */
  id: number;
  /** Jobs running on it now. */
  inFlight: number;
  /** Whether it runs at least one job. */
  busy: boolean;
  /** Jobs it completed. */
  completed: number;
  /** Jobs that threw on it. */
  failed: number;
}

/** Counters of a {@linkcode ThreadPool}, read from shared memory. */
export interface ThreadPoolStats {
  /** Jobs waiting for a worker. */
  queued: number;
  /** Jobs a worker is running. */
  running: number;
  /** Jobs that returned a value. */
  completed: number;
  /** Jobs that threw or were lost with their worker. */
  failed: number;
  /** Calls to `run(…, { wait: true })` waiting for room in the queue. */
  waiting: number;
  /** One entry per worker. */
  workers: WorkerStats[];
}

interface Job {
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  settled: boolean;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface Waiter {
  start(slot: number): void;
  reject(reason: unknown): void;
}

interface WorkerRecord {
  worker: Worker;
  id: number;
  index: number;
  ready: boolean;
  exited: boolean;
  error?: unknown;
}

/**
 * A fixed-size pool of `node:worker_threads` workers that all load one
 * module and run its exported functions as jobs.
 *
 * Jobs are slot ids pushed into a shared {@linkcode RingBuffer}; idle
 * workers sleep in `Atomics.wait` until one arrives. Arguments and results
 * travel in shared memory (JSON when plain, else `node:v8` serialization)
 * and fall back to `postMessage` when they do not fit a slot or carry
 * transferables.
 *
 * A job that throws rejects only its own promise, with an error of the same
 * name, message and stack text. A worker that dies (uncaught error,
 * unhandled rejection, `process.exit()`, out of memory) rejects its
 * in-flight jobs with {@linkcode WorkerExitedError} and is replaced.
 *
 * Relative module specifiers are resolved against the current working
 * directory; pass `new URL("./jobs.ts", import.meta.url)` to resolve one
 * against your own module.
 *
 * Workers are ref'd only while jobs are pending: an idle pool does not keep
 * the process alive, so close it (or use `await using`) when done.
 *
 * Caveats, measured on Deno 2.9: a worker that exceeds `resourceLimits`
 * inside an async job's continuation (after an `await`) hangs instead of
 * exiting (synchronous code is safe), so give such jobs a
 * `signal: AbortSignal.timeout(ms)` as a watchdog. Timers a finished job
 * leaves behind run late (within ~250 ms) on an idle worker, which sleeps
 * in `Atomics.wait`.
 *
 * @example Run jobs on worker threads
 * ```ts
 * import { ThreadPool } from "@ringpool/ringpool";
 * import assert from "node:assert/strict";
 *
 * const jobs = "data:text/javascript,export const add = (a, b) => a + b;";
 * await using pool = new ThreadPool(jobs, { size: 2 });
 * assert.equal(await pool.run("add", [2, 3]), 5);
 * ```
 */
export class ThreadPool implements AsyncDisposable {
  readonly #module: URL;
  readonly #size: number;
  readonly #concurrency: number;
  readonly #queueCapacity: number;
  readonly #slotBytes: number;
  readonly #slots: number;
  readonly #resourceLimits: ResourceLimits | undefined;

  readonly #jobRing: RingBuffer;
  readonly #completionRing: RingBuffer;
  readonly #control: Int32Array;
  readonly #data: Uint8Array;
  readonly #slotWords: number;

  readonly #jobs: (Job | undefined)[];
  readonly #free: number[] = [];
  readonly #waiters: Waiter[] = [];
  // Large or transferable arguments, handed over when the worker asks.
  readonly #payloads = new Map<
    number,
    { args: unknown; transfer?: Transferable[] }
  >();
  // Results that came by message before their id came through the ring.
  readonly #resultMessages = new Map<number, unknown>();
  // Slots whose completion came through the ring before their message.
  readonly #awaitingMessage = new Set<number>();
  // Slots settled from a dead worker's memory whose id may still be in the
  // completion ring; reused only once that id shows up.
  readonly #quarantine = new Set<number>();
  readonly #retry: number[] = [];
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  readonly #workers: (WorkerRecord | undefined)[];
  #nextWorkerId = 0;
  #readySettled = false;
  readonly #ready: PromiseWithResolvers<void> = Promise.withResolvers();
  readonly #finished: PromiseWithResolvers<void> = Promise.withResolvers();
  // Job promises not yet settled; the workers stay ref'd while any are.
  #pending = 0;
  #refd = true;
  #closing = false;
  #terminated = false;
  #finishedSettled = false;
  #failure: Error | undefined;

  /**
   * Starts the workers; each loads `module`. Await
   * {@linkcode ThreadPool.ready} to learn whether the module loaded; jobs
   * may be submitted before that and wait for it.
   *
   * @param module The job module: a URL, or a path or URL string. Relative
   * paths are resolved against the current working directory (not against
   * the calling module).
   * @param options Size, per-worker concurrency, queue capacity, slot size
   * and worker resource limits.
   * @throws {RangeError} If `size`, `concurrency`, `queueCapacity` or
   * `slotSize` is out of range.
   * @throws {TypeError} If `module` is not a string or URL.
   *
   * @example Validate the size
   * ```ts
   * import { ThreadPool } from "@ringpool/ringpool";
   * import assert from "node:assert/strict";
   *
   * assert.throws(() => new ThreadPool("./jobs.ts", { size: 0 }), RangeError);
   * ```
   */
  constructor(module: string | URL, options: ThreadPoolOptions = {}) {
    const size = options.size ?? navigator.hardwareConcurrency;
    checkInteger("size", size, 1, 1024);
    const concurrency = options.concurrency ?? 1;
    checkInteger("concurrency", concurrency, 1, 65536);
    const queueCapacity = options.queueCapacity ?? 1024;
    checkInteger("queueCapacity", queueCapacity, 0, 1 << 20);
    const slotBytes = options.slotSize ?? 4096;
    checkInteger("slotSize", slotBytes, 64, 1 << 26);
    this.#module = resolveModule(module);
    this.#size = size;
    this.#concurrency = concurrency;
    this.#queueCapacity = queueCapacity;
    this.#slotBytes = (slotBytes + 7) & ~7;
    this.#slots = queueCapacity + size * concurrency;
    if (this.#slots > 1 << 22) {
      throw new RangeError(
        `Cannot create pool as 'queueCapacity' + 'size' * 'concurrency' must be at most ${
          1 << 22
        }: received ${this.#slots}`,
      );
    }
    this.#resourceLimits = options.resourceLimits;

    // Rings hold twice the slots so a push never finds a ring truly full.
    const ringCapacity = Math.max(2, nextPowerOfTwo(2 * this.#slots));
    this.#jobRing = new RingBuffer(ringCapacity);
    this.#completionRing = new RingBuffer(ringCapacity);
    this.#control = new Int32Array(
      new SharedArrayBuffer(controlWords(size, this.#slots) * 4),
    );
    this.#data = new Uint8Array(
      new SharedArrayBuffer(this.#slots * this.#slotBytes),
    );
    this.#slotWords = slotBase(size);
    this.#jobs = new Array(this.#slots).fill(undefined);
    for (let slot = this.#slots - 1; slot >= 0; slot--) this.#free.push(slot);

    // Nobody has to observe these for an unhandled rejection to be avoided.
    this.#ready.promise.catch(() => {});
    this.#workers = new Array(size).fill(undefined);
    for (let index = 0; index < size; index++) this.#spawn(index);
    void this.#drain();
  }

  /** How many worker threads the pool runs. */
  get size(): number {
    return this.#size;
  }

  /**
   * Resolves once every worker has loaded the module. Rejects if the module
   * fails to load; the pool then rejects every job with the same error.
   *
   * @example Wait for the workers
   * ```ts
   * import { ThreadPool } from "@ringpool/ringpool";
   *
   * await using pool = new ThreadPool("data:text/javascript,export {}", { size: 1 });
   * await pool.ready;
   * ```
   */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /**
   * Runs the export `name` of the pool's module on a worker with `args`.
   *
   * @param name The exported function to call.
   * @param args Its arguments; copied (structured clone), or moved if listed
   * in `options.transfer`.
   * @param options Cancellation, transferables and backpressure behaviour.
   * @returns What the function returned (awaited if it was a promise).
   * @throws {Error} The job's own error, with the same name, message and
   * stack text; a `TypeError` if the module has no such export.
   * @throws {QueueFullError} If the queue is full and `wait` is not set.
   * @throws {PoolClosedError} If the pool is closing or was terminated.
   * @throws {WorkerExitedError} If the worker died while running the job.
   * @throws {unknown} `signal.reason` if the signal aborted.
   *
   * @example Run a job and catch its error
   * ```ts
   * import { ThreadPool } from "@ringpool/ringpool";
   * import assert from "node:assert/strict";
   *
   * const jobs = "data:text/javascript," +
   *   "export function half(n) { if (n & 1) throw new RangeError('odd'); return n / 2; }";
   * await using pool = new ThreadPool(jobs, { size: 1 });
   * assert.equal(await pool.run("half", [8]), 4);
   * await assert.rejects(pool.run("half", [3]), { name: "RangeError", message: "odd" });
   * ```
   */
  run<T = unknown>(
    name: string,
    args: readonly unknown[] = [],
    options: RunOptions = {},
  ): Promise<T> {
    if (typeof name !== "string") {
      return Promise.reject(
        new TypeError(
          `Cannot run job as 'name' must be the name of an exported function: received ${typeof name}`,
        ),
      );
    }
    if (!Array.isArray(args)) {
      return Promise.reject(
        new TypeError(
          `Cannot run job '${name}' as 'args' must be an array of arguments: received ${typeof args}`,
        ),
      );
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closing) return Promise.reject(new PoolClosedError());
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const slot = this.#free.pop();
    if (slot !== undefined) {
      return this.#dispatch(slot, name, args, options) as Promise<T>;
    }
    if (!options.wait) {
      return Promise.reject(new QueueFullError(this.#queueCapacity));
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        const at = this.#waiters.indexOf(waiter);
        if (at !== -1) this.#waiters.splice(at, 1);
        this.#updateRef();
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        start: (slot) => {
          signal?.removeEventListener("abort", onAbort);
          (this.#dispatch(slot, name, args, options) as Promise<T>).then(
            resolve,
            reject,
          );
        },
        reject: (reason) => {
          signal?.removeEventListener("abort", onAbort);
          reject(reason);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#updateRef();
    });
  }

  /**
   * Reads the pool's counters from shared memory, without messaging the
   * workers. Counters change while you read them: the values are a
   * consistent-enough snapshot for monitoring, not a transaction.
   *
   * @returns Queued, running, completed and failed jobs, and per-worker state.
   *
   * @example Count completed jobs
   * ```ts
   * import { ThreadPool } from "@ringpool/ringpool";
   * import assert from "node:assert/strict";
   *
   * const jobs = "data:text/javascript,export const id = (x) => x;";
   * await using pool = new ThreadPool(jobs, { size: 1 });
   * await pool.run("id", [1]);
   * assert.equal(pool.stats().completed, 1);
   * ```
   */
  stats(): ThreadPoolStats {
    const control = this.#control;
    const workers: WorkerStats[] = [];
    for (let index = 0; index < this.#size; index++) {
      const inFlight = Atomics.load(
        control,
        workerWord(index, W_IN_FLIGHT),
      );
      workers.push({
        id: Atomics.load(control, workerWord(index, W_ID)),
        inFlight,
        busy: inFlight > 0,
        completed: Atomics.load(control, workerWord(index, W_COMPLETED)),
        failed: Atomics.load(control, workerWord(index, W_FAILED)),
      });
    }
    return {
      queued: Atomics.load(control, QUEUED_COUNT),
      running: Atomics.load(control, RUNNING_COUNT),
      completed: Atomics.load(control, COMPLETED_COUNT),
      failed: Atomics.load(control, FAILED_COUNT),
      waiting: this.#waiters.length,
      workers,
    };
  }

  /**
   * Closes the pool gracefully: new jobs are refused with
   * {@linkcode PoolClosedError} (so are callers still waiting for room),
   * queued and running jobs finish, then every worker exits. Closing twice
   * is safe and returns the same promise.
   *
   * @returns Resolves once every worker has exited.
   *
   * @example Let queued jobs finish
   * ```ts
   * import { ThreadPool } from "@ringpool/ringpool";
   * import assert from "node:assert/strict";
   *
   * const pool = new ThreadPool("data:text/javascript,export const one = () => 1;", { size: 1 });
   * const result = pool.run("one");
   * await pool.close();
   * assert.equal(await result, 1);
   * ```
   */
  close(): Promise<void> {
    if (this.#closing) return this.#finished.promise;
    this.#closing = true;
    this.#rejectWaiters(new PoolClosedError());
    // Push what is waiting for a transient retry before the ring refuses it.
    while (this.#retry.length > 0) {
      if (this.#jobRing.tryPush(this.#retry[0]!)) this.#retry.shift();
    }
    // Workers take what is left, finish what they run, and exit.
    this.#jobRing.close();
    this.#updateRef();
    this.#maybeFinish();
    return this.#finished.promise;
  }

  /**
   * Stops the pool at once: pending jobs reject with
   * {@linkcode PoolClosedError} and every worker is terminated.
   *
   * @returns Resolves once every worker has exited.
   *
   * @example Abandon pending jobs
   * ```ts
   * import { PoolClosedError, ThreadPool } from "@ringpool/ringpool";
   * import assert from "node:assert/strict";
   *
   * const jobs = "data:text/javascript,export const wait = () => new Promise(() => {});";
   * const pool = new ThreadPool(jobs, { size: 1 });
   * const job = pool.run("wait");
   * await pool.terminate();
   * await assert.rejects(job, PoolClosedError);
   * ```
   */
  terminate(): Promise<void> {
    if (this.#terminated) return this.#finished.promise;
    this.#terminated = true;
    this.#closing = true;
    this.#abandon(
      new PoolClosedError("The job was abandoned as the pool was terminated"),
    );
    return this.#finished.promise;
  }

  /** Calls {@linkcode ThreadPool.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- dispatch ---------------------------------------------------------

  #word(slot: number, field: number): number {
    return this.#slotWords + SLOT_STRIDE * slot + field;
  }

  #dispatch(
    slot: number,
    name: string,
    args: readonly unknown[],
    options: RunOptions,
  ): Promise<unknown> {
    const control = this.#control;
    const base = slot * this.#slotBytes;
    const region = this.#data.subarray(base, base + this.#slotBytes);
    const nameLength = encodeText(name, region);
    if (nameLength === undefined) {
      this.#giveBack(slot);
      return Promise.reject(
        new RangeError(
          `Cannot run job as its name is longer than the slot (${this.#slotBytes} bytes): use a shorter export name`,
        ),
      );
    }
    let kind = KIND_MESSAGE;
    let length = 0;
    if (options.transfer === undefined || options.transfer.length === 0) {
      let encoded: [number, number] | undefined;
      try {
        encoded = encodeInto(args, region.subarray(nameLength));
      } catch (error) {
        this.#giveBack(slot);
        return Promise.reject(error);
      }
      if (encoded !== undefined) [kind, length] = encoded;
    }
    if (kind === KIND_MESSAGE) {
      this.#payloads.set(slot, { args, transfer: options.transfer });
    }
    control[this.#word(slot, S_NAME_LEN)] = nameLength;
    control[this.#word(slot, S_REQ_KIND)] = kind;
    control[this.#word(slot, S_REQ_LEN)] = length;
    Atomics.store(control, this.#word(slot, S_STATE), QUEUED);

    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const job: Job = { resolve, reject, settled: false };
    const { signal } = options;
    if (signal !== undefined) {
      job.signal = signal;
      job.onAbort = () => this.#abort(slot, job);
      signal.addEventListener("abort", job.onAbort, { once: true });
    }
    this.#jobs[slot] = job;
    this.#pending++;
    this.#updateRef();
    // Counted before the push so a worker's decrement never goes below 0.
    Atomics.add(control, QUEUED_COUNT, 1);
    this.#push(slot);
    return promise;
  }

  #push(slot: number): void {
    if (this.#retry.length === 0) {
      for (let spin = 0; spin < PUSH_SPINS; spin++) {
        if (this.#jobRing.tryPush(slot)) return;
      }
    }
    this.#retry.push(slot);
    this.#retryTimer ??= setTimeout(() => this.#flushRetries(), 0);
  }

  #flushRetries(): void {
    this.#retryTimer = undefined;
    while (this.#retry.length > 0 && !this.#jobRing.closed) {
      if (!this.#jobRing.tryPush(this.#retry[0]!)) {
        this.#retryTimer = setTimeout(() => this.#flushRetries(), 1);
        return;
      }
      this.#retry.shift();
    }
  }

  #abort(slot: number, job: Job): void {
    if (job.settled) return;
    const control = this.#control;
    const seen = Atomics.compareExchange(
      control,
      this.#word(slot, S_STATE),
      QUEUED,
      CANCELLED,
    );
    this.#settle(job, false, job.signal!.reason);
    if (seen === QUEUED) {
      // Still in the ring: the worker that pops it hands it back to be freed.
      Atomics.sub(control, QUEUED_COUNT, 1);
      this.#payloads.delete(slot);
      return;
    }
    if ((seen & STATE_MASK) === RUNNING) {
      // A running job cannot be interrupted: replace its worker.
      const record = this.#workers[(seen >>> OWNER_SHIFT) - 1];
      if (record !== undefined && !record.exited) {
        void record.worker.terminate();
      }
    }
    // DONE: the result is in the slot; the drain frees it and drops it.
  }

  // ---- completions ------------------------------------------------------

  async #drain(): Promise<void> {
    const ring = this.#completionRing;
    for (;;) {
      // Waits without keeping the event loop alive; ref'd workers do that
      // while jobs are pending.
      const slot = await ring.popAsync();
      if (slot === undefined) return; // closed: the pool has finished
      this.#complete(slot);
      this.#drainNow();
    }
  }

  /** Takes every completion already published. */
  #drainNow(): void {
    for (
      let slot = this.#completionRing.tryPop();
      slot !== undefined;
      slot = this.#completionRing.tryPop()
    ) {
      this.#complete(slot);
    }
  }

  #complete(slot: number): void {
    if (this.#quarantine.delete(slot)) {
      this.#giveBack(slot); // its late id arrived; it was settled before
      return;
    }
    const control = this.#control;
    const state = Atomics.load(control, this.#word(slot, S_STATE)) &
      STATE_MASK;
    if (state === CANCELLED) {
      this.#release(slot);
      return;
    }
    if (state !== DONE) return;
    const kind = control[this.#word(slot, S_RES_KIND)]!;
    let value: unknown;
    if ((kind & KIND_MASK) === KIND_MESSAGE) {
      if (!this.#resultMessages.has(slot)) {
        this.#awaitingMessage.add(slot); // the message is still on its way
        return;
      }
      value = this.#resultMessages.get(slot);
      this.#resultMessages.delete(slot);
    } else {
      const base = slot * this.#slotBytes;
      const length = control[this.#word(slot, S_RES_LEN)]!;
      try {
        value = decode(kind, this.#data.subarray(base, base + length));
      } catch (error) {
        this.#finishJob(slot, false, error);
        return;
      }
    }
    this.#finishJob(slot, kind, value);
  }

  /** Settles the job of a DONE slot and frees the slot. */
  #finishJob(slot: number, kind: number | false, value: unknown): void {
    const job = this.#jobs[slot];
    this.#release(slot);
    if (job === undefined) return;
    if (kind === false) {
      this.#settle(job, false, value);
    } else if (kind & FLAG_ERROR) {
      this.#settle(job, false, fromWireError(value as WireError));
    } else if (kind & FLAG_THROWN_VALUE) {
      this.#settle(job, false, value);
    } else {
      this.#settle(job, true, value);
    }
  }

  #settle(job: Job, ok: boolean, value: unknown): void {
    if (job.settled) return;
    job.settled = true;
    this.#pending--;
    this.#updateRef();
    // Remove the abort listener so a long-lived signal does not leak jobs.
    if (job.onAbort !== undefined) {
      job.signal!.removeEventListener("abort", job.onAbort);
    }
    if (ok) job.resolve(value);
    else job.reject(value);
  }

  /** Frees a slot whose job is over. */
  #release(slot: number): void {
    this.#jobs[slot] = undefined;
    this.#payloads.delete(slot);
    Atomics.store(this.#control, this.#word(slot, S_STATE), FREE);
    this.#giveBack(slot);
  }

  /** Returns a free slot to the free list, or hands it to a waiting caller. */
  #giveBack(slot: number): void {
    const waiter = this.#closing ? undefined : this.#waiters.shift();
    if (waiter !== undefined) waiter.start(slot);
    else this.#free.push(slot);
  }

  // ---- workers ------------------------------------------------------------

  #spawn(index: number): void {
    const id = ++this.#nextWorkerId;
    const control = this.#control;
    Atomics.store(control, workerWord(index, W_IN_FLIGHT), 0);
    Atomics.store(control, workerWord(index, W_COMPLETED), 0);
    Atomics.store(control, workerWord(index, W_FAILED), 0);
    Atomics.store(control, workerWord(index, W_ID), id);
    Atomics.store(control, workerWord(index, W_LOADED), 0);
    const workerData: PoolWorkerData = {
      module: this.#module.href,
      jobs: this.#jobRing.buffer,
      completions: this.#completionRing.buffer,
      control: control.buffer as SharedArrayBuffer,
      data: this.#data.buffer as SharedArrayBuffer,
      index,
      size: this.#size,
      concurrency: this.#concurrency,
      slotBytes: this.#slotBytes,
    };
    const worker = spawnWorker(WORKER_URL, {
      workerData,
      resourceLimits: this.#resourceLimits,
      // Shown in Deno's report of an uncaught error in the worker.
      name: `ringpool ThreadPool worker ${id}`,
    });
    const record: WorkerRecord = {
      worker,
      id,
      index,
      ready: false,
      exited: false,
    };
    this.#workers[index] = record;
    worker.on("message", (message: WorkerMessage) => {
      this.#onMessage(record, message);
    });
    // An uncaught error is reported here, then 'exit' follows; keep it as
    // the cause of the WorkerExitedError.
    worker.on("error", (error: unknown) => {
      record.error = error;
    });
    worker.once("exit", (code: number) => this.#onExit(record, code));
    if (!this.#refd) worker.unref();
  }

  #onMessage(record: WorkerRecord, message: WorkerMessage): void {
    switch (message.type) {
      case "ready":
        record.ready = true;
        if (
          !this.#readySettled && this.#workers.every((other) => other?.ready)
        ) {
          this.#readySettled = true;
          this.#ready.resolve();
          this.#updateRef();
        }
        break;
      case "loadError": {
        const cause = isWireError(message.error)
          ? fromWireError(message.error)
          : message.error;
        this.#fail(
          new Error(
            `Cannot start the thread pool as its module failed to load in a worker: ${this.#module.href}: ${
              cause instanceof Error ? cause.message : String(cause)
            }`,
            { cause },
          ),
        );
        break;
      }
      case "need": {
        const payload = this.#payloads.get(message.slot);
        this.#payloads.delete(message.slot);
        const reply: MainMessage = {
          type: "payload",
          slot: message.slot,
          args: payload?.args,
          failed: payload === undefined,
        };
        try {
          // The web and node Transferable types differ only in MessagePort's
          // node extras; the objects are the same at run time.
          record.worker.postMessage(
            reply,
            payload?.transfer as NodeTransferable[] | undefined,
          );
        } catch (error) {
          // Not cloneable: reject this job only, and tell the worker so it
          // finishes the slot without calling the function.
          const job = this.#jobs[message.slot];
          if (job !== undefined) this.#settle(job, false, error);
          record.worker.postMessage({ ...reply, args: [], failed: true });
        }
        break;
      }
      case "result":
        if (this.#awaitingMessage.delete(message.slot)) {
          const kind = this.#control[this.#word(message.slot, S_RES_KIND)]!;
          this.#finishJob(message.slot, kind, message.value);
        } else {
          this.#resultMessages.set(message.slot, message.value);
        }
        break;
    }
  }

  #onExit(record: WorkerRecord, code: number): void {
    record.exited = true;
    const { index } = record;
    if (this.#workers[index] === record) this.#workers[index] = undefined;
    const control = this.#control;
    // First settle whatever it (or anyone) finished and published.
    this.#drainNow();
    // Then whatever it still owned: running jobs are lost; a finished job
    // whose id it had no time to push is settled from its slot.
    const owner = index + 1;
    for (let slot = 0; slot < this.#slots; slot++) {
      const seen = Atomics.load(control, this.#word(slot, S_STATE));
      if (seen >>> OWNER_SHIFT !== owner) continue;
      const state = seen & STATE_MASK;
      if (state === RUNNING) {
        Atomics.sub(control, RUNNING_COUNT, 1);
        Atomics.add(control, FAILED_COUNT, 1);
        const job = this.#jobs[slot];
        this.#release(slot);
        if (job !== undefined) {
          this.#settle(
            job,
            false,
            new WorkerExitedError(record.id, code, { cause: record.error }),
          );
        }
      } else if (
        state === DONE &&
        (control[this.#word(slot, S_RES_KIND)]! & KIND_MASK) !== KIND_MESSAGE
      ) {
        // Finished, but its id may still be in the completion ring behind a
        // push that is landing: settle now, reuse the slot only once that id
        // shows up. (A result sent by message is left to the normal path.)
        const job = this.#jobs[slot];
        this.#jobs[slot] = undefined;
        Atomics.store(control, this.#word(slot, S_STATE), FREE);
        this.#quarantine.add(slot);
        if (job !== undefined) {
          const kind = control[this.#word(slot, S_RES_KIND)]!;
          const base = slot * this.#slotBytes;
          const length = control[this.#word(slot, S_RES_LEN)]!;
          try {
            const value = decode(
              kind,
              this.#data.subarray(base, base + length),
            );
            if (kind & FLAG_ERROR) {
              this.#settle(job, false, fromWireError(value as WireError));
            } else this.#settle(job, !(kind & FLAG_THROWN_VALUE), value);
          } catch (error) {
            this.#settle(job, false, error);
          }
        }
      }
    }
    Atomics.store(control, workerWord(index, W_IN_FLIGHT), 0);
    const loaded = record.ready ||
      Atomics.load(control, workerWord(index, W_LOADED)) === 1;
    if (this.#failure === undefined && !this.#terminated) {
      if (!loaded) {
        this.#fail(
          new Error(
            `Cannot start the thread pool as a worker exited with code ${code} before loading ${this.#module.href}`,
            { cause: record.error },
          ),
        );
      } else if (!(this.#jobRing.closed && this.#jobRing.length === 0)) {
        this.#spawn(index); // replace it; a closing pool still has jobs
      }
    }
    this.#maybeFinish();
  }

  // ---- shutdown -----------------------------------------------------------

  /** The module failed to load: reject everything with `error`, stop. */
  #fail(error: Error): void {
    if (this.#failure !== undefined || this.#terminated) return;
    this.#failure = error;
    this.#closing = true;
    if (!this.#readySettled) {
      this.#readySettled = true;
      this.#ready.reject(error);
    }
    this.#abandon(error);
  }

  #abandon(reason: unknown): void {
    this.#rejectWaiters(reason);
    this.#retry.length = 0;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    for (const job of this.#jobs) {
      if (job !== undefined) this.#settle(job, false, reason);
    }
    // Closing the ring also wakes idle workers parked in Atomics.wait,
    // which terminate() alone cannot interrupt.
    this.#jobRing.close();
    for (const record of this.#workers) {
      if (record !== undefined && !record.exited) {
        void record.worker.terminate();
      }
    }
    if (!this.#readySettled) {
      this.#readySettled = true;
      this.#ready.reject(reason);
    }
    this.#updateRef();
    this.#maybeFinish();
  }

  #rejectWaiters(reason: unknown): void {
    for (const waiter of this.#waiters.splice(0)) waiter.reject(reason);
  }

  #maybeFinish(): void {
    if (!this.#closing || this.#finishedSettled) return;
    if (this.#workers.some((record) => record !== undefined)) return;
    this.#finishedSettled = true;
    this.#drainNow();
    // Ends the drain loop.
    this.#completionRing.close();
    // Nothing can settle these any more (e.g. a result message that never
    // came from a worker that died): no hangs.
    for (const job of this.#jobs) {
      if (job !== undefined) this.#settle(job, false, new PoolClosedError());
    }
    if (!this.#readySettled) {
      this.#readySettled = true;
      this.#ready.reject(new PoolClosedError());
    }
    this.#finished.resolve();
  }

  /**
   * Keeps the process alive exactly while something is pending: jobs,
   * callers waiting for room, start-up, or a close in progress.
   * `Atomics.waitAsync` alone does not keep Deno's event loop alive.
   */
  #updateRef(): void {
    const want = this.#pending > 0 || this.#waiters.length > 0 ||
      !this.#readySettled || (this.#closing && !this.#finishedSettled);
    if (want === this.#refd) return;
    this.#refd = want;
    for (const record of this.#workers) {
      if (record === undefined || record.exited) continue;
      if (want) record.worker.ref();
      else record.worker.unref();
    }
  }
}

function checkInteger(
  name: string,
  value: number,
  min: number,
  max: number,
): void {
  if (Number.isInteger(value) && value >= min && value <= max) return;
  const what = !(value > max)
    ? min === 1
      ? "a positive integer"
      : min === 0
      ? "a non-negative integer"
      : `an integer of at least ${min}`
    : `at most ${max}`;
  throw new RangeError(
    `Cannot create pool as '${name}' must be ${what}: received ${value}`,
  );
}

function nextPowerOfTwo(n: number): number {
  let power = 1;
  while (power < n) power *= 2;
  return power;
}

function resolveModule(module: string | URL): URL {
  if (module instanceof URL) return new URL(module.href);
  if (typeof module !== "string" || module === "") {
    throw new TypeError(
      `Cannot create pool as 'module' must be a URL or a non-empty path or URL string: received ${
        module === "" ? '""' : typeof module
      }`,
    );
  }
  // A scheme (but not a Windows drive letter) means it is already a URL.
  if (/^[a-z][a-z0-9+.-]+:/i.test(module)) return new URL(module);
  return pathToFileURL(resolvePath(Deno.cwd(), module));
}

function isWireError(value: unknown): value is WireError {
  return value !== null && typeof value === "object" &&
    typeof (value as WireError).name === "string" &&
    typeof (value as WireError).message === "string";
}
