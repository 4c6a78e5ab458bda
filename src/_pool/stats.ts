// The pool's counters, read from shared memory without messaging the
// workers (ThreadPoolStats in thread_pool.ts documents each field).
import {
  COMPLETED_COUNT,
  FAILED_COUNT,
  OWNER_SHIFT,
  QUEUED,
  RUNNING,
  S_STATE,
  STATE_MASK,
  W_COMPLETED,
  W_FAILED,
  W_ID,
  workerWord,
} from "./layout.ts";
import type { PoolState } from "./state.ts";

/** One worker's counters. */
export interface WorkerCounters {
  id: number;
  inFlight: number;
  busy: boolean;
  completed: number;
  failed: number;
}

/** The pool's counters. */
export interface PoolCounters {
  queued: number;
  running: number;
  completed: number;
  failed: number;
  waiting: number;
  workers: WorkerCounters[];
}

/**
 * Reads the counters; they change while they are read. Queued and running
 * jobs are counted from the slots' states: a worker terminated between a
 * claim and a counter update cannot leave them wrong.
 */
export function readCounters(state: PoolState): PoolCounters {
  const { control } = state.memory;
  let queued = 0;
  let runningTotal = 0;
  const running = new Map<number, number>();
  for (let slot = 0; slot < state.settings.slots; slot++) {
    const seen = Atomics.load(control, state.memory.slotWord(slot, S_STATE));
    const slotState = seen & STATE_MASK;
    if (slotState === QUEUED) queued++;
    else if (slotState === RUNNING) {
      const owner = seen >>> OWNER_SHIFT;
      running.set(owner, (running.get(owner) ?? 0) + 1);
      runningTotal++;
    }
  }
  const workers: WorkerCounters[] = [];
  for (let index = 0; index < state.settings.size; index++) {
    const id = Atomics.load(control, workerWord(index, W_ID));
    const inFlight = running.get(id) ?? 0;
    workers.push({
      id,
      inFlight,
      busy: inFlight > 0,
      completed: Atomics.load(control, workerWord(index, W_COMPLETED)),
      failed: Atomics.load(control, workerWord(index, W_FAILED)),
    });
  }
  return {
    queued,
    running: runningTotal,
    completed: Atomics.load(control, COMPLETED_COUNT),
    failed: Atomics.load(control, FAILED_COUNT),
    waiting: state.waiters.size,
    workers,
  };
}
