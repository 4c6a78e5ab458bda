// The shared-memory wire between the server's main thread and its workers.
// Both sides import these offsets; nothing else in ringpool knows them.
//
// Three kinds of shared memory:
//
// 1. The request ring (a RingBuffer) carries *tickets*: slot id plus a
//    generation, so a ticket left behind by a cancelled request can never
//    claim the slot's next request.
//
//        ticket (31 bits) = generation (19 bits) << SLOT_BITS | slot (12 bits)
//
// 2. The event ring (one RingBuffer, workers -> main) and one inbox ring per
//    worker (main -> that worker) carry *events*:
//
//        event (31 bits) = generation (15 bits) << 16 | slot << 4 | RELEASE (8) | type (0..7)
//
//    The generation (the ticket's, masked) is set on inbox events for a
//    task, so one sent for a request the worker has since released cannot
//    reach the next request in the same slot; events to main carry 0 there.
//
// 3. The control buffer: a few shared counters, then a fixed table of slots.
//
//        byte 0      +--------------------------------------------------+
//                    | word 0 CLAIMED: requests claimed by workers       |
//                    | word 1 DOORBELL, word 2 IDLE_WORKERS (main->wrk)  |
//                    | word 3 POLLING: workers about to re-check the ring|
//                    | word 4 WAKING: workers notified, not yet polling |
//                    | word 5 BUSY_BELL, word 6 IDLE_BUSY (main->wrk)    |
//                    | word 8 MAIN_BELL, word 9 MAIN_SLEEPING (wrk->main)|
//                    | word 16 + index: requests in flight on a worker  |
//                    | word 1040 + index: 1 while that worker polls     |
//                    | word 2064 + index: requests that worker answered |
//                    | word 3088 + index: 1 while that worker is a gated |
//                    |                    spare (./spares.ts)            |
//        SLOTS_BASE  +--------------------------------------------------+
//                    | slot 0 | slot 1 | ... | slot n-1                  |
//                    +--------------------------------------------------+
//
//    One slot (SLOT_BYTES, 64-byte aligned):
//
//        +0          control words (Int32), see C_* below      64 bytes
//        +HEAD_AREA  request head: "METHOD\nURL\nHOST\nPORT(\nNAME\nVALUE)*"
//                    UTF-8, written by main with encodeInto       HEAD_BYTES
//        +REQ_AREA   request body, when small enough (inline)     CHUNK_BYTES
//        +RES_AREA   response: "STATUS(\nNAME\nVALUE)*" head then
//                    body bytes (whole, or the first chunk of a
//                    stream that goes on over the channel)      RES_BYTES
//
// "\n" can separate every field because neither URLs (serialised by the URL
// parser) nor header names or values (validated by Headers) may contain it.
//
// Wake-ups go through the doorbell words (word 1 to 9 and the per-worker
// polling flags), whose protocol is drawn in ./doorbell.ts.
//
// Ownership: main writes the head, the inline body and FLAGS, then pushes
// the ticket. A worker owns the slot from its successful CAS on C_CLAIM
// until it sends an event with the RELEASE bit; only then may main reuse it.
// The worker writes RES_AREA and the RELEASE event publishes it (the ring's
// seq-cst push orders the bytes before the event). A slot carries only the
// short phase of a request: what lives longer (a streamed body, either way)
// leaves the slot with that RELEASE and goes on over the channel
// (./channel.ts), which holds no slot.
//
// `info.completed`: a handler that reads it makes its worker set
// C_WANTS_COMPLETED before the release. Main then keeps the slot out of use
// until Deno.serve's own `info.completed` settles and sends the worker
// IN_COMPLETED or IN_COMPLETED_FAILED for that slot; only then is the slot
// reused, so the event cannot be mistaken for a later request's.
//
// Bulk bodies (above CHUNK_BYTES, up to BULK_BYTES, when whole) travel by
// postMessage with their ArrayBuffer transferred. A request body main has
// read in full is marked F_BODY_MESSAGE and its ticket goes through the
// ring like any other; the worker that claims it asks for the body
// (BodyWanted) and main answers (BodyMessage). A response body the handler
// produced at once goes back the same way (BulkResponse), which also
// releases the slot: the worker sends no ring event for the slot after it.

/** Bits of a ticket that name the slot. */
export const SLOT_BITS = 12;
/** Most slots a server may have (workers x concurrency). */
export const MAX_SLOTS = 1 << SLOT_BITS;
export const SLOT_MASK = MAX_SLOTS - 1;
/** Generations wrap below 2^19 so a ticket stays a positive int31. */
export const GEN_LIMIT = 1 << (31 - SLOT_BITS);

/**
 * Largest encoded request head; larger heads get 431. Deno.serve itself
 * refuses (400) a head over about 64 KiB, and an ASCII head encodes to at
 * most its own size plus the Host once more (it is also in the URL), so
 * every head Deno takes fits unless its Host is over 1 KiB or it is mostly
 * non-ASCII (UTF-8 takes two bytes for each latin1 byte of a header value).
 * The area costs memory only where a head was written (measured: RSS did
 * not grow at start-up or under small heads, see docs/ARCHITECTURE.md).
 */
export const HEAD_BYTES = 65 * 1024;
/** The largest inline body, and the first chunk of a streamed response. */
export const CHUNK_BYTES = 64 * 1024;
/**
 * Bytes of a slot's response area: a chunk plus room for the head, so a
 * 64 KiB body and its head still go in one event instead of a stream (one
 * event instead of five, and no ReadableStream on main).
 */
export const RES_BYTES = CHUNK_BYTES + 16 * 1024;

// Control buffer header (Int32 word indexes).
/** Requests claimed by workers, in total (mod 2^32). */
export const W_CLAIMED = 0;
/** Bumped by main when it has pushed tickets and a worker sleeps. */
export const W_DOORBELL = 1;
/** Idle workers between announcing sleep on W_DOORBELL and waking. */
export const W_IDLE_WORKERS = 2;
/** Workers in their request loop that will pop the ring before sleeping. */
export const W_POLLING = 3;
/** Workers woken by a doorbell notify that have not started polling yet. */
export const W_WAKING = 4;
/** Like W_DOORBELL, for workers that wait with handlers in flight. */
export const W_BUSY_BELL = 5;
/** Workers between announcing a wait on W_BUSY_BELL and waking. */
export const W_IDLE_BUSY = 6;
/** Bumped by a worker when it has pushed events and main sleeps. */
export const W_MAIN_BELL = 8;
/** 1 while main is between announcing sleep on W_MAIN_BELL and waking. */
export const W_MAIN_SLEEPING = 9;
/** Per worker (by index): requests in flight on it. */
export const W_WORKER_INFLIGHT = 16;
export const MAX_WORKERS = 1024;
/** Per worker (by index): 1 while it counts in W_POLLING. */
export const W_WORKER_POLLING = W_WORKER_INFLIGHT + MAX_WORKERS;
/** Per worker (by index): requests it released (answered), since it started. */
export const W_WORKER_COMPLETED = W_WORKER_POLLING + MAX_WORKERS;
/**
 * Per worker (by index): 1 while it is a spare kept out of the request ring
 * (./spares.ts); main stores it, and notifies on it when it opens.
 */
export const W_WORKER_GATED = W_WORKER_COMPLETED + MAX_WORKERS;
export const SLOTS_BASE = (W_WORKER_GATED + MAX_WORKERS) * 4;

// Slot layout (bytes from the slot's start).
export const CONTROL_BYTES = 64;
export const HEAD_AREA = CONTROL_BYTES;
export const REQ_AREA = HEAD_AREA + HEAD_BYTES;
export const RES_AREA = REQ_AREA + CHUNK_BYTES;
export const SLOT_BYTES = RES_AREA + RES_BYTES;

// Slot control words (Int32 index from the slot's first word).
/**
 * Who has the slot: the ticket (> 0) while it is queued, `-id` once that
 * worker's CAS claimed it, `id` being its WorkerSet member id, unique per
 * started thread (so the claim records its owner in the same step: no
 * worker can die owning a slot main cannot name, and a thread that runs on
 * after its exit is not taken for its replacement), 0 once main cancelled
 * it or took it back at the release.
 */
export const C_CLAIM = 0;
/** F_* bits, written by main. */
export const C_FLAGS = 1;
/** Bytes of the encoded request head. */
export const C_HEAD_LEN = 2;
/** Bytes of the inline body in REQ_AREA. */
export const C_REQ_LEN = 3;
/** Bytes used in RES_AREA (head + body, or head + first chunk). */
export const C_RES_LEN = 4;
/** Bytes of the encoded response head at the start of RES_AREA. */
export const C_RES_HEAD_LEN = 5;
/**
 * 1 if the handler asked for `info.completed`: written by the worker before
 * its release, so main then holds the slot until the client has the response
 * and tells the worker with IN_COMPLETED(_FAILED).
 */
export const C_WANTS_COMPLETED = 6;
/**
 * The id of the stream a RESPONSE_STREAM or DETACH starts: the request
 * goes on over the channel (./channel.ts), written by the worker first.
 */
export const C_STREAM = 7;
/**
 * 1 once the handler looked at `request.signal` (written by the worker):
 * only then does main watch the client leaving, as touching the signal
 * makes Deno 2.9 (legacy abort) warn once when such a request succeeds.
 */
export const C_WANTS_SIGNAL = 8;
/**
 * Microseconds the handler's synchronous call took, written by the worker
 * before it answers (-1, main's value at dispatch, if it never said): how
 * main learns which routes are long (../_server/long_requests.ts).
 */
export const C_HANDLER_US = 9;

export const F_ABORTED = 1;
export const F_BODY_INLINE = 2;
/** The body streams: the worker detaches the request (EV_DETACH) at once. */
export const F_BODY_STREAM = 4;
/** The whole body comes by postMessage (BodyWanted, BodyMessage), not through REQ_AREA. */
export const F_BODY_MESSAGE = 8;

/**
 * Largest body that travels whole, by postMessage with its ArrayBuffer
 * transferred, instead of in 64 KiB chunks through the slot. Measured: a
 * 1 MiB echo in chunks costs 32 cross-thread wake-ups and as many copies.
 */
export const BULK_BYTES = 1024 * 1024;

// Events worker -> main.
/** Head and the whole body are in RES_AREA. */
export const EV_RESPONSE_FULL = 1;
/**
 * Head and the first chunk are in RES_AREA; the rest of the body comes over
 * the channel as stream C_STREAM. Always with the RELEASE bit.
 */
export const EV_RESPONSE_STREAM = 2;
/**
 * The request goes on over the channel as stream C_STREAM (its body
 * streams, or its response head is larger than RES_AREA): the worker has
 * read the head. Always with the RELEASE bit.
 */
export const EV_DETACH = 3;
/**
 * The handler answered with the response of upgradeWebSocket(): main
 * performs the upgrade and relays the socket as stream C_STREAM; RES_AREA
 * holds "PROTOCOL\nIDLE_TIMEOUT" (C_RES_HEAD_LEN bytes). With the RELEASE bit.
 */
export const EV_UPGRADE = 4;
/** The handler failed before it answered. */
export const EV_ERROR = 6;
/** Nothing but the release. */
export const EV_RELEASE_ONLY = 7;
/** Ored into any event: the worker is done with the slot. */
export const EV_RELEASE = 8;

// Events main -> worker.
export const IN_ABORT = 5;
/** The response reached the client (Deno.serve's `info.completed` resolved). */
export const IN_COMPLETED = 6;
/** The response did not reach the client in full (it rejected). */
export const IN_COMPLETED_FAILED = 7;

/** The server's part of each worker's `workerData`. */
export interface WorkerData {
  handler: string;
  concurrency: number;
  slotCount: number;
  control: SharedArrayBuffer;
  requests: SharedArrayBuffer;
  events: SharedArrayBuffer;
  inbox: SharedArrayBuffer;
}

/** Messages a worker posts to main, besides the supervision ones. */
export type WorkerMessage =
  | BodyWanted
  | BulkResponse
  | { type: "batch"; items: unknown[] };

/** The worker claimed a slot marked F_BODY_MESSAGE and wants its body. */
export interface BodyWanted {
  type: "body-wanted";
  slot: number;
  /** The ticket the worker claimed: a late answer cannot feed a later request. */
  ticket: number;
}

/**
 * A whole response body, its head already in RES_AREA. Sending it releases
 * the slot: the worker sends no ring event for the slot after it.
 */
export interface BulkResponse {
  type: "response";
  slot: number;
  body: ArrayBuffer;
}

/**
 * A request main gives one worker directly, not through the ring: a
 * WebSocket upgrade, sent to the worker with the fewest sockets so they
 * spread evenly (a socket stays with the worker that ran its handler).
 * The worker claims it like a popped ticket.
 */
export interface DirectRequest {
  type: "request";
  slot: number;
  ticket: number;
}

/** Main's answer to a BodyWanted: the whole request body. */
export interface BodyMessage {
  type: "body";
  slot: number;
  /** The ticket of the BodyWanted it answers. */
  ticket: number;
  body: ArrayBuffer;
}

/** Bits of an inbox event above the slot: the ticket's generation, masked. */
const EVENT_GEN_SHIFT = 16;
const EVENT_GEN_MASK = 0x7fff;

/** An inbox event of `type` for the request holding `ticket` in `slot`. */
export function inboxEvent(slot: number, ticket: number, type: number): number {
  return ((ticket >>> SLOT_BITS) & EVENT_GEN_MASK) << EVENT_GEN_SHIFT |
    slot << 4 | type;
}

/** The slot an event names. */
export function eventSlot(event: number): number {
  return (event >>> 4) & SLOT_MASK;
}

/** Whether an inbox event was sent for the request holding `ticket`. */
export function eventIsFor(event: number, ticket: number): boolean {
  return (event >>> EVENT_GEN_SHIFT) ===
    ((ticket >>> SLOT_BITS) & EVENT_GEN_MASK);
}

/** The claim id (the WorkerSet member id) of the worker that claimed the slot at word `word`, or 0. */
export function ownerOf(words: Int32Array, word: number): number {
  const claim = Atomics.load(words, word + C_CLAIM);
  return claim < 0 ? -claim : 0;
}

/** Byte offset of a slot in the control buffer. */
export function slotOffset(slot: number): number {
  return SLOTS_BASE + slot * SLOT_BYTES;
}

/** Bytes the control buffer needs for `slotCount` slots. */
export function controlBytes(slotCount: number): number {
  return SLOTS_BASE + slotCount * SLOT_BYTES;
}
