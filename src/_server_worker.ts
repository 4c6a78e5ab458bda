// Worker entry of the HTTP server: claims request slots from the shared
// request ring, runs the user's handler and writes the response back into
// the slot. The wire layout is drawn in ./_server_wire.ts.
import { parentPort, workerData } from "node:worker_threads";
import { setImmediate } from "node:timers";
import { RingBuffer } from "./ring_buffer.ts";
import {
  BULK_BYTES,
  type BulkRequest,
  type BulkResponse,
  C_CLAIM,
  C_FLAGS,
  C_HEAD_LEN,
  C_OWNER,
  C_REQ_LEN,
  C_RES_HEAD_LEN,
  C_RES_LEN,
  C_WANTS_COMPLETED,
  CHUNK_BYTES,
  EV_CHUNK,
  EV_END,
  EV_ERROR,
  EV_PULL,
  EV_RELEASE,
  EV_RELEASE_ONLY,
  EV_RESPONSE_FULL,
  EV_RESPONSE_STREAM,
  F_ABORTED,
  F_BODY_INLINE,
  F_BODY_MESSAGE,
  F_BODY_STREAM,
  HEAD_AREA,
  IN_ABORT,
  IN_COMPLETED,
  IN_COMPLETED_FAILED,
  IN_CREDIT,
  IN_REQ_CHUNK,
  IN_REQ_END,
  IN_REQ_ERROR,
  REQ_AREA,
  RES_AREA,
  RES_BYTES,
  SLOT_MASK,
  slotBase,
  W_BUSY_BELL,
  W_CLAIMED,
  W_DOORBELL,
  W_IDLE_BUSY,
  W_IDLE_WORKERS,
  W_MAIN_BELL,
  W_MAIN_SLEEPING,
  W_POLLING,
  W_WAKING,
  W_WORKER_INFLIGHT,
  W_WORKER_POLLING,
  type WorkerData,
  type WorkerMessage,
} from "./_server_wire.ts";

interface Handler {
  fetch(
    request: Request,
    info: ServeHandlerInfo,
  ): Response | Promise<Response>;
}

/** The second argument of the handler, like `Deno.ServeHandlerInfo`. */
interface ServeHandlerInfo {
  remoteAddr: { transport: "tcp"; hostname: string; port: number };
  completed: Promise<void>;
  workerId: number;
}

const data = workerData as WorkerData;
const port = parentPort!;
const workerId = data.workerId;
const bytes = new Uint8Array(data.control);
const words = new Int32Array(data.control);
const requests = RingBuffer.from(data.requests);
const events = RingBuffer.from(data.events);
const inbox = RingBuffer.from(data.inbox);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Atomics.waitAsync does not keep the event loop alive; this timer does,
// until the request ring is closed and every request released.
const keepAlive = setInterval(() => {}, 1 << 30);

// A handler's stray rejection must not kill the worker and its other requests.
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  console.error(
    `ringpool worker ${workerId}: unhandled rejection:`,
    event.reason,
  );
});

type Waiter = (type: number) => void;

/** Longest an idle worker blocks before it lets its event loop run. */
const IDLE_WAIT_MS = 20;

class Task {
  readonly slot: number;
  readonly base: number;
  readonly word: number;
  /** Created on first use of `request.signal`: most handlers never look. */
  controller: AbortController | undefined = undefined;
  aborted = false;
  released = false;
  pullOutstanding = false;
  responseDone = false;
  hasCredit = false;
  bodyWaiter: Waiter | undefined;
  creditWaiter: Waiter | undefined;
  reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  /** The whole request body of a BulkRequest. */
  bulkBody: ArrayBuffer | undefined = undefined;
  /** Created on first use of `info.completed`. */
  completedPromise: Promise<void> | undefined = undefined;
  settleCompleted: ((delivered: boolean) => void) | undefined = undefined;

  constructor(slot: number) {
    this.slot = slot;
    this.base = slotBase(slot);
    this.word = this.base >> 2;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(abortReason());
    }
    return this.controller.signal;
  }

  get completed(): Promise<void> {
    if (this.completedPromise === undefined) {
      if (this.released) {
        // Too late to ask main: the response was handed over already.
        this.completedPromise = Promise.resolve();
      } else {
        this.completedPromise = new Promise((resolve, reject) => {
          this.settleCompleted = (delivered) =>
            delivered ? resolve() : reject(
              new Error("The response was not delivered to the client"),
            );
        });
        // Like Deno.serve's, a rejection nobody awaits is not an error.
        this.completedPromise.catch(() => {});
        // Read by main when we release the slot (the event orders it).
        words[this.word + C_WANTS_COMPLETED] = 1;
      }
    }
    return this.completedPromise;
  }
}

function abortReason(): DOMException {
  return new DOMException("The request was aborted", "AbortError");
}

/**
 * The handler's request. Passing `signal` to `new Request` costs Deno a
 * dependent AbortSignal per request (measured ~2.8 µs, a third of building
 * the request); this one creates its signal only when the handler asks.
 */
class WorkerRequest extends Request {
  readonly #task: Task;

  constructor(url: string, init: RequestInit, task: Task) {
    super(url, init);
    this.#task = task;
  }

  override get signal(): AbortSignal {
    return this.#task.signal;
  }
}

/** The handler's `info`, with `completed` created on first use. */
class Info implements ServeHandlerInfo {
  readonly remoteAddr: { transport: "tcp"; hostname: string; port: number };
  readonly workerId: number;
  readonly #task: Task;

  constructor(hostname: string, port: number, task: Task) {
    this.remoteAddr = { transport: "tcp", hostname, port };
    this.workerId = workerId;
    this.#task = task;
  }

  get completed(): Promise<void> {
    return this.#task.completed;
  }
}

const tasks = new Map<number, Task>();
/**
 * Per slot, the `info.completed` of released requests, oldest first: main
 * answers each with IN_COMPLETED(_FAILED) once the client has the response.
 */
const awaitingCompletion = new Map<
  number,
  ((delivered: boolean) => void)[]
>();
let inFlight = 0;

function send(task: Task, type: number): void {
  let event = (task.slot << 4) | type;
  if (type & EV_RELEASE) markReleased(task);
  if (type === EV_RELEASE) {
    event = (task.slot << 4) | EV_RELEASE_ONLY | EV_RELEASE;
  }
  // The event ring is sized so it cannot fill; push() only waits if main
  // stalls, and only for a moment.
  events.push(event);
  if (!bellPending) {
    bellPending = true;
    queueMicrotask(ringMainBell);
  }
}

/** Our side of a release: the slot is main's again once it hears of it. */
function markReleased(task: Task): void {
  task.released = true;
  tasks.delete(task.slot);
  inFlight--;
  Atomics.sub(words, W_WORKER_INFLIGHT + workerId - 1, 1);
  if (task.settleCompleted !== undefined) {
    const queue = awaitingCompletion.get(task.slot);
    if (queue === undefined) {
      awaitingCompletion.set(task.slot, [task.settleCompleted]);
    } else queue.push(task.settleCompleted);
  }
  if (inFlight === 0 && requests.closed && requests.length === 0) {
    resolveDrained();
  } else if (inFlight === data.concurrency - 1) schedulePump();
}

// One wake-up of main per turn of our event loop, and only if it sleeps.
let bellPending = false;
function ringMainBell(): void {
  if (!bellPending) return;
  bellPending = false;
  // Our push (seq-cst) came first; main announces sleep before re-checking.
  if (Atomics.load(words, W_MAIN_SLEEPING) === 1) {
    Atomics.add(words, W_MAIN_BELL, 1);
    Atomics.notify(words, W_MAIN_BELL, 1);
  }
}

/** Sleeps until main rings the doorbell (or `ms` pass), blocking the thread. */
function sleepIdle(ms: number): void {
  // A blocking wait would hold back the queued bell: ring it first.
  ringMainBell();
  const seen = Atomics.load(words, W_DOORBELL);
  Atomics.add(words, W_IDLE_WORKERS, 1);
  // Announced before this check: a ticket pushed after it rings the bell.
  if (requests.length === 0 && !requests.closed) {
    if (Atomics.wait(words, W_DOORBELL, seen, ms) === "ok") {
      // Notified, so counted in WAKING: poll first, then leave WAKING.
      setPolling(true);
      Atomics.sub(words, W_WAKING, 1);
    }
  }
  Atomics.sub(words, W_IDLE_WORKERS, 1);
}

/** Waits for the doorbell without blocking our handlers' event loop. */
async function sleepBusy(): Promise<void> {
  const seen = Atomics.load(words, W_BUSY_BELL);
  Atomics.add(words, W_IDLE_BUSY, 1);
  try {
    if (requests.length === 0 && !requests.closed) {
      const waiting = Atomics.waitAsync(words, W_BUSY_BELL, seen);
      if (waiting.async) await waiting.value;
    }
  } finally {
    Atomics.sub(words, W_IDLE_BUSY, 1);
  }
}

/** Releases the slot once nothing main might still write into it is pending. */
function maybeRelease(task: Task, lastEvent = 0): void {
  if (task.released) return;
  if (task.pullOutstanding) {
    if (lastEvent !== 0) send(task, lastEvent);
    return; // released when main answers the pull
  }
  send(task, lastEvent | EV_RELEASE);
}

function abortTask(task: Task): void {
  if (task.aborted) return;
  task.aborted = true;
  // After an abort main never writes the slot again, so an outstanding pull
  // will not be answered and need not be waited for.
  task.pullOutstanding = false;
  task.controller?.abort(abortReason());
  task.bodyWaiter?.(IN_REQ_ERROR);
  task.creditWaiter?.(IN_ABORT);
  task.reader?.cancel().catch(() => {});
  task.responseDone = true;
  maybeRelease(task);
}

function onInbox(event: number): void {
  const type = event & 7;
  if (type === IN_COMPLETED || type === IN_COMPLETED_FAILED) {
    const slot = event >>> 4;
    const queue = awaitingCompletion.get(slot);
    const settle = queue?.shift();
    if (queue?.length === 0) awaitingCompletion.delete(slot);
    return settle?.(type === IN_COMPLETED);
  }
  const task = tasks.get(event >>> 4);
  if (task === undefined) return;
  if (type === IN_ABORT) return abortTask(task);
  if (type === IN_CREDIT) {
    const waiter = task.creditWaiter;
    task.creditWaiter = undefined;
    // The credit may arrive before we wait for it (the body is still
    // producing its next chunk): keep it.
    if (waiter === undefined) task.hasCredit = true;
    else waiter(type);
    return;
  }
  // A reply to our pull: main no longer writes REQ_AREA until the next pull.
  task.pullOutstanding = false;
  const waiter = task.bodyWaiter;
  task.bodyWaiter = undefined;
  if (waiter !== undefined) waiter(type);
  else if (task.responseDone) maybeRelease(task);
}

/**
 * Copies bytes out of shared memory: allocating and `set()`ting is faster
 * than `slice()` on a SharedArrayBuffer view (~6 vs ~9 µs for 64 KiB).
 */
function copyOut(start: number, length: number): Uint8Array<ArrayBuffer> {
  const copy = new Uint8Array(length);
  copy.set(bytes.subarray(start, start + length));
  return copy;
}

function requestBody(task: Task, flags: number): BodyInit | null {
  const base = task.base;
  if (flags & F_BODY_MESSAGE) {
    const body = task.bulkBody!;
    task.bulkBody = undefined;
    return body;
  }
  if (flags & F_BODY_INLINE) {
    const length = words[task.word + C_REQ_LEN]!;
    return copyOut(base + REQ_AREA, length);
  }
  if (!(flags & F_BODY_STREAM)) return null;
  let finished = false;
  return new ReadableStream<Uint8Array>({
    pull: (controller) => {
      if (finished) return;
      if (task.aborted) {
        finished = true;
        controller.error(task.signal.reason);
        return;
      }
      return new Promise<void>((resolve) => {
        task.bodyWaiter = (type) => {
          if (type === IN_REQ_CHUNK) {
            const length = words[task.word + C_REQ_LEN]!;
            controller.enqueue(
              copyOut(base + REQ_AREA, length),
            );
          } else if (type === IN_REQ_END) {
            finished = true;
            controller.close();
          } else {
            finished = true;
            controller.error(
              task.aborted
                ? task.signal.reason
                : new Error("The request body could not be read in full"),
            );
          }
          if (task.responseDone && !task.pullOutstanding) maybeRelease(task);
          resolve();
        };
        task.pullOutstanding = true;
        send(task, EV_PULL);
      });
    },
  }, { highWaterMark: 0 });
}

function encodeHead(response: Response): string {
  let head = String(response.status);
  for (const [name, value] of response.headers) {
    head += "\n" + name + "\n" + value;
  }
  return head;
}

/** Waits for main to copy the chunk in RES_AREA; false if the request was aborted. */
function credit(task: Task): Promise<boolean> {
  if (task.aborted) return Promise.resolve(false);
  if (task.hasCredit) {
    task.hasCredit = false;
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    task.creditWaiter = (type) => resolve(type === IN_CREDIT && !task.aborted);
  });
}

// Resolves after a few microtask turns: long enough for a read of a body
// that is already in memory, far shorter than any real stream's next chunk.
function soon(): Promise<typeof SOON> {
  return Promise.resolve().then(() => undefined).then(() => undefined).then(
    () => SOON,
  );
}
const SOON = Symbol("soon");

// Deno 2.9 keeps the status, body and content type of a Response built as
// `new Response(string | BufferSource, { headers?: only content-type })`
// in internal fields for Deno.serve's fast path, until anything reads its
// headers or body. Reading them lets us copy such a body straight into the
// slot, skipping the ReadableStream Deno would otherwise create for us
// (measured ~3 µs of ~19 µs per request). The fields are found by their
// description and checked against a known response; if a Deno version lays
// them out differently, FAST stays undefined and every response takes the
// stream path.
interface FastFields {
  status: symbol;
  body: symbol;
  kind: symbol;
  contentType: symbol;
  consumed: symbol;
}
const FAST: FastFields | undefined = (() => {
  const probe = new Response("ok", { headers: { "content-type": "a/b" } });
  const find = (name: string) =>
    Object.getOwnPropertySymbols(probe).find((s) => s.description === name);
  const fields = {
    status: find("serve fast status"),
    body: find("serve fast body"),
    kind: find("serve fast header kind"),
    contentType: find("serve fast content type"),
    consumed: find("serve fast consumed"),
  };
  const read = (response: Response, field: symbol | undefined) =>
    field === undefined
      ? undefined
      : (response as unknown as Record<symbol, unknown>)[field];
  const plain = new Response("ok");
  const binary = new Response(new Uint8Array(1));
  const custom = new Response("ok", { headers: { "x-a": "b" } });
  if (
    read(probe, fields.status) !== 200 || read(probe, fields.body) !== "ok" ||
    read(probe, fields.kind) !== 2 ||
    read(probe, fields.contentType) !== "a/b" ||
    read(probe, fields.consumed) !== false ||
    read(plain, fields.kind) !== 1 || read(binary, fields.kind) !== 0 ||
    !(read(binary, fields.body) instanceof Uint8Array) ||
    read(custom, fields.status) !== 0
  ) return undefined;
  return fields as FastFields;
})();

/** Writes a fast-path response straight into the slot; false if it is not one. */
function respondFast(task: Task, response: Response): boolean {
  const fields = FAST!;
  const internal = response as unknown as Record<symbol, unknown>;
  if (internal[fields.status] !== 200 || internal[fields.consumed] !== false) {
    return false;
  }
  const body = internal[fields.body];
  const kind = internal[fields.kind];
  let head: string;
  if (kind === 0) head = "200";
  else if (kind === 1) head = "200\ncontent-type\ntext/plain;charset=UTF-8";
  else if (kind === 2 && typeof internal[fields.contentType] === "string") {
    head = "200\ncontent-type\n" + internal[fields.contentType];
  } else return false;
  const area = task.base + RES_AREA;
  const end = area + RES_BYTES;
  const headResult = encoder.encodeInto(head, bytes.subarray(area, end));
  if (headResult.read < head.length) return false;
  const headLength = headResult.written;
  let used = headLength;
  if (typeof body === "string") {
    const result = encoder.encodeInto(body, bytes.subarray(area + used, end));
    if (result.read < body.length) return false; // too large: stream it
    used += result.written;
  } else if (body instanceof Uint8Array) {
    if (body.byteLength > RES_BYTES - used) {
      if (body.byteLength > BULK_BYTES || task.pullOutstanding) return false;
      // Deno's own copy might be shared with a clone: send a copy of it.
      words[task.word + C_RES_HEAD_LEN] = headLength;
      sendBulk(task, body.slice());
      return true;
    }
    bytes.set(body, area + used);
    used += body.byteLength;
  } else return false;
  words[task.word + C_RES_HEAD_LEN] = headLength;
  words[task.word + C_RES_LEN] = used;
  task.responseDone = true;
  maybeRelease(task, EV_RESPONSE_FULL);
  return true;
}

async function respond(task: Task, response: Response): Promise<void> {
  if (FAST !== undefined && respondFast(task, response)) return;
  const base = task.base;
  const area = base + RES_AREA;
  const head = encodeHead(response);
  const headResult = encoder.encodeInto(
    head,
    bytes.subarray(area, area + CHUNK_BYTES),
  );
  if (headResult.read < head.length) {
    throw new Error("The response head is larger than 64 KiB");
  }
  const headLength = headResult.written;
  words[task.word + C_RES_HEAD_LEN] = headLength;
  let used = headLength;
  if (response.body === null) {
    words[task.word + C_RES_LEN] = used;
    task.responseDone = true;
    maybeRelease(task, EV_RESPONSE_FULL);
    return;
  }
  const reader = response.body.getReader();
  task.reader = reader;
  // Gather what the body has ready at once (a few microtask turns).
  const ready: Uint8Array[] = [];
  let total = 0;
  let complete = false;
  let next: Promise<ReadableStreamReadResult<Uint8Array>> | undefined = reader
    .read();
  for (;;) {
    const result = total === 0
      ? await next
      : await Promise.race([next, soon()]);
    if (task.aborted) return;
    if (result === SOON) break; // a live stream: send what we have
    next = undefined;
    if (result.done) {
      complete = true;
      break;
    }
    const chunk = toBytes(result.value);
    ready.push(chunk);
    total += chunk.byteLength;
    if (total > BULK_BYTES) break;
    next = reader.read();
  }
  if (complete && total <= RES_BYTES - used) {
    for (const chunk of ready) {
      bytes.set(chunk, area + used);
      used += chunk.byteLength;
    }
    words[task.word + C_RES_LEN] = used;
    task.responseDone = true;
    maybeRelease(task, EV_RESPONSE_FULL);
    return;
  }
  if (complete && !task.pullOutstanding) {
    // Whole but larger than the slot: one message instead of a stream of
    // chunks, each a round trip with main.
    const body = new Uint8Array(total);
    let offset = 0;
    for (const chunk of ready) {
      body.set(chunk, offset);
      offset += chunk.byteLength;
    }
    task.reader = undefined;
    sendBulk(task, body);
    return;
  }
  // Stream: the head and whatever fits of the first chunks, then the rest.
  let pending: Uint8Array | undefined;
  let queued = 0;
  while (queued < ready.length) {
    const chunk = ready[queued]!;
    if (used + chunk.byteLength > RES_BYTES) break;
    bytes.set(chunk, area + used);
    used += chunk.byteLength;
    queued++;
  }
  if (queued < ready.length) pending = ready[queued++];
  words[task.word + C_RES_LEN] = used;
  send(task, EV_RESPONSE_STREAM);
  for (;;) {
    if (pending === undefined && queued < ready.length) {
      pending = ready[queued++];
    }
    if (pending === undefined) {
      if (complete) break;
      const result = await (next ?? reader.read());
      next = undefined;
      if (task.aborted) return;
      if (result.done) break;
      pending = toBytes(result.value);
      if (pending.byteLength === 0) {
        pending = undefined;
        continue;
      }
    }
    // Main copies the previous chunk before the area is ours again.
    if (!await credit(task)) return;
    const length = Math.min(pending.byteLength, CHUNK_BYTES);
    bytes.set(pending.subarray(0, length), area);
    words[task.word + C_RES_LEN] = length;
    pending = length < pending.byteLength
      ? pending.subarray(length)
      : undefined;
    send(task, EV_CHUNK);
  }
  if (!await credit(task)) return;
  task.responseDone = true;
  maybeRelease(task, EV_END);
}

/**
 * Sends a whole response body as a BulkResponse (its head is in RES_AREA),
 * which releases the slot. Only when no PULL is unanswered, so no ring
 * event of ours for the slot can arrive after it.
 */
function sendBulk(task: Task, body: Uint8Array<ArrayBuffer>): void {
  task.responseDone = true;
  markReleased(task);
  const message: BulkResponse = {
    type: "response",
    slot: task.slot,
    body: body.buffer,
  };
  port.postMessage(message, [body.buffer]);
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError("The response body stream must yield Uint8Array chunks");
}

function fail(task: Task, error: unknown): void {
  if (task.released) return;
  if (!task.aborted) {
    console.error(`ringpool worker ${workerId}: the handler failed:`, error);
  }
  task.responseDone = true;
  task.reader?.cancel().catch(() => {});
  maybeRelease(task, EV_ERROR);
}

/**
 * Starts the handler. A response it returns synchronously is handed over
 * at once, before the caller can start another handler; only a promise
 * waits for a later microtask.
 */
function run(handler: Handler, task: Task): void {
  let result: Response | Promise<Response>;
  try {
    const base = task.base;
    const flags = Atomics.load(words, task.word + C_FLAGS);
    const headLength = words[task.word + C_HEAD_LEN]!;
    const head = decoder.decode(
      bytes.subarray(base + HEAD_AREA, base + HEAD_AREA + headLength),
    ).split("\n");
    // Pairs, not a Headers: Request would copy (and validate) it again.
    const headers: [string, string][] = [];
    for (let i = 4; i + 1 < head.length; i += 2) {
      headers.push([head[i]!, head[i + 1]!]);
    }
    // Inside the try: Request refuses some methods (CONNECT, TRACE), and
    // that must become a 500 for this request, not a stuck slot.
    const request = new WorkerRequest(head[1]!, {
      method: head[0]!,
      headers,
      body: requestBody(task, flags),
    }, task);
    const info = new Info(head[2]!, Number(head[3]), task);
    result = handler.fetch(request, info);
  } catch (error) {
    return fail(task, error);
  }
  if (result instanceof Response) return deliver(task, result);
  Promise.resolve(result).then(
    (response) => deliver(task, response),
    (error) => fail(task, error),
  );
}

/** Hands the handler's response to main (its synchronous part runs now). */
function deliver(task: Task, response: unknown): void {
  if (task.aborted) return;
  if (!(response instanceof Response)) {
    return fail(task, new TypeError("The handler must return a Response"));
  }
  respond(task, response).catch((error) => fail(task, error));
}

// Requests are started only from pump(), which runs in a setImmediate
// callback, so the synchronous part of every handler call runs inside a
// macrotask. Measured on Deno 2.9.6: a node worker that reaches its heap
// limit (resourceLimits) inside an immediate or timer callback exits with
// ERR_WORKER_OUT_OF_MEMORY, but inside a promise job (microtask) or a
// message event it hangs. Keeping the loop in one immediate costs nothing
// per request: a pump claims every ticket it finds in one go.
let handler: Handler;
let pumpScheduled = false;
/** Whether pump() already let the event loop turn once since its last claim. */
let yielded = false;
/** Whether a sleepBusy() wait is outstanding. */
let busyWaiting = false;
let resolveDrained!: () => void;
const drained = new Promise<void>((resolve) => resolveDrained = resolve);

function schedulePump(): void {
  if (pumpScheduled) return;
  pumpScheduled = true;
  setImmediate(pump);
}

/** Whether this worker counts in W_POLLING. */
let polling = false;

const pollingWord = W_WORKER_POLLING + workerId - 1;

function setPolling(on: boolean): void {
  if (polling === on) return;
  polling = on;
  // The flag is set before and cleared after the count changes: should we
  // die in between, main's correction can only undercount.
  if (on) {
    Atomics.store(words, pollingWord, 1);
    Atomics.add(words, W_POLLING, 1);
  } else {
    Atomics.sub(words, W_POLLING, 1);
    Atomics.store(words, pollingWord, 0);
  }
}

/** Wakes one sleeping worker if tickets are queued and nobody polls. */
function passOn(): void {
  // Runs after setPolling(false) (seq-cst): a push main skipped ringing for
  // because we polled is visible here.
  if (requests.length === 0 || Atomics.load(words, W_POLLING) > 0) return;
  // An idle worker first: it polls at once (see _server_wire.ts).
  if (Atomics.load(words, W_IDLE_WORKERS) > 0) {
    Atomics.add(words, W_DOORBELL, 1);
    const woken = Atomics.notify(words, W_DOORBELL, 1);
    if (woken > 0) {
      Atomics.add(words, W_WAKING, woken);
      return;
    }
  }
  if (Atomics.load(words, W_IDLE_BUSY) > 0) {
    Atomics.add(words, W_BUSY_BELL, 1);
    Atomics.notify(words, W_BUSY_BELL, 1);
  }
}

function pump(): void {
  pumpScheduled = false;
  // Until we leave, main need not ring for us: we pop before we sleep.
  setPolling(true);
  for (;;) {
    if (inFlight >= data.concurrency) {
      // At capacity: the next release schedules us again.
      setPolling(false);
      return passOn();
    }
    const ticket = requests.tryPop();
    if (ticket === undefined) {
      if (requests.closed && requests.length === 0) {
        setPolling(false);
        if (inFlight === 0) resolveDrained();
        return; // the last release resolves `drained`
      }
      if (inFlight > 0 && !yielded) {
        // Let handlers that are about to finish do so first: an idle worker
        // then waits the cheap way below.
        yielded = true;
        setPolling(false);
        return schedulePump();
      }
      // sleepIdle and sleepBusy announce themselves and re-check the ring.
      setPolling(false);
      if (inFlight === 0) {
        // Idle: nothing of ours needs the event loop, so sleep in a blocking
        // Atomics.wait, whose wake-up costs the notifying main thread far
        // less than waking an Atomics.waitAsync. The wait is finite so the
        // handler module's own timers (a cache refresh, say) still run while
        // no request comes.
        sleepIdle(IDLE_WAIT_MS);
        if (requests.length === 0) {
          setPolling(false);
          return schedulePump();
        }
        setPolling(true);
        continue;
      }
      // Handlers in flight need the event loop: wait without blocking it.
      if (!busyWaiting) {
        busyWaiting = true;
        sleepBusy().then(() => {
          busyWaiting = false;
          schedulePump();
        });
      }
      return;
    }
    yielded = false;
    const slot = ticket & SLOT_MASK;
    const word = slotBase(slot) >> 2;
    // The CAS decides between us and main cancelling a queued request, and
    // rejects stale tickets: a request runs at most once.
    if (Atomics.compareExchange(words, word + C_CLAIM, ticket, 0) !== ticket) {
      continue;
    }
    Atomics.store(words, word + C_OWNER, workerId);
    Atomics.add(words, W_CLAIMED, 1);
    Atomics.add(words, W_WORKER_INFLIGHT + workerId - 1, 1);
    inFlight++;
    const task = new Task(slot);
    tasks.set(slot, task);
    // Main sets F_ABORTED before it reads C_OWNER, we store C_OWNER before
    // reading F_ABORTED: one of us sees the other (both are seq-cst).
    if (Atomics.load(words, word + C_FLAGS) & F_ABORTED) {
      abortTask(task);
      continue;
    }
    // The handler may compute for long: stop polling and hand on what is
    // still queued to sleeping workers first.
    setPolling(false);
    passOn();
    run(handler, task);
    // Main hears of a response handed over synchronously before we start
    // another handler, which may compute for long.
    ringMainBell();
    if (!task.released) {
      // Its response waits for microtasks (an async handler, a body to
      // read): let them run before the next handler can hold the thread.
      // The next ticket stays in the ring for any worker to take.
      return schedulePump();
    }
    setPolling(true);
  }
}

/**
 * Takes a BulkRequest main posted to us: the slot is ours at once (its
 * ticket never entered the ring). Handlers start from setImmediate, like
 * pump(), never from the message event (see the heap-limit note above).
 */
function claimBulk(message: BulkRequest): void {
  const word = slotBase(message.slot) >> 2;
  Atomics.store(words, word + C_OWNER, workerId);
  Atomics.add(words, W_WORKER_INFLIGHT + workerId - 1, 1);
  inFlight++;
  const task = new Task(message.slot);
  task.bulkBody = message.body;
  tasks.set(message.slot, task);
  // Main sets F_ABORTED before it reads C_OWNER, as for ring tickets.
  if (Atomics.load(words, word + C_FLAGS) & F_ABORTED) return abortTask(task);
  bulkTasks.push(task);
  if (bulkTasks.length === 1) setImmediate(runBulkTasks);
}
const bulkTasks: Task[] = [];
function runBulkTasks(): void {
  while (bulkTasks.length > 0) {
    const task = bulkTasks.shift()!;
    // Main may have aborted it (client gone, timeout) since we claimed it.
    if (task.aborted) continue;
    run(handler, task);
    ringMainBell();
    if (!task.released && bulkTasks.length > 0) {
      // As in pump(): its response's microtasks come before the next one.
      setImmediate(runBulkTasks);
      return;
    }
  }
}

async function inboxLoop(): Promise<void> {
  for (;;) {
    const event = await inbox.popAsync();
    if (event === undefined) return;
    onInbox(event);
    for (let more = inbox.tryPop(); more !== undefined; more = inbox.tryPop()) {
      onInbox(more);
    }
  }
}

async function main(): Promise<void> {
  try {
    const module = await import(data.handler);
    handler = module.default;
    if (typeof handler?.fetch !== "function") {
      throw new TypeError(
        `The handler module must export default { fetch(request, info) }: ${data.handler}`,
      );
    }
  } catch (error) {
    const message: WorkerMessage = {
      type: "load-error",
      message: error instanceof Error ? error.message : String(error),
      stack: error instanceof Error ? error.stack : undefined,
    };
    port.postMessage(message);
    clearInterval(keepAlive);
    return;
  }
  const inboxDone = inboxLoop();
  const onMessage = (message: BulkRequest) => {
    if (message?.type === "request") claimBulk(message);
  };
  port.on("message", onMessage);
  port.postMessage({ type: "ready" } satisfies WorkerMessage);
  schedulePump();
  await drained;
  inbox.close();
  await inboxDone;
  // A listening port would keep the thread alive.
  port.off("message", onMessage);
  clearInterval(keepAlive);
}

main();
