// Handing a job to the workers: take a free slot (or wait for one), write
// the job's name and arguments into it, mark it QUEUED and push its id into
// the job ring. Also what comes back about a job before it runs: an abort,
// and a worker asking for arguments that travel by message.
import type { Transferable as NodeTransferable } from "node:worker_threads";
import { PoolClosedError, QueueFullError } from "../errors.ts";
import type { Member } from "../_workers/worker_set.ts";
import { encodeInto, encodeText, KIND_MESSAGE } from "./codec.ts";
import { settle } from "./jobs.ts";
import { updateRef } from "./keep_alive.ts";
import {
  CANCELLED,
  type MainMessage,
  OWNER_SHIFT,
  QUEUED,
  RUNNING,
  S_NAME_LEN,
  S_REQ_KIND,
  S_REQ_LEN,
  S_STATE,
  S_TAKER,
  STATE_MASK,
} from "./layout.ts";
import type { Job, JobOptions, PoolState } from "./state.ts";
import type { Waiter } from "./waiters.ts";

// A push that finds the job ring "full" only races another thread between
// claiming and publishing a cell (the ring holds twice the slots); retry.
const PUSH_SPINS = 64;

/** Runs export `name` with `args` (both already checked) on a worker. */
export function run(
  state: PoolState,
  name: string,
  args: readonly unknown[],
  options: JobOptions,
): Promise<unknown> {
  if (state.failure !== undefined) return Promise.reject(state.failure);
  if (state.phase !== "open") return Promise.reject(new PoolClosedError());
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  // Callers already waiting go first: a slot given back for them (they get
  // it in a microtask, see slots.ts) is not taken by a newcomer.
  const slot = state.waiters.size === 0 ? state.free.pop() : undefined;
  if (slot !== undefined) {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    dispatch(state, slot, name, args, options, {
      resolve,
      reject,
      settled: false,
    });
    return promise;
  }
  if (!options.wait) {
    return Promise.reject(new QueueFullError(state.settings.queueCapacity));
  }
  return waitForSlot(state, name, args, options);
}

/** Queues the caller until a slot is given back (see slots.ts). */
function waitForSlot(
  state: PoolState,
  name: string,
  args: readonly unknown[],
  options: JobOptions,
): Promise<unknown> {
  const { promise, resolve, reject } = Promise.withResolvers<unknown>();
  const waiter: Waiter = {
    resolve,
    reject,
    settled: false,
    name,
    args,
    options,
    gone: false,
  };
  const { signal } = options;
  if (signal !== undefined) {
    // Replaced by the running job's listener once it has a slot.
    waiter.onAbort = () => {
      state.waiters.remove(waiter);
      updateRef(state);
      waiter.settled = true;
      reject(signal.reason);
    };
    signal.addEventListener("abort", waiter.onAbort, { once: true });
  }
  state.waiters.push(waiter);
  updateRef(state);
  return promise;
}

/**
 * Hands the free slots to waiting callers, oldest first. slots.ts runs it
 * in a microtask after slots were given back, so a batch of completions is
 * collected first and its new jobs are then written and pushed together.
 */
export function startWaiters(state: PoolState): void {
  state.startScheduled = false;
  if (state.phase !== "open") return;
  const { free, waiters } = state;
  while (free.length > 0 && waiters.size > 0) {
    const waiter = waiters.take()!;
    if (waiter.onAbort !== undefined) {
      waiter.options.signal!.removeEventListener("abort", waiter.onAbort);
    }
    dispatch(
      state,
      free.pop()!,
      waiter.name,
      waiter.args,
      waiter.options,
      waiter,
    );
  }
  updateRef(state);
}

/**
 * Writes `job` into the free `slot`, publishes it QUEUED and pushes its id.
 * If the job cannot be written its promise rejects and the slot stays free.
 */
function dispatch(
  state: PoolState,
  slot: number,
  name: string,
  args: readonly unknown[],
  options: JobOptions,
  job: Job,
): void {
  const { memory } = state;
  const { control, slotBytes } = memory;
  const base = slot * slotBytes;
  const region = memory.data.subarray(base, base + slotBytes);
  const nameLength = encodeText(name, region);
  if (nameLength === undefined) {
    return refuse(
      state,
      slot,
      job,
      new RangeError(
        `Cannot run job as its name is longer than the slot (${slotBytes} bytes): use a shorter export name`,
      ),
    );
  }
  let kind = KIND_MESSAGE;
  let length = 0;
  if (options.transfer === undefined || options.transfer.length === 0) {
    let encoded: [number, number] | undefined;
    try {
      encoded = encodeInto(args, region.subarray(nameLength));
    } catch (error) {
      return refuse(state, slot, job, error);
    }
    if (encoded !== undefined) [kind, length] = encoded;
  }
  if (kind === KIND_MESSAGE) {
    state.payloads.set(slot, { args, transfer: options.transfer });
  }
  control[memory.slotWord(slot, S_NAME_LEN)] = nameLength;
  control[memory.slotWord(slot, S_REQ_KIND)] = kind;
  control[memory.slotWord(slot, S_REQ_LEN)] = length;
  control[memory.slotWord(slot, S_TAKER)] = 0;
  Atomics.store(control, memory.slotWord(slot, S_STATE), QUEUED);

  const { signal } = options;
  if (signal !== undefined) {
    job.signal = signal;
    job.onAbort = () => abort(state, slot, job);
    signal.addEventListener("abort", job.onAbort, { once: true });
  }
  state.jobs[slot] = job;
  state.pending++;
  updateRef(state);
  push(state, slot);
}

/** A job that cannot be written: it rejects and its slot is free again. */
function refuse(
  state: PoolState,
  slot: number,
  job: Job,
  error: unknown,
): void {
  state.free.push(slot);
  job.settled = true;
  job.reject(error);
}

/**
 * Pushes the id of a QUEUED slot again: a worker popped it and died before
 * its claim (reclaim.ts). Left to close() once the ring is closed.
 */
export function requeue(state: PoolState, slot: number): void {
  if (!state.memory.jobs.closed) push(state, slot);
}

function push(state: PoolState, slot: number): void {
  if (state.retry.length === 0) {
    for (let spin = 0; spin < PUSH_SPINS; spin++) {
      if (state.memory.jobs.tryPush(slot)) return;
    }
  }
  state.retry.push(slot);
  state.retryTimer ??= setTimeout(() => flushRetries(state), 0);
}

function flushRetries(state: PoolState): void {
  state.retryTimer = undefined;
  const ring = state.memory.jobs;
  while (state.retry.length > 0 && !ring.closed) {
    if (!ring.tryPush(state.retry[0]!)) {
      state.retryTimer = setTimeout(() => flushRetries(state), 1);
      return;
    }
    state.retry.shift();
  }
}

/** Pushes every id still waiting for a retry now, before the ring closes. */
export function pushRetries(state: PoolState): void {
  while (state.retry.length > 0) {
    if (state.memory.jobs.tryPush(state.retry[0]!)) state.retry.shift();
  }
}

/** Forgets the ids waiting for a retry: their jobs are being abandoned. */
export function dropRetries(state: PoolState): void {
  state.retry.length = 0;
  if (state.retryTimer !== undefined) clearTimeout(state.retryTimer);
  state.retryTimer = undefined;
}

function abort(state: PoolState, slot: number, job: Job): void {
  if (job.settled) return;
  const { memory } = state;
  const seen = Atomics.compareExchange(
    memory.control,
    memory.slotWord(slot, S_STATE),
    QUEUED,
    CANCELLED,
  );
  settle(state, job, false, job.signal!.reason);
  if (seen === QUEUED) {
    // Still in the ring: the worker that pops it hands it back to be freed.
    state.payloads.delete(slot);
    return;
  }
  if ((seen & STATE_MASK) === RUNNING) {
    // A running job cannot be interrupted: replace its worker.
    const member = state.workers.byId(seen >>> OWNER_SHIFT);
    if (member !== undefined) state.workers.terminate(member);
  }
  // DONE: the result is in the slot; the completion loop frees it and drops it.
}

/** Answers a worker's "need": the arguments of `slot`, by message. */
export function sendPayload(
  state: PoolState,
  member: Member<undefined>,
  slot: number,
): void {
  const payload = state.payloads.get(slot);
  state.payloads.delete(slot);
  const reply: MainMessage = {
    type: "payload",
    slot,
    args: payload?.args,
    failed: payload === undefined,
  };
  try {
    // The web and node Transferable types differ only in MessagePort's
    // node extras; the objects are the same at run time.
    member.worker.postMessage(
      reply,
      payload?.transfer as NodeTransferable[] | undefined,
    );
  } catch (error) {
    // Not cloneable: reject this job only, and tell the worker so it
    // finishes the slot without calling the function.
    const job = state.jobs[slot];
    if (job !== undefined) settle(state, job, false, error);
    member.worker.postMessage({ ...reply, args: [], failed: true });
  }
}
