// The pool's counters, read from shared memory without messaging the
// workers (ThreadPoolStats in thread_pool.ts documents each field).
import {
  COMPLETED_COUNT,
  FAILED_COUNT,
  QUEUED_COUNT,
  RUNNING_COUNT,
  W_COMPLETED,
  W_FAILED,
  W_ID,
  W_IN_FLIGHT,
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

/** Reads the counters; they change while they are read. */
export function readCounters(state: PoolState): PoolCounters {
  const { control } = state.memory;
  const workers: WorkerCounters[] = [];
  for (let index = 0; index < state.settings.size; index++) {
    const inFlight = Atomics.load(control, workerWord(index, W_IN_FLIGHT));
    workers.push({
      id: Atomics.load(control, workerWord(index, W_ID)),
      inFlight,
      busy: inFlight > 0,
      completed: Atomics.load(control, workerWord(index, W_COMPLETED)),
      failed: Atomics.load(control, workerWord(index, W_FAILED)),
    });
  }
  return {
    queued: Atomics.load(control, QUEUED_COUNT),
    running: Atomics.load(control, RUNNING_COUNT),
    completed: Atomics.load(control, COMPLETED_COUNT),
    failed: Atomics.load(control, FAILED_COUNT),
    waiting: state.waiters.size,
    workers,
  };
}
