// The shared memory of a ThreadPool, besides its two RingBuffers (the job
// ring carries slot ids from the main thread to the workers, the completion
// ring carries them back).
//
// Control block: one SharedArrayBuffer of Int32 words.
//
//   words 0-1        (unused: queued and running jobs are counted from the
//                    slots' states by stats.ts, which a dying worker cannot
//                    leave half-updated)
//   word 2           COMPLETED  jobs that returned a value
//   word 3           FAILED     jobs that threw, or were lost with their worker
//   word 16 + 8w     worker w:  (1 word unused), W_COMPLETED, W_FAILED, W_ID,
//                               (4 words unused)
//   firstSlotWord    slot s:    S_STATE, S_NAME_LEN, S_REQ_KIND, S_REQ_LEN,
//     + 8s                      S_RES_KIND, S_RES_LEN, S_TAKER, (1 word unused)
//
//   Whether a worker has loaded the job module is not here: that is the
//   LOADED word of its WorkerSet's supervision buffer (_workers/supervision.ts).
//
//   S_STATE = state | (owner << OWNER_SHIFT); owner = the worker's id
//   (unique per started thread, W_ID), set by the same compare-and-swap that
//   claims the job, so when a worker dies the main thread finds every job it
//   had claimed. S_TAKER = the id of the worker that popped the slot's id,
//   stored right after the pop with no call in between (a terminate lands at
//   a call or a loop's back edge), so a job whose id a dying worker popped
//   but never claimed is found QUEUED with that taker, and pushed again.
//   Every pop is a synchronous one for that reason (with async jobs in
//   flight a worker waits with waitForValueAsync, then pops). Deno emits a
//   worker's exit within terminate(), while its thread may still run for a
//   moment: main looks at a dead worker's slots again later (reclaim.ts),
//   and owners being ids, not positions, its replacement is not mistaken
//   for it.
//
//       FREE --main--> QUEUED --worker CAS--> RUNNING --worker--> DONE --main--> FREE
//                        \--main CAS (abort)--> CANCELLED --worker hands back--> FREE
//
// Data block: a second SharedArrayBuffer of `slots * slotBytes` bytes.
//
//   [s * slotBytes, (s + 1) * slotBytes)   slot s:
//        request:  name (S_NAME_LEN bytes, UTF-8) | arguments (S_REQ_LEN bytes)
//        result:   result (S_RES_LEN bytes), written over the request
//
// Kinds (S_REQ_KIND, S_RES_KIND) are the KIND_* and FLAG_* of codec.ts.

export const COMPLETED_COUNT = 2;
export const FAILED_COUNT = 3;

export const WORKER_BASE = 16;
export const WORKER_STRIDE = 8;
export const W_COMPLETED = 1;
export const W_FAILED = 2;
export const W_ID = 3;

export const SLOT_STRIDE = 8;
export const S_STATE = 0;
export const S_NAME_LEN = 1;
export const S_REQ_KIND = 2;
export const S_REQ_LEN = 3;
export const S_RES_KIND = 4;
export const S_RES_LEN = 5;
export const S_TAKER = 6;

export const STATE_MASK = 0xf;
export const OWNER_SHIFT = 4;
export const FREE = 0;
export const QUEUED = 1;
export const RUNNING = 2;
export const DONE = 3;
export const CANCELLED = 4;

/** Word index of worker `index`'s field `field`. */
export function workerWord(index: number, field: number): number {
  return WORKER_BASE + WORKER_STRIDE * index + field;
}

/** Word index of the first slot word, after the worker words, on its own 64-byte line. */
export function firstSlotWord(size: number): number {
  return (WORKER_BASE + WORKER_STRIDE * size + 15) & ~15;
}

/** Int32 words the control block needs. */
export function controlWords(size: number, slots: number): number {
  return firstSlotWord(size) + SLOT_STRIDE * slots;
}

/** The shared buffers of a pool, as a worker receives them. */
export interface PoolBuffers {
  jobs: SharedArrayBuffer;
  completions: SharedArrayBuffer;
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
  /** Pool size, to find the slot words. */
  size: number;
  slotBytes: number;
}

/**
 * What a pool worker receives as `workerData`, besides its WorkerSet's
 * supervision data (its `index`: owner = index + 1).
 */
export interface PoolWorkerData extends PoolBuffers {
  /** URL of the job module. */
  module: string;
  concurrency: number;
}

/** Worker → main thread messages (besides "ready" and "load-error"). */
export type WorkerMessage =
  | { type: "need"; slot: number }
  | { type: "result"; slot: number; value: unknown };

/** Main thread → worker messages. */
export type MainMessage = {
  type: "payload";
  slot: number;
  args: unknown;
  /** The arguments could not be sent; the job was already rejected. */
  failed?: boolean;
};
