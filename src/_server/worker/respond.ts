// Writing the handler's response into the slot: Deno's fast path when it
// applies (./fast_path.ts); otherwise the head, then the body whole if it is
// ready within a few microtask turns (in RES_AREA, or by message when
// larger), else streamed chunk by chunk, each handed back by a CREDIT.
import { parentPort } from "node:worker_threads";
import type { WorkerContext } from "./context.ts";
import { FAST, respondFast } from "./fast_path.ts";
import { finish } from "./finish.ts";
import type { Task } from "./task.ts";
import {
  BULK_BYTES,
  type BulkResponse,
  C_RES_HEAD_LEN,
  C_RES_LEN,
  CHUNK_BYTES,
  EV_CHUNK,
  EV_END,
  EV_RESPONSE_FULL,
  EV_RESPONSE_STREAM,
  IN_CREDIT,
  RES_AREA,
  RES_BYTES,
} from "../wire.ts";

const encoder = new TextEncoder();

/** What a body had ready within a few microtask turns. */
interface Gathered {
  chunks: Uint8Array[];
  total: number;
  complete: boolean;
  /** A read still pending when the gathering stopped. */
  next: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
}

/** Hands `response` to main; the synchronous part runs before it returns. */
export async function respond(
  ctx: WorkerContext,
  task: Task,
  response: Response,
): Promise<void> {
  if (FAST !== undefined && respondFast(ctx, task, response)) return;
  const { bytes, words } = ctx;
  const area = task.offset + RES_AREA;
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
  if (response.body === null) {
    words[task.word + C_RES_LEN] = headLength;
    return finish(ctx, task, EV_RESPONSE_FULL);
  }
  const reader = response.body.getReader();
  task.reader = reader;
  const ready = await gather(task, reader);
  if (ready === undefined) return; // aborted meanwhile
  if (ready.complete && ready.total <= RES_BYTES - headLength) {
    let used = headLength;
    for (const chunk of ready.chunks) {
      bytes.set(chunk, area + used);
      used += chunk.byteLength;
    }
    words[task.word + C_RES_LEN] = used;
    return finish(ctx, task, EV_RESPONSE_FULL);
  }
  if (ready.complete && !task.pullOutstanding) {
    // Whole but larger than the slot: one message instead of a stream of
    // chunks, each a round trip with main.
    const body = new Uint8Array(ready.total);
    let offset = 0;
    for (const chunk of ready.chunks) {
      body.set(chunk, offset);
      offset += chunk.byteLength;
    }
    task.reader = undefined;
    return sendBulk(ctx, task, body);
  }
  await stream(ctx, task, reader, headLength, ready);
}

/**
 * Sends a whole response body as a BulkResponse (its head is in RES_AREA),
 * which releases the slot. Only when no PULL is unanswered, so no ring
 * event of ours for the slot can arrive after it.
 */
export function sendBulk(
  ctx: WorkerContext,
  task: Task,
  body: Uint8Array<ArrayBuffer>,
): void {
  if (task.state === "running") task.state = "finished";
  ctx.released(task);
  const message: BulkResponse = {
    type: "response",
    slot: task.slot,
    body: body.buffer,
  };
  parentPort!.postMessage(message, [body.buffer]);
}

function encodeHead(response: Response): string {
  let head = String(response.status);
  for (const [name, value] of response.headers) {
    head += "\n" + name + "\n" + value;
  }
  return head;
}

/** Reads what the body has ready at once (a few microtask turns); undefined if aborted. */
async function gather(
  task: Task,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<Gathered | undefined> {
  const ready: Gathered = {
    chunks: [],
    total: 0,
    complete: false,
    next: reader.read(),
  };
  for (;;) {
    const result = ready.total === 0
      ? await ready.next!
      : await Promise.race([ready.next!, soon()]);
    if (task.aborted) return undefined;
    if (result === SOON) return ready; // a live stream: send what we have
    ready.next = undefined;
    if (result.done) {
      ready.complete = true;
      return ready;
    }
    const chunk = toBytes(result.value);
    ready.chunks.push(chunk);
    ready.total += chunk.byteLength;
    if (ready.total > BULK_BYTES) return ready;
    ready.next = reader.read();
  }
}

/** Streams the body: the head and what fits of the first chunks, then the rest. */
async function stream(
  ctx: WorkerContext,
  task: Task,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  headLength: number,
  ready: Gathered,
): Promise<void> {
  const { bytes, words } = ctx;
  const area = task.offset + RES_AREA;
  let used = headLength;
  let queued = 0;
  while (queued < ready.chunks.length) {
    const chunk = ready.chunks[queued]!;
    if (used + chunk.byteLength > RES_BYTES) break;
    bytes.set(chunk, area + used);
    used += chunk.byteLength;
    queued++;
  }
  let pending = queued < ready.chunks.length
    ? ready.chunks[queued++]
    : undefined;
  words[task.word + C_RES_LEN] = used;
  ctx.send(task, EV_RESPONSE_STREAM);
  let next = ready.next;
  for (;;) {
    if (pending === undefined && queued < ready.chunks.length) {
      pending = ready.chunks[queued++];
    }
    if (pending === undefined) {
      if (ready.complete) break;
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
    ctx.send(task, EV_CHUNK);
  }
  if (!await credit(task)) return;
  finish(ctx, task, EV_END);
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

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError("The response body stream must yield Uint8Array chunks");
}
