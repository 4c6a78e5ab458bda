// Request bodies on their way to the worker: a streamed body one chunk per
// PULL through the slot's REQ_AREA (stopping at maxBodySize), and a body
// read whole sent by message when the worker that claimed it asks.
import { ownBuffer } from "../_common/bytes.ts";
import { byobReader } from "./bytes.ts";
import { type ServerContext, type ServerWorker, tellOwner } from "./context.ts";
import type { Slot } from "./slots.ts";
import {
  type BodyMessage,
  type BodyWanted,
  C_REQ_LEN,
  CHUNK_BYTES,
  IN_REQ_CHUNK,
  IN_REQ_END,
  IN_REQ_ERROR,
  ownerOf,
  REQ_AREA,
} from "./wire.ts";

/** Main's side of one streamed request body. */
export class BodyFeed {
  readonly body: ReadableStream<Uint8Array>;
  reader:
    | ReadableStreamBYOBReader
    | ReadableStreamDefaultReader<Uint8Array>
    | undefined = undefined;
  /** Bytes read but not yet sent (a read larger than a chunk). */
  leftover: Uint8Array | undefined = undefined;
  /** Bytes sent so far, against maxBodySize. */
  sent = 0;

  constructor(body: ReadableStream<Uint8Array>) {
    this.body = body;
  }

  /** Stops reading (the request is over); safe to call twice. */
  cancel(): void {
    this.reader?.cancel().catch(() => {});
  }
}

/** Answers workers' requests for body bytes. */
export class RequestBodies {
  readonly #ctx: ServerContext;
  /** Buffers for BYOB reads, reused across requests. */
  readonly #buffers: Uint8Array<ArrayBuffer>[] = [];

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /** A BodyWanted: sends the whole body to the worker that claimed the slot. */
  sendWhole(worker: ServerWorker, message: BodyWanted): void {
    const slot = this.#ctx.slots.all[message.slot];
    const job = slot?.job;
    if (
      slot === undefined || job?.body === undefined ||
      slot.ticket !== message.ticket || slot.state !== "dispatched" ||
      ownerOf(this.#ctx.words, slot.word) !== worker.index + 1
    ) return; // given up on meanwhile: the worker hears IN_ABORT instead
    const body = ownBuffer(job.body);
    job.body = undefined;
    const reply: BodyMessage = {
      type: "body",
      slot: slot.id,
      ticket: slot.ticket,
      body,
    };
    worker.worker.postMessage(reply, [body]);
  }

  /** A PULL: writes the next chunk of the body into the slot, or its end. */
  async pull(slot: Slot): Promise<void> {
    const ctx = this.#ctx;
    const job = slot.job!;
    const feed = slot.feed;
    if (feed === undefined) return tellOwner(ctx, slot, IN_REQ_END);
    let chunk = feed.leftover;
    feed.leftover = undefined;
    let pooled: Uint8Array<ArrayBuffer> | undefined;
    if (chunk === undefined) {
      try {
        const read = await this.#read(feed);
        pooled = read.pooled;
        if (read.done) job.bodyDone = true;
        if (slot.state === "aborted" || slot.job !== job || read.done) {
          if (pooled !== undefined) this.#buffers.push(pooled);
          if (slot.state === "aborted" || slot.job !== job) return;
          return tellOwner(ctx, slot, IN_REQ_END);
        }
        chunk = read.value!;
      } catch {
        job.bodyDone = true;
        if (slot.state === "aborted" || slot.job !== job) return;
        return tellOwner(ctx, slot, IN_REQ_ERROR);
      }
    }
    if (feed.sent + chunk.byteLength > ctx.settings.maxBodySize) {
      // Stop at the limit: the worker never sees the bytes beyond it.
      job.bodyDone = true;
      ctx.responder.respond(
        slot,
        ctx.responder.plain(413, "Content Too Large"),
      );
      tellOwner(ctx, slot, IN_REQ_ERROR);
      feed.cancel();
      return;
    }
    const length = Math.min(chunk.byteLength, CHUNK_BYTES);
    feed.sent += length;
    ctx.bytes.set(chunk.subarray(0, length), slot.offset + REQ_AREA);
    ctx.words[slot.word + C_REQ_LEN] = length;
    if (length < chunk.byteLength) feed.leftover = chunk.subarray(length);
    // Copied out: its buffer can take the next read (of any request).
    if (pooled !== undefined && this.#buffers.length < 64) {
      this.#buffers.push(pooled);
    }
    tellOwner(ctx, slot, IN_REQ_CHUNK);
  }

  async #read(feed: BodyFeed): Promise<{
    done: boolean;
    value: Uint8Array | undefined;
    pooled: Uint8Array<ArrayBuffer> | undefined;
  }> {
    feed.reader ??= byobReader(feed.body) ?? feed.body.getReader();
    if (!(feed.reader instanceof ReadableStreamBYOBReader)) {
      const { done, value } = await feed.reader.read();
      return { done, value, pooled: undefined };
    }
    // Deno reads the socket straight into a buffer we reuse: no garbage
    // per chunk, which kept ~40 MiB of dead chunks per 100 MiB upload alive
    // until V8's external-memory GC came round.
    const { done, value } = await feed.reader.read(
      this.#buffers.pop() ?? new Uint8Array(CHUNK_BYTES),
    );
    const pooled = value === undefined
      ? undefined
      : new Uint8Array(value.buffer as ArrayBuffer);
    return { done, value, pooled };
  }
}
