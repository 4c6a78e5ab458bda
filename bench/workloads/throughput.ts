// The closed-loop workloads (wrk, one thread): trivial, CPU-bound, large
// bodies, and the server-side rendering mix.
import { cpuMark, cpuSince } from "../_server.ts";
import type { Figures, ServerKind } from "../_types.ts";
import { runWrk, type WrkOptions } from "../_wrk.ts";
import { ms, type WorkloadContext } from "./context.ts";

const MiB = 1024 * 1024;

/** The paths of the SSR mix, requested in turn: a page, its data, its file. */
export function ssrPaths(): string[] {
  const out: string[] = [];
  for (let i = 0; i < 16; i++) {
    out.push(`/ssr?n=${i}`, `/api?n=${i * 7}`, "/static/app.css");
  }
  return out;
}

/** Connections of the SSR mix (issue 12 §2). */
export const SSR_CONNECTIONS = 16;

/**
 * Loads a freshly started server over its routes for `config.settleS`
 * seconds, measuring nothing, so that what follows sees every isolate's JIT
 * in its steady state: on the CLI under /hello alone, ringpool's V8
 * platform threads took 13-18 µs per request in its first seconds under
 * load and 2-6 µs after 6 s, while a single isolate settles within its
 * first second (the harness's hello runs after this still show more with
 * 3 and 4 workers: bench/RESULTS.md, Method).
 */
export async function settle(
  ctx: Pick<WorkloadContext, "running" | "cal" | "config">,
  kind: ServerKind,
): Promise<void> {
  const { running, cal, config } = ctx;
  // The HTTP/2 shape's server answers h2 only, which wrk cannot drive;
  // the shape has its own floor, measured on that same server.
  if (config.settleS <= 0 || kind === "h2") return;
  const paths = kind === "ssr"
    ? ssrPaths()
    : ["/hello", `/fast?n=${cal.fastIters}`, "/64k", `/cpu?n=${cal.cpuIters}`];
  await runWrk({
    url: running.base + paths[0],
    paths,
    connections: config.connections,
    durationS: config.settleS,
  });
}

/** One wrk run against the contender, with its CPU per request. */
export async function wrk(
  ctx: WorkloadContext,
  options: Omit<WrkOptions, "url" | "connections" | "durationS"> & {
    path: string;
    connections?: number;
    durationS?: number;
  },
): Promise<Figures> {
  const { running, config } = ctx;
  const pid = running.proc.pid;
  const perThread = ctx.contender.ringpool;
  const { path, ...rest } = options;
  const run = (durationS: number) =>
    runWrk({
      ...rest,
      url: running.base + path,
      connections: options.connections ?? config.connections,
      durationS,
    });
  // Not measured: the same load first, for the code only this path runs.
  if (config.warmS > 0) await run(config.warmS);
  const before = cpuMark(pid, perThread);
  const r = await run(options.durationS ?? config.durationS);
  if (r.requests === 0) {
    // wrk only counts a timeout after 5 s; a run with no answer at all is
    // a hung server, not "0 req/s, 0 errors".
    throw new Error("no response completed during the run (server hung?)");
  }
  const e = r.errors;
  const errors = e.connect + e.read + e.write + e.status + e.timeout;
  return {
    // Only successful answers count: a server answering 503 quickly must
    // not look fast. wrk counts non-2xx/3xx answers in errors.status.
    rps: Math.round((r.requests - e.status) / (r.durationUs / 1e6)),
    mibps: Math.round(r.bytes / (r.durationUs / 1e6) / MiB * 10) / 10,
    errors,
    // Which kind, so a 503 storm is not mistaken for dropped sockets.
    ...(errors > 0
      ? {
        errorKinds: Object.fromEntries(
          Object.entries(e).filter(([, n]) => n > 0),
        ),
      }
      : {}),
    latency: {
      p50: ms(r.latency.p50 / 1000),
      p99: ms(r.latency.p99 / 1000),
      p999: ms(r.latency.p999 / 1000),
      max: ms(r.latency.max / 1000),
    },
    ...cpuSince(pid, before, r.requests, perThread),
  };
}

/** Runs one of the throughput workloads; undefined if `id` is not one. */
export function runThroughput(
  id: string,
  ctx: WorkloadContext,
): Promise<Figures> | undefined {
  const { cal } = ctx;
  switch (id) {
    case "hello-ka":
      return wrk(ctx, { path: "/hello" });
    case "hello-close":
      return wrk(ctx, { path: "/hello", close: true });
    case "cpu-ka":
      return wrk(ctx, { path: `/cpu?n=${cal.cpuIters}` });
    case "cpu-close":
      return wrk(ctx, { path: `/cpu?n=${cal.cpuIters}`, close: true });
    case "64k-ka":
      return wrk(ctx, { path: "/64k" });
    case "echo-1m-ka":
      return wrk(ctx, {
        path: "/echo",
        method: "POST",
        bodyBytes: MiB,
        connections: 8,
      });
    case "ssr":
      return wrk(ctx, {
        path: "/",
        paths: ssrPaths(),
        connections: SSR_CONNECTIONS,
      });
    default:
      return undefined;
  }
}
