// What a dead worker held, given back (the WorkerSet's reclaim hook): its
// running jobs are lost, and a job it finished but had no time to hand back
// is settled from its slot.
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
  RUNNING,
  RUNNING_COUNT,
  S_RES_KIND,
  S_STATE,
  STATE_MASK,
  W_IN_FLIGHT,
  workerWord,
} from "./layout.ts";
import { release } from "./slots.ts";
import type { PoolState } from "./state.ts";

/** Gives back every slot the worker `member` owned when it exited with `code`. */
export function reclaim(
  state: PoolState,
  member: Member<undefined>,
  code: number,
): void {
  const { memory } = state;
  const control = memory.control;
  // First settle whatever it (or anyone) finished and published.
  collectPublished(state);
  // Then whatever it still owned: running jobs are lost; a finished job
  // whose id it had no time to push is settled from its slot.
  const owner = member.index + 1;
  for (let slot = 0; slot < state.settings.slots; slot++) {
    const seen = Atomics.load(control, memory.slotWord(slot, S_STATE));
    if (seen >>> OWNER_SHIFT !== owner) continue;
    const slotState = seen & STATE_MASK;
    if (slotState === RUNNING) {
      Atomics.sub(control, RUNNING_COUNT, 1);
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
  Atomics.store(control, workerWord(member.index, W_IN_FLIGHT), 0);
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
