// Writing the handler's response: Deno's fast path when it applies
// (./fast_path.ts); otherwise the head, then the body whole if it is ready
// within a few microtask turns (in RES_AREA, or by message when larger),
// else the head and first chunk through the slot and the rest over the
// channel (../channel.ts), which the task leaves its slot for.
import { parentPort } from "node:worker_threads";
import { CHUNK_ITEM_BYTES } from "../channel.ts";
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
  EV_DETACH,
  EV_RESPONSE_FULL,
  EV_RESPONSE_STREAM,
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
  if (task.stream === undefined && FAST !== undefined) {
    // It checks Deno's own "consumed" field: checked here, bodyUsed would
    // make Deno build the body the fast path avoids.
    if (respondFast(ctx, task, response)) return;
  }
  // As Deno.serve: a body that was read already cannot be sent (500).
  if (response.bodyUsed) {
    throw new TypeError("The response body has already been consumed");
  }
  if (task.stream !== undefined) return respondOffSlot(ctx, task, response);
  const { bytes, words } = ctx;
  const area = task.offset + RES_AREA;
  const head = encodeHead(response);
  const headResult = encoder.encodeInto(
    head,
    bytes.subarray(area, area + CHUNK_BYTES),
  );
  if (headResult.read < head.length) {
    // Deno.serve sends a head of any size: one larger than the slot goes
    // over the channel as a string, the request leaving its slot for it.
    ctx.channel.detach(task, EV_DETACH);
    return respondOffSlot(ctx, task, response, head);
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
  if (ready.complete) {
    // Whole but larger than the slot: one message instead of a stream.
    task.reader = undefined;
    return sendBulk(ctx, task, concat(ready));
  }
  // A live stream: the head and what fits of the first chunks go through
  // the slot, the rest over the channel.
  let used = headLength;
  while (ready.chunks.length > 0) {
    const chunk = ready.chunks[0]!;
    if (used + chunk.byteLength > RES_BYTES) break;
    bytes.set(chunk, area + used);
    used += chunk.byteLength;
    ready.chunks.shift();
  }
  words[task.word + C_RES_LEN] = used;
  ctx.channel.detach(task, EV_RESPONSE_STREAM);
  await sendChunks(ctx, task, reader, ready);
}

/** The response of a task that left its slot: a "head" item, then chunks. */
async function respondOffSlot(
  ctx: WorkerContext,
  task: Task,
  response: Response,
  head = encodeHead(response),
): Promise<void> {
  const s = task.stream!;
  if (response.body === null) {
    ctx.channel.send({ k: "head", s, head, end: true });
    return finish(ctx, task, 0);
  }
  const reader = response.body.getReader();
  task.reader = reader;
  const ready = await gather(task, reader);
  if (ready === undefined) return; // aborted meanwhile
  if (ready.complete) {
    const body = concat(ready).buffer;
    ctx.channel.send({ k: "head", s, head, body, end: true }, body);
    return finish(ctx, task, 0);
  }
  ctx.channel.send({ k: "head", s, head, end: false });
  await sendChunks(ctx, task, reader, ready);
}

/**
 * Sends the rest of a body over the channel: the chunks gathered, then
 * what the reader yields, each copied (the handler may reuse its buffers),
 * split into items of at most CHUNK_ITEM_BYTES, within the credit window.
 */
async function sendChunks(
  ctx: WorkerContext,
  task: Task,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  ready: Gathered,
): Promise<void> {
  const s = task.stream!;
  let next = ready.next;
  for (;;) {
    let chunk = ready.chunks.shift();
    if (chunk === undefined) {
      if (ready.complete) break;
      const result = await (next ?? reader.read());
      next = undefined;
      if (task.aborted) return;
      if (result.done) break;
      chunk = toBytes(result.value);
    }
    for (let at = 0; at < chunk.byteLength; at += CHUNK_ITEM_BYTES) {
      if (!await ctx.channel.window(task)) return;
      const piece = chunk.slice(at, at + CHUNK_ITEM_BYTES);
      task.unacked++;
      ctx.channel.send({ k: "chunk", s, body: piece.buffer }, piece.buffer);
    }
  }
  ctx.channel.send({ k: "end", s });
  finish(ctx, task, 0);
}

/** The gathered chunks as one buffer of their own. */
function concat(ready: Gathered): Uint8Array<ArrayBuffer> {
  const body = new Uint8Array(ready.total);
  let offset = 0;
  for (const chunk of ready.chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
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
