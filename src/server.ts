/**
 * The HTTP server: `Deno.serve` on the main thread, handlers on worker
 * threads, requests and responses handed over through shared memory.
 *
 * The main thread accepts connections, writes each request's head into a
 * free slot of a shared table and pushes the slot's ticket into a request
 * ring; any worker with room takes the next ticket, runs the handler and
 * writes the response into the same slot. Bodies stream through the slot in
 * 64 KiB chunks in both directions. The engine lives in `src/_server/`; its
 * memory layout and protocols are drawn in `src/_server/wire.ts`.
 *
 * @module
 */

import { RingServer } from "./_server/engine.ts";
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_SPARE_WORKERS,
  defaultWorkers,
  type Settings,
} from "./_server/settings.ts";
import type {
  RestartReason,
  ServerStats,
  ServerWorkerStats,
} from "./_server/stats.ts";
import { MAX_SLOTS, MAX_WORKERS } from "./_server/wire.ts";
import { checkInteger } from "./_common/numbers.ts";
import { moduleUrl } from "./_common/module_url.ts";

export type { RestartReason, ServerStats, ServerWorkerStats };

/** Options for {@linkcode serve}. */
export interface ServeOptions {
  /**
   * A module with `export default { fetch(request, info) }`, the `deno serve`
   * contract: a URL, or a path resolved against the working directory.
   * `info` has `remoteAddr`, `completed` and `workerId` (1-based).
   */
  handler: string | URL;
  /**
   * Worker threads: a number for a fixed pool, or `{ min, max }` for an
   * adaptive one, which starts with `min` workers, doubles them (up to
   * `max`) each time requests have waited in the queue for `growAfter` ms,
   * and retires one that has idled for `shrinkAfter` ms (down to `min`).
   * The default is one per core and one more (at most 256), so long
   * requests, which take at most the cores, leave a worker for short ones.
   *
   * @default {navigator.hardwareConcurrency + 1}
   */
  workers?: number | AdaptiveWorkers;
  /**
   * Worker threads started on top of `workers` and kept in reserve: they
   * take no requests until long ones (handlers that compute for 10 ms or
   * more) hold all the workers they may take, or until fewer than `workers`
   * serve (one is being replaced); then they serve short requests beside
   * the one worker left to them. Each costs an idle isolate's memory; `0`
   * turns them off. A pool whose `workers` you set has none unless you set
   * this too.
   *
   * @default {1 with the default `workers`, else 0}
   */
  spareWorkers?: number;
  /**
   * A worker that has answered this many requests is replaced by a fresh
   * one (drained first, one worker at a time: no request fails). Off unless
   * set.
   */
  maxRequestsPerWorker?: number;
  /**
   * A worker whose V8 heap in use has reached this many MiB (read from its
   * own counters about once a second) is replaced by a fresh one, drained
   * first, one worker at a time. Off unless set.
   */
  maxWorkerMemory?: number;
  /**
   * Requests in flight per worker: a worker whose handlers await I/O takes
   * more requests up to this many; a worker busy computing takes none.
   *
   * @default {16}
   */
  concurrency?: number;
  /** The interface to listen on. @default {"0.0.0.0"} */
  hostname?: string;
  /** The port to listen on; `0` picks a free one. @default {8000} */
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
  /**
   * Shut down gracefully once this many requests have been accepted, like
   * the book's `listener.incoming().take(2)`. The count is exact: the
   * request that reaches it is served, every later one gets 503 with
   * `Connection: close`. The readiness and metrics endpoints do not count.
   * Unlimited unless set.
   */
  maxRequests?: number;
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
  /**
   * A path answered on the main thread with 200 while the server accepts
   * work and 503 from the moment a drain starts, for load balancers. Off
   * unless set, e.g. `"/healthz"`.
   */
  readinessPath?: string;
  /**
   * Milliseconds between the start of a drain and the moment the server
   * stops accepting requests. During them `readinessPath` already answers
   * 503 while every other request is still served as usual, so a load
   * balancer has time to take the server out of rotation. The drain timeout
   * starts after them.
   *
   * @default {0}
   */
  readinessDelay?: number;
  /**
   * A path answered on the main thread with the counters of
   * {@linkcode PoolServer.stats} in the Prometheus text format. Off unless
   * set, e.g. `"/metrics"`.
   */
  metricsPath?: string;
  /**
   * A path answered on the main thread with a live dashboard: an HTML page
   * of every worker, the queue, responses by status and the latency
   * histogram, updated by server-sent events from `PATH/events`, with the
   * same numbers as JSON at `PATH/stats.json`. Off unless set, e.g.
   * `"/dashboard"`; it shows the server's internals, so keep it private.
   *
   * @default {undefined}
   */
  dashboardPath?: string;
  /**
   * Largest WebSocket message, in bytes, a client may send (for a text
   * message, its length in UTF-16 code units counts); a larger one closes
   * the socket with 1009 ("message too big"). Deno's own limit is the same
   * 64 MiB.
   *
   * @default {67108864}
   */
  maxMessageSize?: number;
  /**
   * Heap limits of each worker (`node:worker_threads` `resourceLimits`): a
   * worker over them dies alone, its requests get 502 and it is replaced.
   */
  resourceLimits?: {
    maxOldGenerationSizeMb?: number;
    maxYoungGenerationSizeMb?: number;
    stackSizeMb?: number;
  };
}

/** An adaptive pool's size, for {@linkcode ServeOptions.workers}. */
export interface AdaptiveWorkers {
  /** Workers at start, and the fewest it shrinks to. */
  min: number;
  /** The most workers it grows to. */
  max: number;
  /** Ms requests must have waited in the queue before it grows. @default {100} */
  growAfter?: number;
  /** Ms a worker must have idled (nothing in flight) before it shrinks. @default {30000} */
  shrinkAfter?: number;
}

/** The handle of a running server; the shape of `Deno.HttpServer`. */
export interface PoolServer extends AsyncDisposable {
  /** The address the server listens on. */
  readonly addr: Deno.NetAddr;
  /** Resolves once the server has shut down and every worker is joined. */
  readonly finished: Promise<void>;
  /** Stops accepting, drains in-flight requests (at most `timeout` ms), joins the workers. */
  shutdown(options?: { timeout?: number }): Promise<void>;
  /**
   * A rolling reload: new workers load the handler module afresh (changed
   * code on disk is picked up) and take over one at a time; each old worker
   * takes no new request, finishes what it has (its WebSockets close with
   * 1012, "service restart") and is joined, so no request fails. Rejects,
   * leaving the rest of the old workers serving, if a new worker fails to
   * load. SIGHUP does the same when `handleSignals` is on.
   */
  reload(): Promise<void>;
  /** Current counters, read without messaging the workers. */
  stats(): ServerStats;
}

/**
 * Starts the server. Resolves once every worker has loaded the handler and
 * the listener is bound; rejects (leaving no listener open) if the handler
 * module fails to load.
 *
 * @param options The handler module and the server's settings.
 * @returns The running server.
 * @throws {TypeError} If `options.handler` is missing or not a string or URL.
 * @throws {RangeError} If a numeric option is out of range.
 * @throws {Error} (as a rejection) If the handler module fails to load in a
 * worker; the message names the module and the cause.
 *
 * @example Serve a handler module on two workers
 * ```ts
 * import { serve } from "@ringpool/ringpool";
 * import assert from "node:assert/strict";
 *
 * const handler = `data:text/javascript,export default {
 *   fetch: (request, info) => new Response("hi from worker " + info.workerId),
 * };`;
 * const server = await serve({
 *   handler,
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   workers: 2,
 *   onListen: () => {},
 * });
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * assert.match(await response.text(), /^hi from worker [12]$/);
 * await server.shutdown();
 * ```
 */
export function serve(options: ServeOptions): Promise<PoolServer> {
  return RingServer.start(checkOptions(options));
}

/**
 * Checks the options up front and fills in the defaults (which live here
 * and in the `@default` tags above: change both together), so the engine
 * never meets a bad value later.
 */
function checkOptions(options: ServeOptions): Settings {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      "Cannot serve as 'options' must be an object with a 'handler' module",
    );
  }
  const integer = (
    name: keyof ServeOptions,
    fallback: number,
    min: number,
    max?: number,
  ): number =>
    options[name] === undefined
      ? fallback
      : checkInteger("serve", name, options[name], min, max);
  const { workers, maxWorkers, growAfter, shrinkAfter } = poolSize(
    options.workers,
  );
  return {
    handler: moduleUrl("serve", "handler", options.handler).href,
    workers,
    maxWorkers,
    spareWorkers: integer(
      "spareWorkers",
      // A pool sized by the caller has the threads asked for.
      options.workers === undefined ? DEFAULT_SPARE_WORKERS : 0,
      0,
      MAX_WORKERS - 1 - maxWorkers,
    ),
    growAfter,
    shrinkAfter,
    maxRequestsPerWorker: options.maxRequestsPerWorker === undefined
      ? undefined
      : integer("maxRequestsPerWorker", 0, 1),
    maxWorkerMemory: options.maxWorkerMemory === undefined
      ? undefined
      : integer("maxWorkerMemory", 0, 1),
    concurrency: integer(
      "concurrency",
      DEFAULT_CONCURRENCY,
      1,
      Math.floor(MAX_SLOTS / maxWorkers),
    ),
    hostname: options.hostname ?? "0.0.0.0",
    port: integer("port", 8000, 0, 65535),
    cert: options.cert,
    key: options.key,
    onListen: options.onListen,
    onError: options.onError,
    queueCapacity: integer("queueCapacity", 1024, 0),
    maxBodySize: integer("maxBodySize", 10485760, 0),
    requestTimeout: integer("requestTimeout", 30000, 1),
    drainTimeout: integer("drainTimeout", 10000, 0),
    maxRequests: options.maxRequests === undefined
      ? undefined
      : integer("maxRequests", 0, 1),
    signal: options.signal,
    handleSignals: options.handleSignals ?? true,
    static: options.static,
    onDrain: options.onDrain,
    onWorkerExit: options.onWorkerExit,
    resourceLimits: options.resourceLimits,
    readinessPath: path("readinessPath", options.readinessPath),
    readinessDelay: integer("readinessDelay", 0, 0),
    metricsPath: path("metricsPath", options.metricsPath),
    dashboardPath: path("dashboardPath", options.dashboardPath),
    maxMessageSize: integer("maxMessageSize", 64 * 1024 * 1024, 1),
  };
}

/** The `workers` option as a fixed size or an adaptive range, checked. */
function poolSize(value: ServeOptions["workers"]): {
  workers: number;
  maxWorkers: number;
  growAfter: number;
  shrinkAfter: number;
} {
  if (value === undefined || typeof value === "number") {
    const workers = value === undefined
      ? defaultWorkers()
      // One position is kept for a rolling reload's extra worker.
      : checkInteger("serve", "workers", value, 1, MAX_WORKERS - 1);
    return { workers, maxWorkers: workers, growAfter: 100, shrinkAfter: 30000 };
  }
  if (typeof value !== "object" || value === null) {
    throw new TypeError(
      `Cannot serve as 'workers' must be a number or { min, max }: received ${
        String(value)
      }`,
    );
  }
  // One position is kept for a rolling reload's extra worker.
  const min = checkInteger(
    "serve",
    "workers.min",
    value.min,
    1,
    MAX_WORKERS - 1,
  );
  const max = checkInteger(
    "serve",
    "workers.max",
    value.max,
    min,
    MAX_WORKERS - 1,
  );
  return {
    workers: min,
    maxWorkers: max,
    growAfter: value.growAfter === undefined
      ? 100
      : checkInteger("serve", "workers.growAfter", value.growAfter, 0),
    shrinkAfter: value.shrinkAfter === undefined
      ? 30000
      : checkInteger("serve", "workers.shrinkAfter", value.shrinkAfter, 0),
  };
}

function path(name: string, value: unknown): string | undefined {
  if (
    value !== undefined && (typeof value !== "string" || !value.startsWith("/"))
  ) {
    throw new TypeError(
      `Cannot serve as '${name}' must be a path starting with "/": received ${
        String(value)
      }`,
    );
  }
  return value;
}
