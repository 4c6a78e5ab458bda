/**
 * RingBuffer benchmarks in real `node:worker_threads` workers.
 *
 * - Throughput (`ring PxC`): P producers `push()` as fast as they can for
 *   about a second into a ring of 1024 cells, C consumers `pop()`; timed
 *   from the first push to the last, after every worker has started and
 *   waited at a start line, so worker start-up is not included.
 * - Latency (`ring ping-pong spin N`): one worker pushes a value into one
 *   ring and waits for it to come back through another; the other worker
 *   echoes. Nothing is pipelined, so each round trip is two hand-offs and,
 *   with spin 0, two sleeps and two wake-ups.
 *
 * Run `deno run -A bench/ring.ts [--quick]` to print the results as JSON.
 * This file is also the workers' entry point.
 *
 * @module
 */

import { isMainThread, parentPort, workerData } from "node:worker_threads";
import type { Worker } from "node:worker_threads";
import { RingBuffer } from "../src/ring_buffer.ts";
import { spawnWorker } from "../src/_workers/live.ts";

/** One measured case. */
export interface RingBenchResult {
  /** For example "ring 1x1" or "ring ping-pong spin 0". */
  name: string;
  /** Items moved per second (round trips per second for ping-pong). */
  itemsPerSecond: number;
  /** Items moved (round trips for ping-pong). */
  items: number;
  /** Measured wall time in seconds, from the first push to the last pop. */
  seconds: number;
  /** Ring capacity used. */
  capacity: number;
  /** Value of `RingBuffer.spin` in the workers. */
  spin: number;
  /** Ping-pong only: mean round trip in microseconds. */
  roundTripMicros?: number;
}

// The control block shared with every worker of one case, in Int32 words.
//   word 0  START  0 until the main thread lets the workers go
const START = 0;

type Job =
  | {
    kind: "produce";
    ring: SharedArrayBuffer;
    control: SharedArrayBuffer;
    durationMs: number;
    spin: number;
  }
  | {
    kind: "consume";
    ring: SharedArrayBuffer;
    control: SharedArrayBuffer;
    spin: number;
  }
  | {
    kind: "ping";
    there: SharedArrayBuffer;
    back: SharedArrayBuffer;
    control: SharedArrayBuffer;
    durationMs: number;
    spin: number;
  }
  | {
    kind: "pong";
    there: SharedArrayBuffer;
    back: SharedArrayBuffer;
    control: SharedArrayBuffer;
    spin: number;
  };

interface Report {
  /** Items pushed, popped or round trips. */
  count: number;
  /** Absolute times (performance.timeOrigin + now()) in milliseconds. */
  firstMs: number;
  lastMs: number;
}

const now = () => performance.timeOrigin + performance.now();

function waitForStart(control: SharedArrayBuffer): void {
  // Warm the JIT on a private ring first, so the timed part measures
  // optimised code rather than the interpreter's first few milliseconds.
  const warm = new RingBuffer(1024);
  for (let i = 0; i < 300_000; i++) {
    warm.push(i & 1023);
    warm.pop();
  }
  const words = new Int32Array(control);
  parentPort!.postMessage("ready");
  while (Atomics.load(words, START) === 0) Atomics.wait(words, START, 0, 100);
}

function runWorker(job: Job): Report {
  waitForStart(job.control);
  switch (job.kind) {
    case "produce": {
      const ring = RingBuffer.from(job.ring);
      ring.spin = job.spin;
      const firstMs = now();
      const stopAt = firstMs + job.durationMs;
      let count = 0;
      // Check the clock every 4096 items: performance.now() is not free.
      while ((count & 4095) !== 0 || now() < stopAt) {
        ring.push(count & 0xffffff);
        count++;
      }
      return { count, firstMs, lastMs: now() };
    }
    case "consume": {
      const ring = RingBuffer.from(job.ring);
      ring.spin = job.spin;
      let count = 0;
      while (ring.pop() !== undefined) count++;
      return { count, firstMs: 0, lastMs: 0 };
    }
    case "ping": {
      const there = RingBuffer.from(job.there);
      const back = RingBuffer.from(job.back);
      there.spin = back.spin = job.spin;
      const firstMs = now();
      const stopAt = firstMs + job.durationMs;
      let count = 0;
      while ((count & 255) !== 0 || now() < stopAt) {
        there.push(count & 0xffff);
        if (back.pop() !== (count & 0xffff)) throw new Error("ping-pong mixup");
        count++;
      }
      const lastMs = now();
      there.close();
      return { count, firstMs, lastMs };
    }
    case "pong": {
      const there = RingBuffer.from(job.there);
      const back = RingBuffer.from(job.back);
      there.spin = back.spin = job.spin;
      let count = 0;
      for (let value; (value = there.pop()) !== undefined; count++) {
        back.push(value);
      }
      return { count, firstMs: 0, lastMs: 0 };
    }
  }
}

interface Running {
  worker: Worker;
  ready: Promise<void>;
  report: Promise<Report>;
  exited: Promise<void>;
}

function start(job: Job): Running {
  const worker = spawnWorker(new URL(import.meta.url), {
    workerData: { ringBench: job },
  });
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const report = new Promise<Report>((resolve, reject) => {
    worker.on("message", (message) => {
      if (message === "ready") onReady();
      else resolve(message as Report);
    });
    worker.once("error", reject);
    worker.once(
      "exit",
      (code) => reject(new Error(`bench worker exited with ${code}`)),
    );
  });
  report.catch(() => {});
  const exited = new Promise<void>((resolve) =>
    worker.once("exit", () => resolve())
  );
  return { worker, ready, report, exited };
}

async function go(
  running: Running[],
  control: SharedArrayBuffer,
): Promise<void> {
  await Promise.all(running.map((r) => r.ready));
  const words = new Int32Array(control);
  Atomics.store(words, START, 1);
  Atomics.notify(words, START);
}

async function benchThroughput(
  producers: number,
  consumers: number,
  capacity: number,
  spin: number,
  durationMs: number,
): Promise<RingBenchResult> {
  const ring = new RingBuffer(capacity);
  const control = new SharedArrayBuffer(4);
  const makers = Array.from(
    { length: producers },
    () =>
      start({ kind: "produce", ring: ring.buffer, control, durationMs, spin }),
  );
  const takers = Array.from(
    { length: consumers },
    () => start({ kind: "consume", ring: ring.buffer, control, spin }),
  );
  const all = [...makers, ...takers];
  try {
    await go(all, control);
    const made = await Promise.all(makers.map((m) => m.report));
    ring.close(); // the consumers drain what is left, then pop() returns undefined
    const got = await Promise.all(takers.map((t) => t.report));
    const items = got.reduce((sum, r) => sum + r.count, 0);
    const pushed = made.reduce((sum, r) => sum + r.count, 0);
    if (items !== pushed) {
      throw new Error(`pushed ${pushed} items but popped ${items}`);
    }
    // Timed from the first push to the last push; at that point at most
    // `capacity` items were still in the ring, well under 1% of the run.
    const firstMs = Math.min(...made.map((r) => r.firstMs));
    const lastMs = Math.max(...made.map((r) => r.lastMs));
    const seconds = (lastMs - firstMs) / 1000;
    return {
      name: `ring ${producers}x${consumers}`,
      itemsPerSecond: Math.round(items / seconds),
      items,
      seconds,
      capacity,
      spin,
    };
  } finally {
    ring.close();
    await Promise.all(all.map((r) => r.exited));
  }
}

async function benchPingPong(
  spin: number,
  durationMs: number,
): Promise<RingBenchResult> {
  const there = new RingBuffer(2);
  const back = new RingBuffer(2);
  const control = new SharedArrayBuffer(4);
  const ping = start({
    kind: "ping",
    there: there.buffer,
    back: back.buffer,
    control,
    durationMs,
    spin,
  });
  const pong = start({
    kind: "pong",
    there: there.buffer,
    back: back.buffer,
    control,
    spin,
  });
  try {
    await go([ping, pong], control);
    const report = await ping.report;
    await pong.report;
    const seconds = (report.lastMs - report.firstMs) / 1000;
    return {
      name: `ring ping-pong spin ${spin}`,
      itemsPerSecond: Math.round(report.count / seconds),
      items: report.count,
      seconds,
      capacity: 2,
      spin,
      roundTripMicros: Math.round((seconds * 1e6 / report.count) * 100) / 100,
    };
  } finally {
    there.close();
    back.close();
    await Promise.all([ping.exited, pong.exited]);
  }
}

/** Options for {@linkcode benchRing}. */
export interface RingBenchOptions {
  /** Run each case for a fifth of the time (a smoke test, noisier numbers). */
  quick?: boolean;
}

/**
 * Runs every ring case, one after another; each takes about 1-2 s
 * (0.2-1 s with `quick`), worker start-up included.
 *
 * @param options Set `quick` for a short smoke run.
 * @returns One result per case.
 */
export async function benchRing(
  options: RingBenchOptions = {},
): Promise<RingBenchResult[]> {
  const scale = options.quick ? 0.2 : 1;
  const results: RingBenchResult[] = [];
  for (const [producers, consumers] of [[1, 1], [1, 2], [2, 2]] as const) {
    results.push(
      await benchThroughput(producers, consumers, 1024, 0, 1000 * scale),
    );
  }
  for (const spin of [0, 100, 1000]) {
    results.push(await benchPingPong(spin, 500 * scale));
  }
  return results;
}

if (!isMainThread && workerData?.ringBench) {
  parentPort!.postMessage(runWorker(workerData.ringBench as Job));
} else if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  console.log(JSON.stringify(await benchRing({ quick }), null, 2));
}
