// The one state object the parts of the server's main thread share, the
// way Deno's 00_serve.ts passes a context into its callbacks: the shared
// memory, the tables, the lifecycle, and the parts themselves (each part
// reaches the others through it, so none holds a web of references).
import type { RingBuffer } from "../ring_buffer.ts";
import type { Member, WorkerSet } from "../_workers/worker_set.ts";
import type { Admission } from "./admission.ts";
import type { Worker } from "node:worker_threads";
import { type MainItem, Outbox } from "./channel.ts";
import type { Detached } from "./detached.ts";
import type { SocketRelay, Sockets } from "./sockets.ts";
import type { MainDoorbell } from "./doorbell.ts";
import type { Dispatcher } from "./dispatch.ts";
import type { EventCollector } from "./events.ts";
import type { Faults } from "./faults.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { RequestMetrics } from "./metrics.ts";
import type { WaitingQueue } from "./queue.ts";
import type { LongRequests } from "./long_requests.ts";
import type { Spares } from "./spares.ts";
import type { Releaser } from "./release.ts";
import type { RequestBodies } from "./request_body.ts";
import type { Responder } from "./respond.ts";
import type { Rotation } from "./rotation.ts";
import type { Settings } from "./settings.ts";
import type { Slot, SlotTable } from "./slots.ts";
import type { RestartReason, ServerStats } from "./stats.ts";
import type { Streams } from "./streams.ts";
import { inboxEvent, ownerOf } from "./wire.ts";

/** What main keeps per worker, beside what its WorkerSet keeps. */
export class WorkerLink {
  /** Events main -> this worker about slots (aborts, completions). */
  readonly inbox: RingBuffer;
  /** Channel items main -> this worker, batched per turn (./channel.ts). */
  readonly outbox: Outbox<MainItem>;
  /** Its requests that left their slot, by stream id. */
  readonly streams = new Map<number, Detached>();
  /** Its WebSockets, by stream id. */
  readonly sockets = new Map<number, SocketRelay>();
  /** Upgrade requests given to it that have not become a socket yet. */
  upgrading = 0;
  /** The worker's thread, once started. */
  port: Worker | undefined = undefined;
  /** Terminated because it held on to a request past its deadline. */
  stuck = false;
  /** A spare whose gate is closed: it takes no tickets (./spares.ts). */
  gated = false;

  constructor(inbox: RingBuffer) {
    this.inbox = inbox;
    this.outbox = new Outbox<MainItem>((batch, transfer) =>
      this.port?.postMessage(batch, transfer)
    );
  }
}

/** A worker of the server, as its WorkerSet holds it. */
export type ServerWorker = Member<WorkerLink>;

/**
 * Where the server is in its life:
 *
 *   starting ──listen──▶ serving ──drain starts──▶ unready ──readinessDelay──▶ draining ──joined──▶ stopped
 *
 * - unready: the readiness path answers 503; everything else is still served.
 * - draining: new requests get 503 with `Connection: close`.
 */
export type ServerPhase =
  | "starting"
  | "serving"
  | "unready"
  | "draining"
  | "stopped";

/** The server's shared state and parts. */
export interface ServerContext {
  readonly settings: Settings;
  /** The control buffer, as bytes and as Int32 words. */
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
  /** Tickets, main -> workers. */
  readonly requests: RingBuffer;
  /** Events, workers -> main. */
  readonly events: RingBuffer;
  readonly doorbell: MainDoorbell;
  readonly slots: SlotTable;
  readonly queue: WaitingQueue;
  /** Long routes learnt, and their requests held back (./long_requests.ts). */
  readonly longs: LongRequests;
  /** The spare workers' gates (./spares.ts). */
  readonly spares: Spares;
  readonly workers: WorkerSet<WorkerLink>;
  /** Responses by status and latency, when `metricsPath` or `dashboardPath` is set. */
  readonly metrics: RequestMetrics | undefined;
  readonly admission: Admission;
  readonly dispatcher: Dispatcher;
  readonly collector: EventCollector;
  readonly responder: Responder;
  readonly bodies: RequestBodies;
  readonly releaser: Releaser;
  readonly faults: Faults;
  readonly streams: Streams;
  readonly sockets: Sockets;
  readonly rotation: Rotation;
  readonly lifecycle: Lifecycle;
  /** The counters of PoolServer.stats(). */
  readonly stats: () => ServerStats;
  /** Deno's server, once listening. */
  http: Deno.HttpServer<Deno.NetAddr> | undefined;
  phase: ServerPhase;
  /** Requests counted against `maxRequests`. */
  taken: number;
  /** Requests whose slot a worker released, since start. */
  completed: number;
  /** Workers replaced since start, by reason. */
  readonly restarts: Record<RestartReason, number>;
}

/** Whether answers should close their connection (draining, or past maxRequests). */
export function closing(ctx: ServerContext): boolean {
  return ctx.phase === "draining" || ctx.phase === "stopped" ||
    (ctx.settings.maxRequests !== undefined &&
      ctx.taken >= ctx.settings.maxRequests);
}

/** Workers taking requests now (spares included): ready, not being stopped, oldest first. */
export function servingWorkers(ctx: ServerContext): ServerWorker[] {
  return ctx.workers.members()
    .filter((worker) => worker.state === "ready" && !worker.stopping)
    .sort((a, b) => a.id - b.id);
}

/** The live worker that claimed `slot`, if one did and still runs. */
export function ownerWorker(
  ctx: ServerContext,
  slot: Slot,
): ServerWorker | undefined {
  const id = ownerOf(ctx.words, slot.word);
  return id === 0 ? undefined : ctx.workers.byId(id);
}

/** Sends `type` for `slot` to the worker that owns it, if one does. */
export function tellOwner(ctx: ServerContext, slot: Slot, type: number): void {
  const worker = ownerWorker(ctx, slot);
  if (worker === undefined) return;
  // Inboxes are sized for every event a worker's slots can have pending.
  if (!worker.data.inbox.tryPush(inboxEvent(slot.id, slot.ticket, type))) {
    console.error(`ringpool: worker ${worker.index + 1}'s inbox overflowed`);
  }
}
