/**
 * The HTTP server: `Deno.serve` on the main thread, handlers on worker
 * threads, requests and responses handed over through shared memory.
 *
 * PLACEHOLDER: the interface below is agreed; the implementation is being
 * written (owner: the server helper). Do not rely on `serve` yet.
 *
 * @module
 */

/** Options for {@linkcode serve}. */
export interface ServeOptions {
  /** A module with `export default { fetch(request, info) }`, the `deno serve` contract. */
  handler: string | URL;
  /** Worker threads. @default {4} */
  workers?: number;
  /** Requests in flight per worker. @default {16} */
  concurrency?: number;
  /** @default {"0.0.0.0"} */
  hostname?: string;
  /** @default {8000} */
  port?: number;
  /** TLS certificate (PEM), passed to `Deno.serve`. */
  cert?: string;
  /** TLS private key (PEM), passed to `Deno.serve`. */
  key?: string;
  /** Called once the listener is bound. Default: logs the address like `Deno.serve`. */
  onListen?: (addr: Deno.NetAddr) => void;
  /** Turns an unexpected failure into a response. Default: logs it and answers 500. */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** Requests that may wait for a worker before new ones get 503. @default {1024} */
  queueCapacity?: number;
  /** Largest request body in bytes; larger ones get 413. @default {10485760} */
  maxBodySize?: number;
  /** Milliseconds a handler may take before the request gets 504. @default {30000} */
  requestTimeout?: number;
  /** Milliseconds `shutdown()` waits for in-flight requests. @default {10000} */
  drainTimeout?: number;
  /** Aborting it shuts the server down, like `shutdown()`. */
  signal?: AbortSignal;
  /** Shut down gracefully on SIGINT and SIGTERM; a second signal exits at once. @default {true} */
  handleSignals?: boolean;
  /** Serve files from the main thread, without a worker hop. */
  static?: { root: string | URL; prefix?: string };
  /** Called when a drain starts (the demo prints "Shutting down."). */
  onDrain?: () => void;
  /** Called as each worker is joined during shutdown (the demo prints "Shutting down worker N"). */
  onWorkerExit?: (workerId: number) => void;
}

/** Counters of a running {@linkcode PoolServer}. */
export interface ServerStats {
  /** Requests waiting for a worker. */
  queued: number;
  /** Requests a worker is handling. */
  inFlight: number;
  /** Requests answered since start. */
  completed: number;
  /** Per worker: requests in flight on it. */
  workers: { id: number; inFlight: number }[];
}

/** The handle of a running server; the shape of `Deno.HttpServer`. */
export interface PoolServer extends AsyncDisposable {
  /** The address the server listens on. */
  readonly addr: Deno.NetAddr;
  /** Resolves once the server has shut down and every worker is joined. */
  readonly finished: Promise<void>;
  /** Stops accepting, drains in-flight requests (at most `timeout` ms), joins the workers. */
  shutdown(options?: { timeout?: number }): Promise<void>;
  /** Current counters, read without messaging the workers. */
  stats(): ServerStats;
}

/**
 * Starts the server. Resolves once every worker has loaded the handler and
 * the listener is bound; rejects (leaving no listener open) if the handler
 * module fails to load.
 */
export function serve(_options: ServeOptions): Promise<PoolServer> {
  return Promise.reject(new Error("serve() is not implemented yet"));
}
