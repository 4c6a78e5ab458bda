// The counters serve()'s handle reports, read from shared memory without
// messaging the workers. The public type is re-exported by src/server.ts.

/** Why a worker was replaced, as counted in {@linkcode ServerStats.restarts}. */
export type RestartReason =
  | "reload"
  | "requests"
  | "memory"
  | "timeout"
  | "crash";

/** One worker in {@linkcode ServerStats}. */
export interface ServerWorkerStats {
  /** The worker's id, as handlers see it in `info.workerId` (position + 1). */
  id: number;
  /**
   * `starting` (loading the handler), `ready`, or `retiring` (being replaced
   * or shrunk away: it takes no new requests and finishes what it has).
   */
  state: "starting" | "ready" | "retiring";
  /**
   * A spare worker held out of the request ring now (`serve()`'s
   * `spareWorkers`): it takes no requests until long ones hold the other
   * workers.
   */
  spare: boolean;
  /** Requests in flight on it (holding a slot). */
  inFlight: number;
  /** Its requests whose response (or request body) streams: they hold no slot. */
  streams: number;
  /** Its open WebSockets. */
  sockets: number;
  /** Requests it has answered. */
  completed: number;
  /** Its V8 heap in use, in MiB, as it last reported it (about once a second). */
  heapMiB: number;
}

/** Counters of a running {@linkcode PoolServer}. */
export interface ServerStats {
  /** Requests waiting for a worker. */
  queued: number;
  /** Requests a worker is handling. */
  inFlight: number;
  /** Requests answered since start. */
  completed: number;
  /** WebSocket messages from clients, since start. */
  messagesIn: number;
  /** WebSocket messages to clients, since start. */
  messagesOut: number;
  /** Workers replaced since start, by reason. */
  restarts: Record<RestartReason, number>;
  /** The workers, oldest first. */
  workers: ServerWorkerStats[];
}
