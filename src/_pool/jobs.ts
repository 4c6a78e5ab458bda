// Settling a job's promise on the main thread, whatever ended it: its
// result, its error, an abort, a dead worker or the pool's end.
import { fromWireError, type WireError } from "../_common/wire_error.ts";
import { FLAG_ERROR, FLAG_THROWN_VALUE } from "./codec.ts";
import { updateRef } from "./keep_alive.ts";
import type { Job, PoolState } from "./state.ts";

/** Settles `job` once; later calls do nothing. */
export function settle(
  state: PoolState,
  job: Job,
  ok: boolean,
  value: unknown,
): void {
  if (job.settled) return;
  job.settled = true;
  state.pending--;
  updateRef(state);
  // Remove the abort listener so a long-lived signal does not leak jobs.
  if (job.onAbort !== undefined) {
    job.signal!.removeEventListener("abort", job.onAbort);
  }
  if (ok) job.resolve(value);
  else job.reject(value);
}

/**
 * Settles `job` with what its worker wrote: `kind` is the result kind word
 * (its flags say whether the job threw), or `false` if `value` is an error
 * met while reading the result.
 */
export function settleResult(
  state: PoolState,
  job: Job,
  kind: number | false,
  value: unknown,
): void {
  if (kind === false) {
    settle(state, job, false, value);
  } else if (kind & FLAG_ERROR) {
    settle(state, job, false, fromWireError(value as WireError));
  } else if (kind & FLAG_THROWN_VALUE) {
    settle(state, job, false, value);
  } else {
    settle(state, job, true, value);
  }
}

/** Settles every job still holding a slot with `reason`. */
export function rejectAll(state: PoolState, reason: unknown): void {
  for (const job of state.jobs) {
    if (job !== undefined) settle(state, job, false, reason);
  }
}
