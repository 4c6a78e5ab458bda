// Responding: turns what a worker wrote into the slot (a response head and
// a whole body, a BulkResponse, or a head that starts a stream) into the
// Response Deno.serve sends, checked on the way; and the plain answers main
// gives by itself (503, 413, 504, ...).
import { renderMetrics } from "./metrics.ts";
import { HeadDecoder, type ResponseHead } from "./head.ts";
import { closing, type ServerContext, type ServerWorker } from "./context.ts";
import { ResponseStream } from "./response_stream.ts";
import type { Slot } from "./slots.ts";
import {
  type BulkResponse,
  C_RES_HEAD_LEN,
  C_RES_LEN,
  ownerOf,
  RES_AREA,
  RES_BYTES,
} from "./wire.ts";

/** Builds and hands over responses; the `dispatched -> answered` transitions. */
export class Responder {
  readonly #ctx: ServerContext;
  readonly #heads = new HeadDecoder();
  readonly #scratch: Uint8Array<ArrayBuffer> = new Uint8Array(RES_BYTES);

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /**
   * Answers the slot's request, once: `dispatched` becomes `answered` (or
   * `streaming` when `stream` is given).
   */
  respond(slot: Slot, response: Response, stream?: ResponseStream): void {
    if (slot.state !== "dispatched") return;
    slot.state = stream === undefined ? "answered" : "streaming";
    slot.stream = stream;
    const job = slot.job!;
    // Deno aborts request.signal once a response is sent (legacy
    // behaviour); from here on a streaming body's cancel() reports a
    // disconnect.
    if (slot.watching) {
      slot.watching = false;
      job.request.signal.removeEventListener("abort", slot.onClientAbort);
    }
    job.resolve(response);
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
    this.#respondWith(slot, head, body);
  }

  /** A worker's BulkResponse: the head in the slot, the body in the message. */
  bulk(worker: ServerWorker, message: BulkResponse): void {
    const ctx = this.#ctx;
    const slot = ctx.slots.all[message.slot];
    if (
      slot?.job === undefined ||
      ownerOf(ctx.words, slot.word) !== worker.index + 1
    ) return;
    // Ring events the worker sent before come first.
    ctx.collector.collect();
    if (slot.state === "dispatched") {
      const head = this.#readHead(slot);
      if (head !== undefined) {
        this.#respondWith(slot, head, new Uint8Array(message.body), true);
      }
    }
    // The message released the slot.
    ctx.releaser.release(slot);
  }

  /** RESPONSE_STREAM: the head and the first chunk are in RES_AREA. */
  stream(slot: Slot): void {
    if (slot.state !== "dispatched") return;
    const head = this.#readHead(slot);
    if (head === undefined) return;
    const ctx = this.#ctx;
    const headLength = ctx.words[slot.word + C_RES_HEAD_LEN]!;
    const stream = new ResponseStream(ctx, slot, headLength, head.declared);
    const headers = this.#headerList(head, head.declared);
    let response: Response;
    try {
      response = new Response(stream.body, { status: head.status, headers });
    } catch (error) {
      return this.#invalid(slot, "response", error);
    }
    this.respond(slot, response, stream);
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
      this.#invalid(slot, "response head", error);
      return undefined;
    }
  }

  #invalid(slot: Slot, what: string, error: unknown): void {
    console.error(`ringpool: a worker returned an invalid ${what}:`, error);
    this.#ctx.faults.abort(slot, "invalid");
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
   * Answers with a whole body, checked against the declared length. An
   * `owned` body (nobody else holds it) is handed to Deno as a one-chunk
   * stream, which Deno writes without the copy `new Response(bytes)` makes
   * (measured: 12% of main's time in a 1 MiB echo).
   */
  #respondWith(
    slot: Slot,
    head: ResponseHead,
    body: Uint8Array<ArrayBuffer> | null,
    owned = false,
  ): void {
    const length = body?.byteLength ?? 0;
    const isHead = slot.job!.request.method === "HEAD";
    if (head.declared >= 0 && !isHead && head.declared !== length) {
      console.error(
        `ringpool: the handler declared content-length ${head.declared} but sent ${length} bytes`,
      );
      this.#ctx.faults.abort(slot, "invalid");
      return;
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
    let response: Response;
    try {
      response = new Response(
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
      return this.#invalid(slot, "response", error);
    }
    this.respond(slot, response);
  }
}
