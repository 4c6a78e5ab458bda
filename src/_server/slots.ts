// Main's bookkeeping of the shared slot table (the slot memory is drawn in
// ./wire.ts), and the one record per request that moves through it.
//
// A slot's life, as main sees it (SlotState):
//
//            dispatch()            RESPONSE_FULL / BulkResponse
//   free ───────────────▶ dispatched ───────────────────▶ answered ──┐
//    ▲                      │    │                                   │
//    │                      │    └─RESPONSE_STREAM / DETACH─▶ detached ┤
//    │                      └──abort()──▶ aborted ◀──abort()──┘      │
//    │                                      │                        │
//    │       the RELEASE bit (or the worker's exit, or a cancel      │
//    │       before any worker claimed it), from any state ◀─────────┘
//    │                                      │
//    │                                      ├─ the handler read info.completed ─▶ completing
//    │                                      ▼                                        │
//    └──── reuse: the next waiting job, or the free list ◀──────── reported ──────────┘
//
// - dispatched: the ticket is queued or a worker owns the slot; no answer yet.
// - answered:   main gave Deno.serve the whole response; the worker releases.
// - detached:   the request left the slot for the channel (its response
//               streams, or its body does: ./streams.ts now has it); the
//               RELEASE that came with the event frees the slot at once.
// - aborted:    main gave up (timeout, client gone, invalid response,
//               shutdown) and answered; it waits for the worker's release
//               and terminates the worker if it does not let go in time.
// - completing: released, but kept out of use until Deno.serve's own
//               `info.completed` settles and the worker is told (wire.ts).
// A release of a slot still `dispatched` is a protocol error: answered 500.
import { GEN_LIMIT, SLOT_BITS, slotOffset } from "./wire.ts";
import type { BodyFeed } from "./request_body.ts";
import type { ServerWorker } from "./context.ts";

/** Where a slot is in its life; see the drawing above. */
export type SlotState =
  | "free"
  | "dispatched"
  | "answered"
  | "aborted"
  | "detached"
  | "completing";

/** One request, from Deno.serve until it is answered and its slot released. */
export interface Job {
  readonly request: Request;
  readonly info: Deno.ServeHandlerInfo;
  /** Settles Deno.serve's promise for this request (and records metrics). */
  readonly resolve: (response: Response) => void;
  /** The body, read whole before the job was queued; undefined once sent. */
  body: Uint8Array | undefined;
  readonly start: number;
  /** Answered while still waiting for a slot (timed out): never dispatched. */
  settled: boolean;
  /** Waited through a sweep of the deadlines: worth checking request.signal. */
  stale: boolean;
  /** The request body has been read to its end (or failed, or there is none). */
  bodyDone: boolean;
  /** Its route's key, once ./long_requests.ts needed it. */
  route: string | undefined;
  /** Its route is long (./long_requests.ts counts it while it runs). */
  long: boolean;
}

/** Main's record of one shared slot. */
export class Slot {
  readonly id: number;
  /** Byte offset of the slot in the control buffer. */
  readonly offset: number;
  /** Int32 index of the slot's first control word. */
  readonly word: number;
  state: SlotState = "free";
  /** The ticket of the current request (generation << SLOT_BITS | id). */
  ticket = 0;
  #generation = 0;
  job: Job | undefined = undefined;
  /** When it was aborted, to terminate a worker that does not let go. */
  abortedAt = 0;
  terminateSent = false;
  /** Whether the job's request.signal is being watched for a client leaving. */
  watching = false;
  /** The worker a WebSocket upgrade was given to directly (not the ring). */
  directedTo: ServerWorker | undefined = undefined;
  /** The request body, if it streams: handed to the request once detached. */
  feed: BodyFeed | undefined = undefined;
  /** Bound once: the listener for the job's request.signal. */
  readonly onClientAbort: () => void;

  constructor(id: number, onClientAbort: (slot: Slot) => void) {
    this.id = id;
    this.offset = slotOffset(id);
    this.word = this.offset >> 2;
    this.onClientAbort = () => onClientAbort(this);
  }

  /** Whether main has answered the request (a response or an error). */
  get answered(): boolean {
    return this.state === "answered" || this.state === "aborted";
  }

  /**
   * Stops watching the job's request.signal. Before any answer: Deno
   * aborts it once a response is sent, and on an upgrade (legacy
   * behaviour), which must not look like the client leaving.
   */
  unwatch(): void {
    if (!this.watching) return;
    this.watching = false;
    this.job!.request.signal.removeEventListener("abort", this.onClientAbort);
  }

  /** Takes `job` in: a fresh ticket, so a stale one cannot claim it. */
  assign(job: Job): void {
    this.#generation = this.#generation + 1 >= GEN_LIMIT
      ? 1
      : this.#generation + 1;
    this.ticket = (this.#generation << SLOT_BITS) | this.id;
    this.state = "dispatched";
    this.job = job;
    this.abortedAt = 0;
    this.terminateSent = false;
    this.watching = false;
    this.directedTo = undefined;
    this.feed = undefined;
  }
}

/** The slots, the free ones, and the ones running a request. */
export class SlotTable {
  readonly all: Slot[] = [];
  /** Slots with a job: dispatched, answered, aborted or (until the release) detached. */
  readonly busy = new Set<Slot>();
  readonly #free: Slot[] = [];

  constructor(count: number, onClientAbort: (slot: Slot) => void) {
    for (let id = 0; id < count; id++) {
      this.all.push(new Slot(id, onClientAbort));
    }
    // Popped from the end: slot 0 first, so small loads touch little memory.
    for (let id = count - 1; id >= 0; id--) this.#free.push(this.all[id]!);
  }

  /** A free slot, or undefined if every slot is taken. */
  take(): Slot | undefined {
    return this.#free.pop();
  }

  /** Puts `job` in `slot` (taken, or just released): now dispatched. */
  assign(slot: Slot, job: Job): void {
    slot.assign(job);
    this.busy.add(slot);
  }

  /** The worker let go of `slot`: it no longer runs a job. */
  release(slot: Slot): void {
    slot.job = undefined;
    slot.feed = undefined;
    this.busy.delete(slot);
  }

  /** Back to the free list. */
  put(slot: Slot): void {
    slot.state = "free";
    this.#free.push(slot);
  }
}
