// The worker's side of supervision: report that the module loaded, or why
// it did not. Both engines' worker entries call these.
import process from "node:process";
import { setInterval } from "node:timers";
import { parentPort, workerData } from "node:worker_threads";
import { toWireError } from "../_common/wire_error.ts";
import {
  HEAP_MIB,
  HEAP_REPORT_MS,
  LOADED,
  RETIRE,
  STRIDE,
  type SupervisionData,
  type SupervisionMessage,
} from "./supervision.ts";

/** This worker's supervision data, from its `workerData`. */
export function supervisionData(): SupervisionData {
  return workerData as SupervisionData;
}

/** Marks this worker as loaded (before the message: see supervision.ts). */
export function reportReady(): void {
  const { supervision, index, id } = supervisionData();
  Atomics.store(new Int32Array(supervision), index * STRIDE + LOADED, id);
  parentPort!.postMessage({ type: "ready" } satisfies SupervisionMessage);
}

/** This worker's supervision words, and where its line starts (made once). */
function line(): { words: Int32Array; base: number } {
  if (view === undefined) {
    const { supervision, index } = supervisionData();
    view = { words: new Int32Array(supervision), base: index * STRIDE };
  }
  return view;
}
// A view of memory that never changes for this worker: made on first use.
let view: { words: Int32Array; base: number } | undefined;

/** Stores the heap size now and about once a second (a timer that keeps nothing alive). */
export function reportHeap(): void {
  const { words, base } = line();
  const store = () =>
    Atomics.store(
      words,
      base + HEAP_MIB,
      Math.round(process.memoryUsage().heapUsed / (1024 * 1024)),
    );
  store();
  setInterval(store, HEAP_REPORT_MS).unref();
}

/**
 * Whether main asked the worker of `data` to retire (take no new work,
 * finish, exit); from the data given, so it also works without a thread.
 */
export function retireFlag(
  data: Pick<SupervisionData, "supervision" | "index">,
): () => boolean {
  const words = new Int32Array(data.supervision);
  const at = data.index * STRIDE + RETIRE;
  return () => Atomics.load(words, at) === 1;
}

/** Reports that the module failed to load; the worker should then end. */
export function reportLoadError(error: unknown): void {
  parentPort!.postMessage(
    {
      type: "load-error",
      error: toWireError(error),
    } satisfies SupervisionMessage,
  );
}
