// The main thread's side of the slot table: a slot whose job is over goes
// back to the free list, and from there to a caller waiting for room.
import { startWaiters } from "./dispatch.ts";
import { FREE, S_STATE } from "./layout.ts";
import type { PoolState } from "./state.ts";

/** Frees a slot whose job is over (its state word back to FREE). */
export function release(state: PoolState, slot: number): void {
  state.jobs[slot] = undefined;
  state.payloads.delete(slot);
  Atomics.store(
    state.memory.control,
    state.memory.slotWord(slot, S_STATE),
    FREE,
  );
  giveBack(state, slot);
}

/**
 * Returns a free slot to the free list; if callers wait for room, they get
 * the free slots in a microtask (dispatch.ts `startWaiters`), once the
 * completions being collected now are all settled.
 */
export function giveBack(state: PoolState, slot: number): void {
  state.free.push(slot);
  if (state.waiters.size > 0 && !state.startScheduled) {
    state.startScheduled = true;
    queueMicrotask(() => startWaiters(state));
  }
}

/** Rejects every caller still waiting for room. */
export function rejectWaiters(state: PoolState, reason: unknown): void {
  state.waiters.rejectAll(reason);
}
