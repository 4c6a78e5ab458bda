// The counters serve()'s handle reports, read from shared memory without
// messaging the workers. The public type is re-exported by src/server.ts.

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
  /**
   * Per worker: requests in flight on it (holding a slot); its streams,
   * requests whose response (or request body) streams, which hold none;
   * and its open WebSockets.
   */
  workers: { id: number; inFlight: number; streams: number; sockets: number }[];
}
