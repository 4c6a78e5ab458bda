/**
 * A pool of worker threads that run the named exports of one module, with
 * jobs and completions handed over through {@linkcode RingBuffer}s in shared
 * memory: the Rust book's `ThreadPool`, done properly for JavaScript.
 *
 * @module
 */

import type { ResourceLimits } from "node:worker_threads";
import { moduleUrl } from "./_common/module_url.ts";
import { checkInteger } from "./_common/numbers.ts";
import { PoolEngine } from "./_pool/engine.ts";
import type { PoolSettings } from "./_pool/state.ts";
// Imported only for the links in the documentation.
// deno-lint-ignore no-unused-vars
import type { PoolClosedError, QueueFullError } from "./errors.ts";
// deno-lint-ignore no-unused-vars
import type { WorkerExitedError } from "./errors.ts";
// deno-lint-ignore no-unused-vars
import type { RingBuffer } from "./ring_buffer.ts";

// Slots (`queueCapacity + size * concurrency`) a pool may have at most.
const MAX_SLOTS = 1 << 22;

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
  readonly #engine: PoolEngine;

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
    this.#engine = new PoolEngine(poolSettings(module, options));
  }

  /** How many worker threads the pool runs. */
  get size(): number {
    return this.#engine.size;
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
    return this.#engine.ready;
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
    return this.#engine.run(name, args, options) as Promise<T>;
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
    return this.#engine.stats();
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
    return this.#engine.close();
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
    return this.#engine.terminate();
  }

  /** Calls {@linkcode ThreadPool.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Checks the options once, up front, and applies their defaults. */
function poolSettings(
  module: string | URL,
  options: ThreadPoolOptions,
): PoolSettings {
  const action = "create pool";
  const size = checkInteger(
    action,
    "size",
    options.size ?? navigator.hardwareConcurrency,
    1,
  );
  const concurrency = checkInteger(
    action,
    "concurrency",
    options.concurrency ?? 1,
    1,
    65536,
  );
  const queueCapacity = checkInteger(
    action,
    "queueCapacity",
    options.queueCapacity ?? 1024,
    0,
    1 << 20,
  );
  const slotSize = checkInteger(
    action,
    "slotSize",
    options.slotSize ?? 4096,
    64,
    1 << 26,
  );
  const url = moduleUrl(action, "module", module);
  const slots = queueCapacity + size * concurrency;
  if (slots > MAX_SLOTS) {
    throw new RangeError(
      `Cannot create pool as 'queueCapacity' + 'size' * 'concurrency' must be at most ${MAX_SLOTS}: received ${slots}`,
    );
  }
  return {
    module: url,
    size,
    concurrency,
    queueCapacity,
    slotBytes: (slotSize + 7) & ~7,
    slots,
    resourceLimits: options.resourceLimits,
  };
}
