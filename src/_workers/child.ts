// The worker's side of supervision: report that the module loaded, or why
// it did not. Both engines' worker entries call these.
import { parentPort, workerData } from "node:worker_threads";
import { toWireError } from "../_common/wire_error.ts";
import {
  LOADED,
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

/** Reports that the module failed to load; the worker should then end. */
export function reportLoadError(error: unknown): void {
  parentPort!.postMessage(
    {
      type: "load-error",
      error: toWireError(error),
    } satisfies SupervisionMessage,
  );
}
