// The pool's life (state.ts draws it): ready, a graceful close,
// terminate, a module that fails to load, and the end, once no worker is
// left.
import { PoolClosedError } from "../errors.ts";
import type { LoadFailure } from "../_workers/worker_set.ts";
import { collectPublished } from "./collect.ts";
import { dropRetries, pushRetries } from "./dispatch.ts";
import { rejectAll, settle } from "./jobs.ts";
import { updateRef } from "./keep_alive.ts";
import { stopLookingAgain } from "./reclaim.ts";
import { rejectWaiters } from "./slots.ts";
import type { PoolState } from "./state.ts";

/** Every first worker loaded the module. */
export function markReady(state: PoolState): void {
  if (state.readySettled) return;
  state.readySettled = true;
  state.ready.resolve();
  updateRef(state);
}

/** Refuses new jobs; queued and running ones finish, then workers exit. */
export function close(state: PoolState): Promise<void> {
  if (state.phase !== "open") return state.finished.promise;
  state.phase = "closing";
  rejectWaiters(state, new PoolClosedError());
  // Push what is waiting for a transient retry before the ring refuses it.
  pushRetries(state);
  // Workers take what is left, finish what they run, and exit.
  state.memory.jobs.close();
  updateRef(state);
  finishIfDone(state);
  return state.finished.promise;
}

/** Rejects every pending job and terminates every worker. */
export function terminate(state: PoolState): Promise<void> {
  if (state.phase === "terminated") return state.finished.promise;
  state.phase = "terminated";
  abandon(
    state,
    new PoolClosedError("The job was abandoned as the pool was terminated"),
  );
  return state.finished.promise;
}

/** The error a load failure is reported with (ready and every job reject with it). */
export function loadError(module: URL, failure: LoadFailure): Error {
  const { error } = failure;
  if (error !== undefined) {
    return new Error(
      `Cannot start the thread pool as its module failed to load in a worker: ${module.href}: ${error.message}`,
      { cause: error },
    );
  }
  return new Error(
    `Cannot start the thread pool as a worker exited with code ${failure.exitCode} before loading ${module.href}`,
    { cause: failure.cause },
  );
}

/** The module failed to load: reject everything with `error`, stop. */
export function fail(state: PoolState, error: Error): void {
  if (state.failure !== undefined || state.phase === "terminated") return;
  state.failure = error;
  state.phase = "closing";
  rejectReady(state, error);
  abandon(state, error);
}

/** Ends the pool if it is closing and no worker is left. */
export function finishIfDone(state: PoolState): void {
  if (state.phase === "open" || state.isFinished) return;
  if (state.workers.alive > 0) return;
  state.isFinished = true;
  stopLookingAgain(state);
  collectPublished(state);
  // Ends the completion loop.
  state.memory.completions.close();
  // Nothing can settle these any more (e.g. a result message that never
  // came from a worker that died): no hangs.
  for (const job of state.jobs) {
    if (job !== undefined) settle(state, job, false, new PoolClosedError());
  }
  rejectReady(state, new PoolClosedError());
  state.finished.resolve();
}

function abandon(state: PoolState, reason: unknown): void {
  rejectWaiters(state, reason);
  dropRetries(state);
  rejectAll(state, reason);
  // Closing the ring also wakes idle workers parked in Atomics.wait,
  // which terminate() alone cannot interrupt.
  state.memory.jobs.close();
  void state.workers.terminateAll();
  // Deno's workers emit "exit" within terminate(): if none is left, the
  // pool finishes here, before `ready` would reject with `reason`.
  finishIfDone(state);
  rejectReady(state, reason);
  updateRef(state);
}

function rejectReady(state: PoolState, reason: unknown): void {
  if (state.readySettled) return;
  state.readySettled = true;
  state.ready.reject(reason);
}
