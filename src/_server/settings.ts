// The server's options once checked, with every default filled in
// (src/server.ts checks them; the defaults live there, in one place).

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
