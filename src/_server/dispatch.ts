// Dispatch: a job into a free slot (or the waiting queue), its head and
// small body into the slot's memory, its ticket into the request ring, and
// a ring of the doorbell at the end of the turn.
import type { ServerContext, ServerWorker } from "./context.ts";
import { BodyFeed } from "./request_body.ts";
import type { Job, Slot } from "./slots.ts";
import {
  C_CLAIM,
  C_FLAGS,
  C_HANDLER_US,
  C_HEAD_LEN,
  C_REQ_LEN,
  C_WANTS_COMPLETED,
  C_WANTS_SIGNAL,
  CHUNK_BYTES,
  type DirectRequest,
  F_BODY_INLINE,
  F_BODY_MESSAGE,
  F_BODY_STREAM,
  HEAD_AREA,
  HEAD_BYTES,
  REQ_AREA,
  W_CLAIMED,
} from "./wire.ts";

const encoder = new TextEncoder();

/** Puts jobs into slots and tickets into the request ring. */
export class Dispatcher {
  readonly #ctx: ServerContext;
  /** Tickets pushed, and cancelled before any worker claimed them (mod 2^32). */
  #pushed = 0;
  #cancelled = 0;
  /** Whether the head #writeHead wrote last asked for a WebSocket. */
  #upgrade = false;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /** Requests waiting for a worker: in the queue or as tickets in the ring. */
  queued(): number {
    const inRing = (this.#pushed - this.#cancelled -
      Atomics.load(this.#ctx.words, W_CLAIMED)) | 0;
    const { queue, longs } = this.#ctx;
    return queue.length + longs.held.length + Math.max(0, inRing);
  }

  /** A ticket was taken back before any worker claimed it. */
  cancelled(): void {
    this.#cancelled = (this.#cancelled + 1) | 0;
  }

  /**
   * Dispatches `job` into a free slot, or queues it until one is released;
   * a long one may first be held back (./long_requests.ts).
   */
  enqueue(job: Job): void {
    if (!this.#ctx.longs.hold(job)) this.place(job);
  }

  /** Dispatches `job` into a free slot, or queues it until one is released. */
  place(job: Job): void {
    const slot = this.#ctx.slots.take();
    if (slot === undefined) this.#ctx.queue.push(job);
    else if (!this.start(slot, job)) this.#ctx.slots.put(slot);
  }

  /**
   * Writes `job` into `slot` (free, or just released) and publishes its
   * ticket. Returns false, having answered the job, if it could not start
   * (a head too large for the slot, or the ring closed at the very end of
   * a shutdown): the slot is then still the caller's.
   */
  start(slot: Slot, job: Job): boolean {
    const { bytes, words, requests, responder, slots } = this.#ctx;
    const headLength = this.#writeHead(slot, job);
    if (headLength < 0) {
      job.resolve(responder.plain(431, "Request Header Fields Too Large"));
      return false;
    }
    slots.assign(slot, job);
    let flags = 0;
    const body = job.body;
    if (body !== undefined && body.byteLength <= CHUNK_BYTES) {
      bytes.set(body, slot.offset + REQ_AREA);
      words[slot.word + C_REQ_LEN] = body.byteLength;
      job.body = undefined;
      flags = F_BODY_INLINE;
    } else if (body !== undefined) {
      // The worker that claims it asks for it (wire.ts, bulk bodies).
      flags = F_BODY_MESSAGE;
    } else if (job.request.body !== null) {
      flags = F_BODY_STREAM;
      slot.feed = new BodyFeed(job.request.body);
    }
    words[slot.word + C_HEAD_LEN] = headLength;
    words[slot.word + C_FLAGS] = flags;
    words[slot.word + C_WANTS_COMPLETED] = 0;
    words[slot.word + C_WANTS_SIGNAL] = 0;
    words[slot.word + C_HANDLER_US] = -1;
    // Publishing store: the ring's push (seq-cst) orders the head before it.
    Atomics.store(words, slot.word + C_CLAIM, slot.ticket);
    if (this.#upgrade && this.#direct(slot)) {
      this.#ctx.longs.started(job);
      return true;
    }
    let pushed = false;
    try {
      pushed = requests.tryPush(slot.ticket);
    } catch {
      // closed: only during the final phase of a shutdown
    }
    if (!pushed) {
      Atomics.store(words, slot.word + C_CLAIM, 0);
      slots.release(slot);
      job.resolve(
        responder.plain(503, "Service Unavailable", { "retry-after": "1" }),
      );
      return false;
    }
    this.#pushed = (this.#pushed + 1) | 0;
    this.#ctx.doorbell.pushed();
    this.#ctx.longs.started(job);
    return true;
  }

  /**
   * Gives a WebSocket upgrade to the worker with the fewest sockets (the
   * message orders the slot's head before it); false if none can take it.
   */
  #direct(slot: Slot): boolean {
    let best: ServerWorker | undefined;
    let fewest = Infinity;
    for (const worker of this.#ctx.workers.members()) {
      // A gated spare takes no request (./spares.ts).
      if (worker.state !== "ready" || worker.stopping || worker.data.gated) {
        continue;
      }
      // Upgrades under way count: a burst must not all go to one worker.
      const load = worker.data.sockets.size + worker.data.upgrading;
      if (load < fewest) {
        best = worker;
        fewest = load;
      }
    }
    if (best === undefined) return false;
    slot.directedTo = best;
    best.data.upgrading++;
    const message: DirectRequest = {
      type: "request",
      slot: slot.id,
      ticket: slot.ticket,
    };
    best.worker.postMessage(message);
    return true;
  }

  /**
   * Encodes the request head into the slot as
   * `METHOD\nURL\nHOST\nPORT(\nNAME\nVALUE)*` with one encodeInto; returns
   * its length, or -1 if it does not fit.
   */
  #writeHead(slot: Slot, job: Job): number {
    const { request, info } = job;
    const remote = info.remoteAddr as Deno.NetAddr;
    let head = request.method + "\n" + request.url + "\n" +
      (remote.hostname ?? "") + "\n" + (remote.port ?? 0);
    let upgrade = false;
    for (const [name, value] of request.headers) {
      head += "\n" + name + "\n" + value;
      // Names come lower-cased; the value is a token list.
      if (name === "upgrade") upgrade = /\bwebsocket\b/i.test(value);
    }
    this.#upgrade = upgrade;
    const start = slot.offset + HEAD_AREA;
    const written = encoder.encodeInto(
      head,
      this.#ctx.bytes.subarray(start, start + HEAD_BYTES),
    );
    return written.read < head.length ? -1 : written.written;
  }
}
