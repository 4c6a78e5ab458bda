// The main thread's side of the slot table: a slot whose job is over goes
// back to the free list, or straight to a caller waiting for room.
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

/** Returns a free slot to the free list, or hands it to a waiting caller. */
export function giveBack(state: PoolState, slot: number): void {
  const waiter = state.phase === "open" ? state.waiters.shift() : undefined;
  if (waiter !== undefined) waiter.start(slot);
  else state.free.push(slot);
}

/** Rejects every caller still waiting for room. */
export function rejectWaiters(state: PoolState, reason: unknown): void {
  for (const waiter of state.waiters.splice(0)) waiter.reject(reason);
}
