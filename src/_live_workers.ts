// Every worker thread ringpool starts is created here, so tests can assert
// that none is left alive (Deno's sanitizers do not see leaked workers).
import { Worker, type WorkerOptions } from "node:worker_threads";

const live = new Set<Worker>();

/** Starts a `node:worker_threads` worker and tracks it until it exits. */
export function spawnWorker(url: URL, options: WorkerOptions): Worker {
  const worker = new Worker(url, options);
  live.add(worker);
  worker.once("exit", () => live.delete(worker));
  return worker;
}

/** How many workers started by ringpool in this isolate have not exited yet. */
export function liveWorkerCount(): number {
  return live.size;
}
