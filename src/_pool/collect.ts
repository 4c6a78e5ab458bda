// The completion loop: take the ids workers hand back through the
// completion ring and settle their jobs from what the workers wrote into
// the slots (or sent by message, for results too large for a slot).
import { decode, KIND_MASK, KIND_MESSAGE } from "./codec.ts";
import { settleResult } from "./jobs.ts";
import {
  CANCELLED,
  DONE,
  S_RES_KIND,
  S_RES_LEN,
  S_STATE,
  STATE_MASK,
} from "./layout.ts";
import type { PoolMemory } from "./memory.ts";
import { giveBack, release } from "./slots.ts";
import type { PoolState } from "./state.ts";

/** Runs until the completion ring is closed, once the pool has finished. */
export async function collectLoop(state: PoolState): Promise<void> {
  const ring = state.memory.completions;
  for (;;) {
    // Waits without keeping the event loop alive; ref'd workers do that
    // while jobs are pending.
    const slot = await ring.popAsync();
    if (slot === undefined) return; // closed: the pool has finished
    complete(state, slot);
    collectPublished(state);
  }
}

/** Takes every completion already published. */
export function collectPublished(state: PoolState): void {
  const ring = state.memory.completions;
  for (let slot = ring.tryPop(); slot !== undefined; slot = ring.tryPop()) {
    complete(state, slot);
  }
}

/** A "result" message: the value of a slot whose result did not fit it. */
export function onResultMessage(
  state: PoolState,
  slot: number,
  value: unknown,
): void {
  if (state.awaitingMessage.delete(slot)) {
    const kind = state.memory.control[state.memory.slotWord(slot, S_RES_KIND)]!;
    finishJob(state, slot, kind, value);
  } else {
    state.resultMessages.set(slot, value);
  }
}

/** Decodes the result a worker wrote into its slot; throws if it cannot. */
export function decodeResult(
  memory: PoolMemory,
  slot: number,
  kind: number,
): unknown {
  const base = slot * memory.slotBytes;
  const length = memory.control[memory.slotWord(slot, S_RES_LEN)]!;
  return decode(kind, memory.data.subarray(base, base + length));
}

function complete(state: PoolState, slot: number): void {
  if (state.lateIds.delete(slot)) {
    giveBack(state, slot); // its late id arrived; it was settled before
    return;
  }
  const { memory } = state;
  const slotState =
    Atomics.load(memory.control, memory.slotWord(slot, S_STATE)) &
    STATE_MASK;
  if (slotState === CANCELLED) {
    release(state, slot);
    return;
  }
  if (slotState !== DONE) return;
  const kind = memory.control[memory.slotWord(slot, S_RES_KIND)]!;
  let value: unknown;
  if ((kind & KIND_MASK) === KIND_MESSAGE) {
    if (!state.resultMessages.has(slot)) {
      state.awaitingMessage.add(slot); // the message is still on its way
      return;
    }
    value = state.resultMessages.get(slot);
    state.resultMessages.delete(slot);
  } else {
    try {
      value = decodeResult(memory, slot, kind);
    } catch (error) {
      finishJob(state, slot, false, error);
      return;
    }
  }
  finishJob(state, slot, kind, value);
}

/** Settles the job of a DONE slot and frees the slot. */
function finishJob(
  state: PoolState,
  slot: number,
  kind: number | false,
  value: unknown,
): void {
  const job = state.jobs[slot];
  release(state, slot);
  if (job !== undefined) settleResult(state, job, kind, value);
}
