// The worker side of ThreadPool: load the job module, then take slot ids
// from the job ring, run the named export, write the result into the slot
// and hand the id back through the completion ring.
//
// While nothing is in flight the worker sleeps in Atomics.wait (pop). While
// async jobs are in flight it must keep its event loop turning, so it waits
// with popAsync and aborts that wait whenever one of its jobs settles.
import process from "node:process";
import { setImmediate, setTimeout as setNodeTimeout } from "node:timers";
import { parentPort, workerData } from "node:worker_threads";
import { RingBuffer } from "./ring_buffer.ts";
import {
  decode,
  decodeText,
  encodeInto,
  FLAG_ERROR,
  FLAG_THROWN_VALUE,
  KIND_MESSAGE,
  toWireError,
} from "./_codec.ts";
import {
  CANCELLED,
  COMPLETED_COUNT,
  DONE,
  FAILED_COUNT,
  type MainMessage,
  OWNER_SHIFT,
  type PoolWorkerData,
  QUEUED,
  QUEUED_COUNT,
  RUNNING,
  RUNNING_COUNT,
  S_NAME_LEN,
  S_REQ_KIND,
  S_REQ_LEN,
  S_RES_KIND,
  S_RES_LEN,
  S_STATE,
  SLOT_STRIDE,
  slotBase,
  W_COMPLETED,
  W_FAILED,
  W_IN_FLIGHT,
  W_LOADED,
  type WorkerMessage,
  workerWord,
} from "./_pool_layout.ts";

// Idle workers wake this often even without work: a finite wait lets
// worker.terminate() take effect and lets timers left by finished jobs run.
const IDLE_WAIT_MS = 250;
// Run at most this many synchronous jobs back to back before letting the
// event loop turn (timers, messages) once.
const SYNC_BATCH = 256;
// How long a drained worker waits for open handles before it exits anyway.
const EXIT_GRACE_MS = 200;

type Job = (...args: unknown[]) => unknown;

const port = parentPort!;
const config = workerData as PoolWorkerData;
const jobs = RingBuffer.from(config.jobs);
const completions = RingBuffer.from(config.completions);
const control = new Int32Array(config.control);
const data = new Uint8Array(config.data);
const { slotBytes, concurrency } = config;
const slotWords = slotBase(config.size);
const owner = (config.index + 1) << OWNER_SHIFT;
const inFlightWord = workerWord(config.index, W_IN_FLIGHT);

let jobModule: Record<string, unknown> | undefined;
// Async jobs (and jobs waiting for their arguments) not yet settled.
let inFlight = 0;
// Aborts a pending popAsync so the loop re-evaluates after a job settles.
let popAbort: AbortController | undefined;
const payloadWaiters = new Map<number, (message: MainMessage) => void>();

function post(message: WorkerMessage): void {
  port.postMessage(message);
}

function onMessage(message: MainMessage): void {
  if (message.type === "payload") {
    const resolve = payloadWaiters.get(message.slot);
    payloadWaiters.delete(message.slot);
    resolve?.(message);
  }
}

function word(slot: number, field: number): number {
  return slotWords + SLOT_STRIDE * slot + field;
}

/** Claims a popped slot and starts its job. */
function take(slot: number): void {
  // The CAS both claims the job and records us as its owner; it fails if
  // the main thread cancelled the queued job (an aborted signal).
  const seen = Atomics.compareExchange(
    control,
    word(slot, S_STATE),
    QUEUED,
    RUNNING | owner,
  );
  if (seen !== QUEUED) {
    if (seen === CANCELLED) completions.push(slot); // the main thread frees it
    return;
  }
  Atomics.sub(control, QUEUED_COUNT, 1);
  Atomics.add(control, RUNNING_COUNT, 1);
  Atomics.add(control, inFlightWord, 1);
  const base = slot * slotBytes;
  const nameLength = control[word(slot, S_NAME_LEN)]!;
  const name = decodeText(data.subarray(base, base + nameLength));
  const kind = control[word(slot, S_REQ_KIND)]!;
  if (kind === KIND_MESSAGE) {
    // Large or transferable arguments: ask the main thread for them. The
    // answer arrives as a message, so this job counts as async.
    track(
      new Promise<MainMessage>((resolve) => {
        payloadWaiters.set(slot, resolve);
        post({ type: "need", slot });
      }).then((reply) =>
        new Promise<void>((resolve) => {
          // Call the job from a macrotask, like pump() (see there).
          setImmediate(() => {
            if (reply.failed) {
              // Already rejected on the main thread; just free the slot.
              finish(slot, new TypeError("Arguments not sent"), true);
            } else invoke(slot, name, reply.args);
            resolve();
          });
        })
      ),
    );
    return;
  }
  let args: unknown;
  try {
    const length = control[word(slot, S_REQ_LEN)]!;
    args = decode(
      kind,
      data.subarray(base + nameLength, base + nameLength + length),
    );
  } catch (error) {
    finish(slot, error, true);
    return;
  }
  invoke(slot, name, args);
}

/** Calls the export; sync results finish at once, promises are tracked. */
function invoke(slot: number, name: string, args: unknown): void {
  const module = jobModule ?? {};
  const job = Object.hasOwn(module, name) ? module[name] : undefined;
  if (typeof job !== "function") {
    const names = Object.keys(module).filter((key) =>
      typeof module[key] === "function"
    );
    finish(
      slot,
      new TypeError(
        `Cannot run job '${name}' as the pool's module does not export a function of that name: it exports ${
          names.length === 0 ? "no functions" : names.join(", ")
        }`,
      ),
      true,
    );
    return;
  }
  let result: unknown;
  try {
    result = (job as Job)(...(args as unknown[]));
  } catch (error) {
    finish(slot, error, true);
    return;
  }
  if (
    result !== null && typeof result === "object" &&
    typeof (result as PromiseLike<unknown>).then === "function"
  ) {
    track(
      Promise.resolve(result).then(
        (value) => finish(slot, value, false),
        (error) => finish(slot, error, true),
      ),
    );
  } else {
    finish(slot, result, false);
  }
}

function track(work: Promise<void>): void {
  inFlight++;
  work.finally(() => {
    inFlight--;
    if (popAbort !== undefined) popAbort.abort(); // reschedules when it ends
    else schedule();
  });
}

/** Writes the outcome into the slot, then publishes it. */
function finish(slot: number, value: unknown, threw: boolean): void {
  const base = slot * slotBytes;
  const region = data.subarray(base, base + slotBytes);
  let kind: number;
  let length = 0;
  let payload = value;
  let flags = 0;
  if (threw) {
    if (value instanceof Error) {
      payload = toWireError(value);
      flags = FLAG_ERROR;
    } else {
      flags = FLAG_THROWN_VALUE;
    }
  }
  try {
    const encoded = encodeInto(payload, region);
    if (encoded === undefined) {
      // Posted before the id is pushed; the main thread waits for it.
      post({ type: "result", slot, value: payload });
      kind = KIND_MESSAGE;
    } else {
      [kind, length] = encoded;
    }
  } catch (error) {
    // The value cannot be cloned (a function, a symbol, ...): report that.
    threw = true;
    flags = FLAG_ERROR;
    const wire = toWireError(
      error instanceof Error ? error : new TypeError(String(error)),
    );
    const encoded = encodeInto(wire, region);
    if (encoded === undefined) {
      post({ type: "result", slot, value: wire });
      kind = KIND_MESSAGE;
    } else {
      [kind, length] = encoded;
    }
  }
  control[word(slot, S_RES_KIND)] = kind | flags;
  control[word(slot, S_RES_LEN)] = length;
  Atomics.sub(control, RUNNING_COUNT, 1);
  Atomics.sub(control, inFlightWord, 1);
  Atomics.add(control, threw ? FAILED_COUNT : COMPLETED_COUNT, 1);
  Atomics.add(
    control,
    workerWord(config.index, threw ? W_FAILED : W_COMPLETED),
    1,
  );
  // DONE before the push: if we die in between, the main thread still
  // finds the finished result by scanning the slots we own.
  Atomics.store(control, word(slot, S_STATE), DONE | owner);
  completions.push(slot);
}

function drained(): boolean {
  return jobs.closed && jobs.length === 0;
}

// Jobs are started only from pump(), which runs in a setImmediate callback:
// measured on Deno 2.9, a worker that hits its heap limit inside a promise
// job (microtask) or a message event hangs instead of exiting with
// ERR_WORKER_OUT_OF_MEMORY, while inside a timer or immediate callback it
// exits cleanly. setImmediate costs ~7 µs here; setTimeout(0) is clamped
// to ~2 ms.
let pumpScheduled = false;
let popPending = false;
let popped: number | undefined;
let stopping = false;

function schedule(): void {
  if (pumpScheduled || stopping) return;
  pumpScheduled = true;
  setImmediate(pump);
}

function pump(): void {
  pumpScheduled = false;
  if (popped !== undefined) {
    const slot = popped;
    popped = undefined;
    take(slot);
  }
  for (let budget = SYNC_BATCH; budget > 0; budget--) {
    if (inFlight === 0) {
      // Nothing in flight: sleeping in Atomics.wait costs no event loop.
      const slot = jobs.pop(IDLE_WAIT_MS);
      if (slot !== undefined) {
        take(slot);
        continue;
      }
      if (drained()) return stop();
      break; // timed out: let the event loop turn (timers left by jobs)
    }
    // Async jobs in flight: their promises need the event loop.
    if (inFlight >= concurrency || popPending) return; // a settle reschedules
    const slot = jobs.tryPop();
    if (slot !== undefined) {
      take(slot);
      continue;
    }
    if (drained()) return; // the last settle calls pump again, then stop()
    // Wait without blocking; a settling job aborts this wait, and popAsync
    // takes no slot after its signal aborted.
    popPending = true;
    popAbort = new AbortController();
    jobs.popAsync({ signal: popAbort.signal }).then(
      (slot) => {
        popped = slot;
      },
      () => {},
    ).finally(() => {
      popPending = false;
      popAbort = undefined;
      schedule();
    });
    return;
  }
  schedule();
}

function stop(): void {
  stopping = true;
  // Exit once the event loop is empty, so messages already posted are
  // delivered; but if the job module left timers or sockets open, force the
  // exit a little later, because close() joins us.
  port.off("message", onMessage);
  setNodeTimeout(() => process.exit(0), EXIT_GRACE_MS).unref();
}

port.on("message", onMessage);
try {
  jobModule = await import(config.module);
} catch (error) {
  post({
    type: "loadError",
    error: error instanceof Error ? toWireError(error) : error,
  });
  // Nothing keeps us alive now; the main thread terminates us anyway.
  port.off("message", onMessage);
}
if (jobModule !== undefined) {
  Atomics.store(control, workerWord(config.index, W_LOADED), 1);
  post({ type: "ready" });
  schedule();
}
