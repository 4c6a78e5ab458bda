// What a dead worker held, given back (the WorkerSet's reclaim hook): its
// running jobs are lost, a job it finished but had no time to hand back is
// settled from its slot, and an id it popped but had not claimed goes back
// into the job ring.
import { WorkerExitedError } from "../errors.ts";
import type { Member } from "../_workers/worker_set.ts";
import { KIND_MASK, KIND_MESSAGE } from "./codec.ts";
import { collectPublished, decodeResult } from "./collect.ts";
import { settle, settleResult } from "./jobs.ts";
import {
  DONE,
  FAILED_COUNT,
  FREE,
  OWNER_SHIFT,
  QUEUED,
  RUNNING,
  S_RES_KIND,
  S_STATE,
  S_TAKER,
  STATE_MASK,
} from "./layout.ts";
import { requeue } from "./dispatch.ts";
import { release } from "./slots.ts";
import type { PoolState } from "./state.ts";

/**
 * Deno emits a worker's exit within terminate(), while its thread may still
 * run for a moment (and claim a job, or pop an id): its slots are looked at
 * again after these delays (ms).
 */
const LOOK_AGAIN_MS = [50, 1000];

/** Gives back every slot the worker `member` owned when it exited with `code`. */
export function reclaim(
  state: PoolState,
  member: Member<undefined>,
  code: number,
): void {
  // First settle whatever it (or anyone) finished and published.
  collectPublished(state);
  giveBack(state, member, code);
  for (const ms of LOOK_AGAIN_MS) {
    const timer = setTimeout(() => {
      state.lookAgain.delete(timer);
      collectPublished(state);
      giveBack(state, member, code);
    }, ms);
    // A forgotten pool must not stay alive for it (keep_alive.ts).
    Deno.unrefTimer(timer);
    state.lookAgain.add(timer);
  }
}

/** Stops looking again at dead workers' slots (the pool has ended). */
export function stopLookingAgain(state: PoolState): void {
  for (const timer of state.lookAgain) clearTimeout(timer);
  state.lookAgain.clear();
}

/**
 * What the dead worker still holds: running jobs are lost, a finished job
 * whose id it had no time to push is settled from its slot, and a job whose
 * id it popped but never claimed is pushed again.
 */
function giveBack(
  state: PoolState,
  member: Member<undefined>,
  code: number,
): void {
  const { memory } = state;
  const control = memory.control;
  const owner = member.id;
  for (let slot = 0; slot < state.settings.slots; slot++) {
    const seen = Atomics.load(control, memory.slotWord(slot, S_STATE));
    if (seen === QUEUED) {
      // The CAS makes the push happen once, however often we look.
      const taker = memory.slotWord(slot, S_TAKER);
      if (Atomics.compareExchange(control, taker, owner, 0) === owner) {
        requeue(state, slot);
      }
      continue;
    }
    if (seen >>> OWNER_SHIFT !== owner) continue;
    const slotState = seen & STATE_MASK;
    if (slotState === RUNNING) {
      Atomics.add(control, FAILED_COUNT, 1);
      const job = state.jobs[slot];
      release(state, slot);
      if (job !== undefined) {
        settle(
          state,
          job,
          false,
          new WorkerExitedError(member.id, code, { cause: member.error }),
        );
      }
    } else if (
      slotState === DONE &&
      (control[memory.slotWord(slot, S_RES_KIND)]! & KIND_MASK) !==
        KIND_MESSAGE
    ) {
      settleFinished(state, slot);
    }
  }
}

/**
 * A DONE slot whose id may still be in the completion ring behind a push
 * that is landing: settle now, reuse the slot only once that id shows up.
 * (A result sent by message is left to the normal path.)
 */
function settleFinished(state: PoolState, slot: number): void {
  const { memory } = state;
  const job = state.jobs[slot];
  state.jobs[slot] = undefined;
  Atomics.store(memory.control, memory.slotWord(slot, S_STATE), FREE);
  state.lateIds.add(slot);
  if (job === undefined) return;
  const kind = memory.control[memory.slotWord(slot, S_RES_KIND)]!;
  try {
    settleResult(state, job, kind, decodeResult(memory, slot, kind));
  } catch (error) {
    settle(state, job, false, error);
  }
}
