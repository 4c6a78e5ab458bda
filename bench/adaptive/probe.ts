/**
 * What the adaptive benchmark reads from a running contender: its
 * dashboard snapshot (worker states, the completed counter, the queue),
 * polled through a burst, and its process tree's RSS.
 *
 * @module
 */
import { treeRss } from "../_proc.ts";
import { spread } from "../_stats.ts";
import type { Sample } from "./types.ts";

const MiB = 1024 * 1024;

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The part of the dashboard's snapshot (src/_server/dashboard.ts) used here. */
interface Snapshot {
  time: number;
  completed: number;
  queued: number;
  workers: { state: "starting" | "ready" | "retiring" }[];
}

/** One stats read; `t` is relative to `origin` (Date.now() of the burst's start). */
export async function readStats(
  client: Deno.HttpClient,
  url: string,
  origin: number,
): Promise<Sample> {
  const response = await fetch(url, {
    client,
    signal: AbortSignal.timeout(5000),
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`${url} answered ${response.status}`);
  }
  const snap = await response.json() as Snapshot;
  const count = (state: string) =>
    snap.workers.filter((w) => w.state === state).length;
  return {
    // The server's clock: when the counters were read, not when they arrived.
    t: snap.time - origin,
    completed: snap.completed,
    running: count("ready"),
    starting: count("starting"),
    retiring: count("retiring"),
    queued: snap.queued,
  };
}

/** Reads the stats every `everyMs` until stopped; one keep-alive connection. */
export class StatsPoller {
  readonly #url: string;
  readonly #everyMs: number;
  readonly #origin: number;
  readonly #client = Deno.createHttpClient({});
  readonly #samples: Sample[] = [];
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(url: string, everyMs: number, origin: number) {
    this.#url = url;
    this.#everyMs = everyMs;
    this.#origin = origin;
  }

  /** Starts polling (once). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops, closes the connection and returns the samples, oldest first. */
  async stop(): Promise<Sample[]> {
    this.#stopped = true;
    try {
      await this.#loop;
    } finally {
      this.#client.close();
    }
    return this.#samples;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const began = performance.now();
      this.#samples.push(
        await readStats(this.#client, this.#url, this.#origin),
      );
      await delay(Math.max(0, this.#everyMs - (performance.now() - began)));
    }
  }
}

/** Median tree RSS of `pid` over `count` reads `everyMs` apart, MiB. */
export async function sampleRss(
  pid: number,
  count = 4,
  everyMs = 250,
): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    if (i > 0) await delay(everyMs);
    values.push(treeRss(pid) / MiB);
  }
  return Math.round(spread(values).median * 10) / 10;
}
