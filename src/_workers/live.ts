// Every worker thread ringpool starts is created here, so tests can assert
// that none is left alive (Deno's sanitizers do not see leaked workers).
import { Worker, type WorkerOptions } from "node:worker_threads";

const live = new Set<Worker>();

/**
 * A URL `node:worker_threads` can start for the worker entry `entry`.
 *
 * Deno's node `Worker` only starts `file:` and `data:` URLs ("The URL must be
 * one of scheme file or data"). When ringpool itself is imported over
 * http(s), as from JSR, its worker entries are https: URLs: start a `data:`
 * module that imports the entry instead.
 */
export function startableUrl(entry: URL): URL {
  if (entry.protocol === "file:" || entry.protocol === "data:") return entry;
  return new URL(
    `data:text/javascript,${
      encodeURIComponent(`import ${JSON.stringify(entry.href)};`)
    }`,
  );
}

/** Starts a `node:worker_threads` worker and tracks it until it exits. */
export function spawnWorker(url: URL, options: WorkerOptions): Worker {
  const worker = new Worker(startableUrl(url), options);
  live.add(worker);
  worker.once("exit", () => live.delete(worker));
  return worker;
}

/** How many workers started by ringpool in this isolate have not exited yet. */
export function liveWorkerCount(): number {
  return live.size;
}
