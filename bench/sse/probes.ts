// What the benchmark reads of its machine and its servers from outside:
// the open-file limit, readiness, and the stats file ringpool writes.
import { waitForOk } from "../_proc.ts";
import type { SseRun } from "./types.ts";

/** The soft limit on open files of this process (children inherit it). */
export function openFilesLimit(): number {
  try {
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    return soft === undefined || soft === "unlimited" ? Infinity : Number(soft);
  } catch {
    return Infinity;
  }
}

/** Polls `GET /` until 20 answers in a row are 200 (bounded). */
export function waitReady(
  port: number,
  gone: Promise<unknown>,
): Promise<void> {
  return waitForOk(`http://127.0.0.1:${port}/`, port, gone, 20);
}

/** ringpool's stats() as last written to `file`, summed over workers. */
export function readStats(
  file: string,
): SseRun["ringpool"] {
  try {
    const stats = JSON.parse(Deno.readTextFileSync(file)) as {
      workers: { inFlight: number; streams: number }[];
    };
    let inFlight = 0;
    let streams = 0;
    for (const worker of stats.workers) {
      inFlight += worker.inFlight;
      streams += worker.streams ?? 0;
    }
    return { inFlight, streams, workers: stats.workers.length };
  } catch {
    return undefined;
  }
}
