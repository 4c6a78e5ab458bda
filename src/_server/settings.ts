// The server's options once checked, with every default filled in
// (src/server.ts checks them; the defaults live there, in one place, but
// for the pool's size, which depends on the machine: defaultWorkers()).
import { MAX_SLOTS } from "./wire.ts";

/** The default `concurrency`: requests in flight per worker. */
export const DEFAULT_CONCURRENCY = 16;

/**
 * The default `workers` on a machine with `cores` cores: one per core and one
 * more, at most what the slots allow at the default concurrency.
 *
 * Long requests take at most the cores (./long_requests.ts), so the extra
 * worker serves short ones while long ones hold every core. More workers
 * than that only share the cores: on 2 cores, 4 workers rendered SSR pages
 * at 0.78x the rate of 3 with 1.3x the p99, tied with 3 on four skew shapes
 * and did better only in bursts of slow requests (README, Benchmarks), which
 * the spare (below) now covers; 2 make slow requests queue behind each other.
 */
export function defaultWorkers(
  cores: number = navigator.hardwareConcurrency,
): number {
  return Math.min(Math.max(1, cores) + 1, MAX_SLOTS / DEFAULT_CONCURRENCY);
}

/**
 * The default `spareWorkers` (with the default `workers`): a worker kept out
 * of the ring until long requests hold all the workers they may take, so
 * short requests then have two (./spares.ts).
 */
export const DEFAULT_SPARE_WORKERS = 1;

/** Heap limits of each worker (`node:worker_threads` `resourceLimits`). */
export interface WorkerLimits {
  maxOldGenerationSizeMb?: number;
  maxYoungGenerationSizeMb?: number;
  stackSizeMb?: number;
}

/** `serve()`'s options checked, with every default filled in. */
export interface Settings {
  /** The handler module's URL. */
  handler: string;
  /** Workers at start, and the fewest an adaptive pool shrinks to. */
  workers: number;
  /** The most workers an adaptive pool grows to (= workers when fixed). */
  maxWorkers: number;
  /** Workers kept out of the ring until long requests hold the cores. */
  spareWorkers: number;
  /** Ms requests must wait in the queue before an adaptive pool grows. */
  growAfter: number;
  /** Ms a worker must idle before an adaptive pool shrinks by it. */
  shrinkAfter: number;
  maxRequestsPerWorker?: number;
  maxWorkerMemory?: number;
  concurrency: number;
  hostname: string;
  port: number;
  cert?: string;
  key?: string;
  onListen?: (addr: Deno.NetAddr) => void;
  onError?: (error: unknown) => Response | Promise<Response>;
  queueCapacity: number;
  maxBodySize: number;
  requestTimeout: number;
  drainTimeout: number;
  maxRequests?: number;
  signal?: AbortSignal;
  handleSignals: boolean;
  static?: { root: string | URL; prefix?: string };
  onDrain?: () => void;
  onWorkerExit?: (workerId: number) => void;
  resourceLimits?: WorkerLimits;
  readinessPath?: string;
  readinessDelay: number;
  metricsPath?: string;
  /** The live dashboard's page; `/stats.json` and `/events` below it. */
  dashboardPath?: string;
  maxMessageSize: number;
}
