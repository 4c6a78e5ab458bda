/**
 * Errors that callers of ringpool may want to catch and tell apart.
 *
 * Bad arguments are reported with the built-in `TypeError` and `RangeError`;
 * the classes here are for conditions that happen at run time.
 *
 * @module
 */

/**
 * Thrown when a value is pushed into a {@linkcode RingBuffer} after
 * {@linkcode RingBuffer.close} was called. The value was not stored.
 *
 * @example Catch a push on a closed ring
 * ```ts
 * import { RingBuffer, RingClosedError } from "@ringpool/ringpool";
 * import assert from "node:assert/strict";
 *
 * const ring = new RingBuffer(2);
 * ring.close();
 * assert.throws(() => ring.tryPush(1), RingClosedError);
 * ```
 */
export class RingClosedError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was refused.
   * @param options Standard error options, such as `cause`.
   */
  constructor(
    message = "Cannot push into the ring buffer as it is closed",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "RingClosedError";
  }
}

/**
 * Rejects jobs that a {@linkcode ThreadPool} refuses or abandons because it is
 * closing or was terminated.
 *
 * @example Tell a closed pool apart from a failing job
 * ```ts
 * import { PoolClosedError } from "@ringpool/ringpool";
 * import assert from "node:assert/strict";
 *
 * const error = new PoolClosedError();
 * assert.equal(error.name, "PoolClosedError");
 * ```
 */
export class PoolClosedError extends Error {
  /**
   * Creates the error.
   *
   * @param message Why the job was refused.
   * @param options Standard error options, such as `cause`.
   */
  constructor(
    message = "Cannot run the job as the thread pool is closed",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "PoolClosedError";
  }
}

/**
 * Rejects a job when the pool's bounded queue is full and the caller did not
 * ask to wait for room.
 *
 * @example Back off when the queue is full
 * ```ts
 * import { QueueFullError } from "@ringpool/ringpool";
 * import assert from "node:assert/strict";
 *
 * const error = new QueueFullError(64);
 * assert.match(error.message, /64/);
 * ```
 */
export class QueueFullError extends Error {
  /** How many jobs the queue holds at most. */
  readonly capacity: number;

  /**
   * Creates the error.
   *
   * @param capacity How many jobs the queue holds at most.
   * @param options Standard error options, such as `cause`.
   */
  constructor(capacity: number, options?: ErrorOptions) {
    super(
      `Cannot queue the job as the queue is full (${capacity} jobs): retry later, raise 'queueCapacity', or pass { wait: true }`,
      options,
    );
    this.name = "QueueFullError";
    this.capacity = capacity;
  }
}

/**
 * Rejects the jobs that were running on a worker thread when it exited
 * (an uncaught error, an unhandled rejection, `self.close()`, running out of
 * memory, or being terminated after an abort or a timeout).
 *
 * @example Recognise a job lost to a dying worker
 * ```ts
 * import { WorkerExitedError } from "@ringpool/ringpool";
 * import assert from "node:assert/strict";
 *
 * const error = new WorkerExitedError(2, 1);
 * assert.equal(error.workerId, 2);
 * assert.equal(error.exitCode, 1);
 * ```
 */
export class WorkerExitedError extends Error {
  /** The pool-local id of the worker that exited. */
  readonly workerId: number;
  /** The worker's exit code. */
  readonly exitCode: number;

  /**
   * Creates the error.
   *
   * @param workerId The pool-local id of the worker that exited.
   * @param exitCode The worker's exit code.
   * @param options Standard error options, such as `cause`.
   */
  constructor(workerId: number, exitCode: number, options?: ErrorOptions) {
    super(
      `Worker ${workerId} exited with code ${exitCode} while running the job; the pool replaced it`,
      options,
    );
    this.name = "WorkerExitedError";
    this.workerId = workerId;
    this.exitCode = exitCode;
  }
}

/**
 * Thrown by the command line's argument parser for an unknown flag, a bad
 * value or a missing one. The command line prints the message as one line on
 * stderr and exits with code 2.
 *
 * @example Report a bad flag
 * ```ts
 * import { UsageError } from "@ringpool/ringpool";
 * import assert from "node:assert/strict";
 *
 * const error = new UsageError("Unknown option '--bogus'");
 * assert.equal(error.name, "UsageError");
 * assert.equal(error.exitCode, 2);
 * ```
 */
export class UsageError extends Error {
  /** The exit code for a usage error, as shells and GNU tools use it. */
  readonly exitCode: number = 2;

  /**
   * Creates the error.
   *
   * @param message What is wrong with the arguments and what to do instead.
   * @param options Standard error options, such as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}
