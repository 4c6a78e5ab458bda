// What a WorkerSet and its workers share besides the engine's own memory:
// one line of words per worker position, and the two messages every worker
// sends about loading its module.
//
// The supervision buffer (Int32 words), one 64-byte line per position:
//
//   word 16 * index + LOADED   id of the worker that loaded its module
//                              there (0 until one has), stored by the
//                              worker before its "ready" message
//   word 16 * index + HEAP_MIB its V8 heap in use, in MiB, stored by the
//                              worker about once a second
//   word 16 * index + RETIRE   1 once main asked it to take no new work,
//                              finish what it has and exit
//   word 16 * index + 3..15    unused
//
// The word outlives the message: a worker whose "ready" is still in flight
// when it dies has loaded all the same, so its exit is a crash to recover
// from, not a module that fails to load. An id, not a flag, so the next
// worker at the same position cannot inherit it.
import type { WireError } from "../_common/wire_error.ts";

/** Words per position: one cache line, so positions never false-share. */
export const STRIDE = 16;
/** The id of the worker that loaded its module at this position. */
export const LOADED = 0;
/** The worker's V8 heap in use, in MiB. */
export const HEAP_MIB = 1;
/** 1: take no new work, finish what you have, exit. */
export const RETIRE = 2;
/** How often a worker stores its heap size. */
export const HEAP_REPORT_MS = 1000;

/** Bytes of the supervision buffer for `capacity` positions. */
export function supervisionBytes(capacity: number): number {
  return capacity * STRIDE * 4;
}

/** Merged into every worker's `workerData` by its WorkerSet. */
export interface SupervisionData {
  /** The supervision buffer above. */
  supervision: SharedArrayBuffer;
  /** The worker's position in its set (0-based; a replacement reuses it). */
  index: number;
  /** Unique per started worker, within its set (1-based). */
  id: number;
}

/** The messages of loading, worker -> main; engines add their own. */
export type SupervisionMessage =
  | { type: "ready" }
  | { type: "load-error"; error: WireError };
