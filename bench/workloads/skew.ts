// The skew shapes of issue 12 §1: /fast (~0.1 ms of CPU) beside /slow
// (~40 ms of CPU, or a 40 ms timer), each with its floor: the same /fast
// load on ringpool while the same slow CPU load runs in a separate process
// (_burn.ts), which is what CPU contention alone costs /fast on these cores.
import {
  type BurnSpec,
  openLoop,
  type OpenLoopResult,
  type RouteResult,
  startBurner,
  type StreamSpec,
} from "../_drivers.ts";
import { requireH2load, runH2load } from "../_h2load.ts";
import { cpuMark, cpuSince } from "../_server.ts";
import { percentile } from "../_stats.ts";
import type { Figures } from "../_types.ts";
import { runWrk } from "../_wrk.ts";
import { ms, type WorkloadContext } from "./context.ts";

/** Where slow and fast share connections: one /slow in this many requests (0.5%). */
export const SHARED_EVERY = 200;
/** Connections of the shared-connection shape (a browser-like pool's limit). */
export const SHARED_CONNECTIONS = 16;
/** Closed loop: wrk's connections on /fast, and /slow per second beside it. */
export const CLOSED = { connections: 16, slowRate: 20 };
/** Bursts: this many /slow at once, every `everyMs`. */
export const BURST = { size: 10, everyMs: 500 };
/** I/O-bound slow requests: per second, and the timer each awaits. */
export const IO = { rate: 200, waitMs: 40 };
/** Concurrent streams h2load may open on its one connection. */
export const H2_STREAMS = 128;

const delay = (t: number) => new Promise((r) => setTimeout(r, t));

const paths = (ctx: WorkloadContext) => ({
  fast: `/fast?n=${ctx.cal.fastIters}`,
  slow: `/slow?n=${ctx.cal.slowIters}`,
  tagged: `/slow203?n=${ctx.cal.slowIters}`,
});

// /fast on its own pool, as the skewed mix always had it.
const fastStream = (ctx: WorkloadContext, rate = ctx.config.fastRate) => ({
  name: "fast",
  path: paths(ctx).fast,
  rate,
  maxConns: 256,
  preconnect: 16,
});

// The floor's slow load: the shape's /slow schedule, on as many threads as
// there are cores (as parallel as a server could run it).
function burnSpec(
  ctx: WorkloadContext,
  rate: number,
  burst = 1,
  seconds = ctx.config.skewedS,
): BurnSpec {
  return {
    iters: ctx.cal.slowIters,
    rate,
    burst,
    durationMs: seconds * 1000 + 500,
    threads: navigator.hardwareConcurrency,
  };
}

// Runs `run` while the burner runs `burn` (if any), and adds what the
// burner reports, so a floor shows that its slow load kept its schedule.
async function withBurner(
  burn: BurnSpec | undefined,
  run: () => Promise<Figures>,
): Promise<Figures> {
  if (burn === undefined) return await run();
  const burner = await startBurner(burn);
  let figures: Figures | undefined;
  try {
    figures = await run();
  } finally {
    const report = await burner.finished.catch(() => undefined);
    if (figures !== undefined && report !== undefined) {
      figures.burner = report;
    }
  }
  return figures;
}

function openLoopFigures(result: OpenLoopResult) {
  const routes = Object.values(result.streams);
  const sum = (f: (r: RouteResult) => number) =>
    routes.reduce((a, r) => a + f(r), 0);
  const fast = result.streams.fast!;
  const slow = result.streams.slow;
  return {
    requests: sum((r) => r.completed),
    figures: {
      rps: Math.round(fast.completed / (result.elapsedMs / 1000)),
      errors: sum((r) => r.errors + r.non2xx),
      failed: sum((r) => r.errors + r.non2xx + r.unfinished),
      failedKinds: {
        socket: sum((r) => r.errors),
        non2xx: sum((r) => r.non2xx),
        unanswered: sum((r) => r.unfinished),
      },
      fast: {
        p50: fast.latencyMs.p50,
        p99: fast.latencyMs.p99,
        p999: fast.latencyMs.p999,
        max: fast.latencyMs.max,
        serviceP50: fast.serviceMs.p50,
      },
      ...(slow === undefined
        ? {}
        : { slow: { p50: slow.latencyMs.p50, p99: slow.latencyMs.p99 } }),
      timerLag: { p50: fast.timerLagMs.p50, p99: fast.timerLagMs.p99 },
    },
  };
}

/** Runs the open-loop driver (and the burner, for a floor) against the contender. */
async function openLoopShape(
  ctx: WorkloadContext,
  streams: StreamSpec[],
  burn?: BurnSpec,
): Promise<Figures> {
  const pid = ctx.running.proc.pid;
  const perThread = ctx.contender.ringpool;
  return await withBurner(burn, async () => {
    const before = cpuMark(pid, perThread);
    const result = await openLoop({
      port: ctx.running.port,
      durationMs: ctx.config.skewedS * 1000,
      drainMs: 2000,
      streams,
    });
    const { requests, figures } = openLoopFigures(result);
    return { ...figures, ...cpuSince(pid, before, requests, perThread) };
  });
}

/**
 * Closed loop: wrk (one thread, 16 connections) on /fast while /slow
 * arrives at 20 per second on the open-loop driver's own connections (or,
 * for the floor, the burner runs the same CPU).
 */
async function closedShape(
  ctx: WorkloadContext,
  floor: boolean,
): Promise<Figures> {
  const seconds = Math.max(1, Math.round(ctx.config.skewedS));
  const pid = ctx.running.proc.pid;
  const perThread = ctx.contender.ringpool;
  const burn = floor ? burnSpec(ctx, CLOSED.slowRate, 1, seconds) : undefined;
  return await withBurner(burn, async () => {
    // The slow load starts first and outlasts wrk by a little on each side.
    const side = floor ? undefined : openLoop({
      port: ctx.running.port,
      durationMs: seconds * 1000 + 500,
      drainMs: 2000,
      streams: [{
        name: "slow",
        path: paths(ctx).slow,
        rate: CLOSED.slowRate,
        maxConns: 32,
        preconnect: 4,
      }],
    });
    await delay(floor ? 0 : 250);
    const before = cpuMark(pid, perThread);
    const r = await runWrk({
      url: ctx.running.base + paths(ctx).fast,
      connections: CLOSED.connections,
      durationS: seconds,
    });
    // Within wrk's window: its requests and about rate × seconds slow ones.
    const cpu = cpuSince(
      pid,
      before,
      r.requests + (floor ? 0 : CLOSED.slowRate * seconds),
      perThread,
    );
    const slow = (await side)?.streams.slow;
    const e = r.errors;
    const wrkErrors = e.connect + e.read + e.write + e.status + e.timeout;
    const slowFailed = slow === undefined
      ? 0
      : slow.errors + slow.non2xx + slow.unfinished;
    return {
      rps: Math.round((r.requests - e.status) / (r.durationUs / 1e6)),
      errors: wrkErrors + (slow ? slow.errors + slow.non2xx : 0),
      failed: wrkErrors + slowFailed,
      failedKinds: {
        socket: e.connect + e.read + e.write + e.timeout + (slow?.errors ?? 0),
        non2xx: e.status + (slow?.non2xx ?? 0),
        unanswered: slow?.unfinished ?? 0,
      },
      fast: {
        p50: ms(r.latency.p50 / 1000),
        p99: ms(r.latency.p99 / 1000),
        p999: ms(r.latency.p999 / 1000),
        max: ms(r.latency.max / 1000),
      },
      ...(slow === undefined
        ? {}
        : { slow: { p50: slow.latencyMs.p50, p99: slow.latencyMs.p99 } }),
      ...cpu,
    };
  });
}

function h2Percentiles(values: number[] | undefined) {
  const v = (values ?? []).slice().sort((a, b) => a - b);
  return {
    p50: ms(percentile(v, 50)),
    p99: ms(percentile(v, 99)),
    p999: ms(percentile(v, 99.9)),
    max: ms(v[v.length - 1] ?? NaN),
  };
}

/**
 * HTTP/2: h2load on ONE connection, submitting at a fixed rate with up to
 * 128 streams in flight; every 200th request is /slow203 (or, for the
 * floor, absent, with the burner running its CPU).
 */
async function h2Shape(ctx: WorkloadContext, floor: boolean): Promise<Figures> {
  await requireH2load(ctx.install);
  const { fast, tagged } = paths(ctx);
  const port = ctx.running.port;
  // The HTTP/2 code paths get their warm-up too.
  await runH2load({ port, paths: [fast], rate: 1000, count: 300, streams: 16 });
  const rate = floor
    ? ctx.config.fastRate * (SHARED_EVERY - 1) / SHARED_EVERY
    : ctx.config.fastRate;
  const mix = floor ? [fast] : Array.from(
    { length: SHARED_EVERY },
    (_, i) => i === SHARED_EVERY / 2 ? tagged : fast,
  );
  const burn = floor
    ? burnSpec(ctx, ctx.config.fastRate / SHARED_EVERY)
    : undefined;
  const pid = ctx.running.proc.pid;
  const perThread = ctx.contender.ringpool;
  return await withBurner(burn, async () => {
    const before = cpuMark(pid, perThread);
    const r = await runH2load({
      port,
      paths: mix,
      rate,
      count: Math.round(rate * ctx.config.skewedS),
      streams: H2_STREAMS,
    });
    const fastMs = r.byStatus.get(200) ?? [];
    const slowMs = r.byStatus.get(203);
    let non2xx = 0;
    for (const [status, list] of r.byStatus) {
      if (status < 200 || status >= 300) non2xx += list.length;
    }
    const answered = [...r.byStatus.values()].reduce((a, l) => a + l.length, 0);
    return {
      rps: Math.round(fastMs.length / (r.elapsedMs / 1000)),
      errors: r.failed + non2xx,
      failed: r.failed + non2xx,
      failedKinds: { socket: r.failed, non2xx, unanswered: 0 },
      fast: h2Percentiles(fastMs),
      ...(slowMs === undefined ? {} : {
        slow: {
          p50: h2Percentiles(slowMs).p50,
          p99: h2Percentiles(slowMs).p99,
        },
      }),
      ...cpuSince(pid, before, answered, perThread),
    };
  });
}

/** Runs skew shape `id` (or its floor, `<id>-floor`); undefined if unknown. */
export function runSkew(
  id: string,
  ctx: WorkloadContext,
): Promise<Figures> | undefined {
  const floor = id.endsWith("-floor");
  const shape = floor ? id.slice(0, -"-floor".length) : id;
  const { fast, slow } = paths(ctx);
  const rate = ctx.config.fastRate;
  const S = ctx.config.skewedS;
  switch (shape) {
    case "skewed":
      return openLoopShape(
        ctx,
        floor ? [fastStream(ctx)] : [fastStream(ctx), {
          name: "slow",
          path: slow,
          rate: ctx.config.slowRate,
          maxConns: 32,
          preconnect: 4,
        }],
        floor ? burnSpec(ctx, ctx.config.slowRate, 1, S) : undefined,
      );
    case "skew-closed":
      return closedShape(ctx, floor);
    case "skew-shared":
    case "skew-shared-pinned":
      return openLoopShape(
        ctx,
        [{
          name: "mix",
          routes: floor ? [{ name: "fast", path: fast, weight: 1 }] : [
            { name: "fast", path: fast, weight: SHARED_EVERY - 1 },
            { name: "slow", path: slow, weight: 1 },
          ],
          rate: floor ? rate * (SHARED_EVERY - 1) / SHARED_EVERY : rate,
          maxConns: SHARED_CONNECTIONS,
          preconnect: SHARED_CONNECTIONS,
          pick: shape === "skew-shared-pinned" ? "pinned" : "lru",
        }],
        floor ? burnSpec(ctx, rate / SHARED_EVERY, 1, S) : undefined,
      );
    case "skew-bursts":
      return openLoopShape(
        ctx,
        floor ? [fastStream(ctx)] : [fastStream(ctx), {
          name: "slow",
          path: slow,
          rate: 1000 / BURST.everyMs,
          burst: BURST.size,
          maxConns: 32,
          preconnect: BURST.size,
        }],
        floor ? burnSpec(ctx, 1000 / BURST.everyMs, BURST.size, S) : undefined,
      );
    case "skew-io":
      // The slow side needs no CPU: the floor is /fast alone.
      return openLoopShape(
        ctx,
        floor ? [fastStream(ctx)] : [fastStream(ctx), {
          name: "slow",
          path: `/wait?n=${IO.waitMs}`,
          rate: IO.rate,
          maxConns: 64,
          preconnect: 16,
        }],
      );
    case "skew-h2":
      return h2Shape(ctx, floor);
    default:
      return undefined;
  }
}
