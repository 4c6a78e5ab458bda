// Request bodies on their way to the worker: a body read whole is sent by
// message when the worker that claimed its slot asks (BodyWanted); a body
// that streams goes one chunk per "pull" over the channel (./channel.ts),
// its buffers transferred, stopping at maxBodySize.
import { ownBuffer } from "../_common/bytes.ts";
import type { ServerContext, ServerWorker } from "./context.ts";
import type { Detached } from "./detached.ts";
import { type BodyMessage, type BodyWanted, ownerOf } from "./wire.ts";

/** Main's side of one streamed request body. */
export class BodyFeed {
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Bytes sent so far, against maxBodySize. */
  sent = 0;

  constructor(body: ReadableStream<Uint8Array>) {
    this.reader = body.getReader();
  }

  /** Stops reading (the request is over); safe to call twice. */
  cancel(): void {
    this.reader.cancel().catch(() => {});
  }
}

/** Answers workers' requests for body bytes. */
export class RequestBodies {
  readonly #ctx: ServerContext;

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
      ownerOf(this.#ctx.words, slot.word) !== worker.id
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

  /** A "pull": sends the next chunk of the body, or its end. */
  async pull(detached: Detached): Promise<void> {
    const ctx = this.#ctx;
    const { feed, job, id } = detached;
    if (feed === undefined || detached.pulling) return;
    detached.pulling = true;
    let read: ReadableStreamReadResult<Uint8Array>;
    try {
      read = await feed.reader.read();
    } catch {
      job.bodyDone = true;
      detached.pulling = false;
      if (detached.state === "aborted" || detached.state === "closed") return;
      return ctx.streams.send(detached, { k: "body-fail", s: id });
    }
    detached.pulling = false;
    if (read.done) job.bodyDone = true;
    if (detached.state === "aborted" || detached.state === "closed") return;
    if (read.done) return ctx.streams.send(detached, { k: "body-end", s: id });
    const chunk = read.value;
    if (feed.sent + chunk.byteLength > ctx.settings.maxBodySize) {
      // Stop at the limit: the worker never sees the bytes beyond it.
      job.bodyDone = true;
      ctx.streams.answer(
        detached,
        ctx.responder.plain(413, "Content Too Large"),
      );
      ctx.streams.send(detached, { k: "body-fail", s: id });
      feed.cancel();
      return;
    }
    feed.sent += chunk.byteLength;
    const body = ownBuffer(chunk);
    ctx.streams.send(detached, { k: "body", s: id, body }, body);
  }
}
