// The channel: how a request that has left its slot talks to main. Both
// sides import this module.
//
// A slot carries the short phase of a request: its head, a small body, a
// whole response. Anything long-lived gives its slot back and goes on here,
// over the worker's message port, so it holds no slot and counts against no
// worker's concurrency:
//
//   - a response that streams: the head and first chunk go through the slot
//     (RESPONSE_STREAM with the RELEASE bit and the stream's id in C_STREAM),
//     the rest of the body as "chunk" items;
//   - a request whose body streams (chunked, or too large to read whole):
//     the worker decodes its head, then gives the slot back at once (DETACH
//     with the RELEASE bit); its body comes as "body" items, each asked for
//     with "pull", and its response goes back as "head" + "chunk" items.
//
// A stream's id is chosen by its worker (1, 2, ... never reused), so main
// keys streams by worker and id. Items are batched: each side queues them
// and posts one { type: "batch" } message per turn of its event loop, with
// every body's ArrayBuffer transferred.
//
//   worker -> main                          main -> worker
//   head   status and headers (a whole      credit    the socket took one chunk:
//          body, or more to come)                     one more may be sent
//   chunk  the next body bytes              body      the next request body bytes
//   end    the body is complete             body-end  the request body ended
//   fail   the handler or its body failed   body-fail it could not be read in full
//   pull   the next request body bytes      abort     main gave up: stop, let go
//   done   the worker let go of the stream  completed info.completed settled
//          (its last item, like RELEASE)
//   signal the handler looked at
//          request.signal: watch the client
//
// A WebSocket is a stream too: the request's response is the upgrade
// (UPGRADE with the RELEASE bit, the protocol and idleTimeout in RES_AREA),
// main performs the real upgrade and relays the socket's events as "ws-*"
// items; the socket stays with the worker that ran its handler.
//
//   worker -> main                          main -> worker
//   ws-send  a message for the client       ws-open    the socket is open
//   ws-close close it (code, reason)        ws-message a message from the client
//                                           ws-ack     sent messages left main's buffer
//                                           ws-closed  the socket closed (code,
//                                                      reason, wasClean)
//
// Flow control: a worker has at most CHUNK_WINDOW chunks of a stream not yet
// credited; main credits a chunk when the socket takes it. A slow client
// stalls its worker's stream, never main's memory. A request body is sent
// one chunk per pull.
//
// Ordering: the ring event that starts a stream (RESPONSE_STREAM, DETACH) is
// pushed before any item of the stream is posted, so main, meeting an item
// for a stream it does not know, first collects the event ring; a stream
// still unknown then was given up on (or its worker replaced): main answers
// "abort".

/**
 * Bytes of one socket's messages a worker may have sent that main has not
 * acknowledged; main acknowledges a message once Deno's own buffer for the
 * socket is below SOCKET_HIGH_WATER again. Beyond it the worker keeps them
 * (its socket's bufferedAmount grows), so a slow client never fills main.
 */
export const SOCKET_WINDOW = 1024 * 1024;
/** Bytes Deno may buffer for a socket before main stops acknowledging. */
export const SOCKET_HIGH_WATER = 256 * 1024;

/** Chunks of one stream a worker may have sent and main not yet credited. */
export const CHUNK_WINDOW = 2;
/** The largest chunk item: a bigger chunk from the handler is split. */
export const CHUNK_ITEM_BYTES = 256 * 1024;

/** Items a worker sends to main. */
export type WorkerItem =
  | { k: "head"; s: number; head: string; body?: ArrayBuffer; end: boolean }
  | { k: "chunk"; s: number; body: ArrayBuffer }
  | { k: "end"; s: number }
  | { k: "fail"; s: number }
  | { k: "pull"; s: number }
  | { k: "done"; s: number }
  /** The handler looked at request.signal: watch the client leaving. */
  | { k: "signal"; s: number }
  | { k: "ws-send"; s: number; data: string | ArrayBuffer }
  | { k: "ws-close"; s: number; code?: number; reason?: string };

/** Items main sends to a worker. */
export type MainItem =
  | { k: "credit"; s: number }
  | { k: "body"; s: number; body: ArrayBuffer }
  | { k: "body-end"; s: number }
  | { k: "body-fail"; s: number }
  | { k: "abort"; s: number }
  | { k: "completed"; s: number; ok: boolean }
  | { k: "ws-open"; s: number; protocol: string; extensions: string }
  | { k: "ws-message"; s: number; data: string | ArrayBuffer }
  | { k: "ws-ack"; s: number; count: number }
  | {
    k: "ws-closed";
    s: number;
    code: number;
    reason: string;
    wasClean: boolean;
  };

/** One message of the channel: every item of a turn. */
export interface Batch<T> {
  type: "batch";
  items: T[];
}

/**
 * Queues items and posts them as one batch at the end of the turn, with
 * their buffers transferred.
 */
export class Outbox<T> {
  readonly #post: (batch: Batch<T>, transfer: ArrayBuffer[]) => void;
  #items: T[] = [];
  #transfer: ArrayBuffer[] = [];

  constructor(post: (batch: Batch<T>, transfer: ArrayBuffer[]) => void) {
    this.#post = post;
  }

  /** Queues `item`; `body` (its buffer, if any) is transferred, not copied. */
  send(item: T, body?: ArrayBuffer): void {
    if (this.#items.length === 0) queueMicrotask(this.flush);
    this.#items.push(item);
    if (body !== undefined) this.#transfer.push(body);
  }

  /** Posts what is queued now (also run at the end of every turn). */
  flush = (): void => {
    if (this.#items.length === 0) return;
    const items = this.#items;
    const transfer = this.#transfer;
    this.#items = [];
    this.#transfer = [];
    this.#post({ type: "batch", items }, transfer);
  };
}
