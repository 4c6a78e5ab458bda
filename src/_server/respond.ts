// Responding: turns what a worker sent (a head and a whole body in the
// slot, a BulkResponse, a head that starts a stream, or a channel "head"
// item) into the Response Deno.serve sends, checked on the way; and the
// plain answers main gives by itself (503, 413, 504, ...).
import { copyOut } from "../_common/bytes.ts";
import { renderMetrics } from "./metrics.ts";
import { HeadDecoder, parseHead, type ResponseHead } from "./head.ts";
import {
  closing,
  ownerWorker,
  type ServerContext,
  type ServerWorker,
} from "./context.ts";
import type { Detached } from "./detached.ts";
import type { WorkerItem } from "./channel.ts";
import type { ResponseStream } from "./response_stream.ts";
import type { Slot } from "./slots.ts";
import {
  type BulkResponse,
  C_RES_HEAD_LEN,
  C_RES_LEN,
  C_STREAM,
  ownerOf,
  RES_AREA,
  RES_BYTES,
} from "./wire.ts";

type HeadItem = Extract<WorkerItem, { k: "head" }>;

/** Builds and hands over responses; the `dispatched -> answered` transitions. */
export class Responder {
  readonly #ctx: ServerContext;
  readonly #heads = new HeadDecoder();
  readonly #scratch: Uint8Array<ArrayBuffer> = new Uint8Array(RES_BYTES);

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /** Answers the slot's request, once: `dispatched` becomes `answered`. */
  respond(slot: Slot, response: Response): void {
    if (slot.state !== "dispatched") return;
    slot.state = "answered";
    slot.unwatch();
    slot.job!.resolve(response);
  }

  /** A plain-text answer from main (with `Connection: close` while closing). */
  plain(
    status: number,
    text: string,
    extra?: Record<string, string>,
  ): Response {
    const headers = new Headers(extra);
    headers.set("content-type", "text/plain; charset=utf-8");
    if (closing(this.#ctx)) headers.set("connection", "close");
    return new Response(text, { status, headers });
  }

  /** A plain answer given before a request became a job, counted for metrics. */
  early(
    status: number,
    text: string,
    extra?: Record<string, string>,
  ): Response {
    this.#ctx.metrics?.record(status, 0);
    return this.plain(status, text, extra);
  }

  /** The metrics endpoint's answer. */
  metrics(): Response {
    const ctx = this.#ctx;
    return new Response(renderMetrics(ctx.stats(), ctx.metrics), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  }

  /** RESPONSE_FULL: head and whole body are in RES_AREA. */
  full(slot: Slot): void {
    if (slot.state !== "dispatched") return;
    const head = this.#readHead(slot);
    if (head === undefined) return;
    const { bytes, words } = this.#ctx;
    const area = slot.offset + RES_AREA;
    const headLength = words[slot.word + C_RES_HEAD_LEN]!;
    const length = words[slot.word + C_RES_LEN]! - headLength;
    // Response copies a BufferSource body (and refuses a view of shared
    // memory), so one scratch copy, reused, saves allocating (and later
    // collecting) a buffer per response.
    let body: Uint8Array<ArrayBuffer> | null = null;
    if (length > 0) {
      const start = area + headLength;
      this.#scratch.set(bytes.subarray(start, start + length));
      body = this.#scratch.subarray(0, length);
    }
    const response = this.#build(slot.job!, head, body, false);
    if (response === undefined) this.#ctx.faults.abort(slot, "invalid");
    else this.respond(slot, response);
  }

  /** A worker's BulkResponse: the head in the slot, the body in the message. */
  bulk(worker: ServerWorker, message: BulkResponse): void {
    const ctx = this.#ctx;
    const slot = ctx.slots.all[message.slot];
    if (
      slot?.job === undefined ||
      ownerOf(ctx.words, slot.word) !== worker.id
    ) return;
    // Ring events the worker sent before come first.
    ctx.collector.collect();
    if (slot.state === "dispatched") {
      const head = this.#readHead(slot);
      if (head !== undefined) {
        const body = new Uint8Array(message.body);
        const response = this.#build(slot.job, head, body, true);
        if (response === undefined) ctx.faults.abort(slot, "invalid");
        else this.respond(slot, response);
      }
    }
    // The message released the slot.
    ctx.releaser.release(slot);
  }

  /**
   * RESPONSE_STREAM: the head and the first chunk are in RES_AREA; the rest
   * comes over the channel, so the request leaves its slot (the RELEASE bit
   * that came with the event frees it).
   */
  stream(slot: Slot): void {
    if (slot.state !== "dispatched") return;
    const head = this.#readHead(slot);
    if (head === undefined) return;
    const ctx = this.#ctx;
    const { bytes, words } = ctx;
    const worker = ownerWorker(ctx, slot);
    if (worker === undefined) return;
    const area = slot.offset + RES_AREA;
    const first = copyOut(
      bytes,
      area + words[slot.word + C_RES_HEAD_LEN]!,
      area + words[slot.word + C_RES_LEN]!,
    );
    const id = words[slot.word + C_STREAM]!;
    const detached = ctx.streams.adopt(slot, worker, id, "running");
    const stream = ctx.streams.responseStream(detached, first, head.declared);
    this.#answerStream(detached, head, stream);
  }

  /** A channel "head" item: the response of a request that left its slot. */
  head(detached: Detached, item: HeadItem): void {
    const ctx = this.#ctx;
    let head: ResponseHead;
    try {
      head = parseHead(item.head);
    } catch (error) {
      console.error(
        "ringpool: a worker returned an invalid response head:",
        error,
      );
      return ctx.streams.abort(detached, "invalid");
    }
    if (item.end) {
      const body = item.body === undefined ? null : new Uint8Array(item.body);
      const response = this.#build(detached.job, head, body, body !== null);
      if (response === undefined) ctx.streams.abort(detached, "invalid");
      else ctx.streams.answer(detached, response);
      return;
    }
    const first = item.body === undefined
      ? undefined
      : new Uint8Array(item.body);
    const stream = ctx.streams.responseStream(detached, first, head.declared);
    this.#answerStream(detached, head, stream);
  }

  #answerStream(
    detached: Detached,
    head: ResponseHead,
    stream: ResponseStream,
  ): void {
    let response: Response;
    try {
      response = new Response(stream.body, {
        status: head.status,
        headers: this.#headerList(head, head.declared),
      });
    } catch (error) {
      console.error("ringpool: a worker returned an invalid response:", error);
      return this.#ctx.streams.abort(detached, "invalid");
    }
    this.#ctx.streams.answer(detached, response, stream);
  }

  /**
   * Decodes the response head in RES_AREA. Returns undefined (after
   * answering 500) if the worker's head is not a valid response.
   */
  #readHead(slot: Slot): ResponseHead | undefined {
    const { bytes, words } = this.#ctx;
    const area = slot.offset + RES_AREA;
    const headLength = words[slot.word + C_RES_HEAD_LEN]!;
    const cached = this.#heads.cached(bytes, area, headLength);
    if (cached !== undefined) return cached;
    try {
      return this.#heads.decode(bytes, area, headLength);
    } catch (error) {
      console.error(
        "ringpool: a worker returned an invalid response head:",
        error,
      );
      this.#ctx.faults.abort(slot, "invalid");
      return undefined;
    }
  }

  /** The header list of a response, with what main adds (never mutates `head`). */
  #headerList(head: ResponseHead, contentLength: number): [string, string][] {
    const isClosing = closing(this.#ctx);
    if (contentLength < 0 && !isClosing) return head.headers;
    const headers = [...head.headers];
    if (contentLength >= 0) {
      headers.push(["content-length", String(contentLength)]);
    }
    if (isClosing) headers.push(["connection", "close"]);
    return headers;
  }

  /**
   * A response with a whole body, checked against the declared length;
   * undefined (logged) if it is not valid. An `owned` body (nobody else
   * holds it) is handed to Deno as a one-chunk stream, which Deno writes
   * without the copy `new Response(bytes)` makes (measured: 12% of main's
   * time in a 1 MiB echo).
   */
  #build(
    job: { request: Request },
    head: ResponseHead,
    body: Uint8Array<ArrayBuffer> | null,
    owned: boolean,
  ): Response | undefined {
    const length = body?.byteLength ?? 0;
    const isHead = job.request.method === "HEAD";
    if (head.declared >= 0 && !isHead && head.declared !== length) {
      console.error(
        `ringpool: the handler declared content-length ${head.declared} but sent ${length} bytes`,
      );
      return undefined;
    }
    const whole = owned && body !== null && !isHead;
    const headers = this.#headerList(
      head,
      whole
        ? length
        : isHead && head.declared >= 0 && length === 0
        ? head.declared
        : -1,
    );
    try {
      return new Response(
        whole
          ? new ReadableStream({
            start(controller) {
              controller.enqueue(body);
              controller.close();
            },
          })
          : body,
        { status: head.status, headers },
      );
    } catch (error) {
      console.error("ringpool: a worker returned an invalid response:", error);
      return undefined;
    }
  }
}
