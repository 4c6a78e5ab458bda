/**
 * The HTTP harness: every contender serves the same handler logic on
 * 127.0.0.1 in its own process; wrk (closed loop, 1 thread) measures
 * throughput and an open-loop driver measures latency percentiles; rounds
 * alternate contenders so drift on a shared machine hits them all alike.
 *
 * Run on its own with `deno run -A bench/http.ts [--quick]`; `bench/run.ts`
 * imports {@linkcode runHttpBench} and writes the reports.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { spin } from "./handlers/work.mjs";
import {
  freePort,
  mainThreadCpuNs,
  memory,
  outputWithin,
  resetPeak,
  ServerProcess,
  threadCpuByName,
  treeCpuNs,
  treeRss,
  waitForPort,
} from "./_proc.ts";
import { figure, type Spread, spread } from "./_stats.ts";
import { quickOptions, renderHttpMarkdown } from "./_report.ts";
import { assertWrk, ensureWrk, runWrk } from "./_wrk.ts";
import {
  type ProfileEntry,
  profileMainThread,
  type ProfilePhase,
} from "./_profile.ts";

const DENO = Deno.execPath();
const here = (path: string) => new URL(path, import.meta.url).pathname;

/** A server under test. */
export interface Contender {
  id: string;
  label: string;
  /** Threads or processes that run the handler. */
  workers: number;
  /** True when `serve()` from ringpool runs it. */
  ringpool: boolean;
  command(port: number): {
    cmd: string;
    args: string[];
    env?: Record<string, string>;
  };
}

/** Every contender the harness knows, in report order. */
export const CONTENDERS: Contender[] = [
  {
    id: "deno-single",
    label: "Deno.serve (1 isolate)",
    workers: 1,
    ringpool: false,
    command: (port) => ({
      cmd: DENO,
      args: ["run", "-A", here("./contenders/deno_single.ts"), String(port)],
    }),
  },
  {
    id: "deno-parallel",
    label: "deno serve --parallel (2)",
    workers: 2,
    ringpool: false,
    command: (port) => ({
      cmd: DENO,
      args: [
        "serve",
        "-A",
        "--parallel",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        here("./handlers/handler.ts"),
      ],
      env: { DENO_JOBS: "2" },
    }),
  },
  {
    id: "node-cluster",
    label: "Node cluster (2)",
    workers: 2,
    ringpool: false,
    command: (port) => ({
      cmd: "node",
      args: [here("./handlers/node_cluster.mjs")],
      env: { WORKERS: "2", PORT: String(port) },
    }),
  },
  {
    id: "pm-pool",
    label: "postMessage pool (2)",
    workers: 2,
    ringpool: false,
    command: (port) => ({
      cmd: DENO,
      args: [
        "run",
        "-A",
        here("./contenders/postmessage_pool.ts"),
        String(port),
        "2",
      ],
    }),
  },
  ...[1, 2, 4].map((n): Contender => ({
    id: `ringpool-${n}`,
    label: `ringpool (${n})`,
    workers: n,
    ringpool: true,
    command: (port) => ({
      cmd: DENO,
      args: [
        "run",
        "-A",
        here("./contenders/ringpool.ts"),
        String(port),
        String(n),
      ],
    }),
  })),
];

/** A load pattern. */
export interface Workload {
  id: string;
  label: string;
  /** "throughput": wrk, req/s, higher is better; "latency": open loop, /fast p99 ms, lower is better. */
  kind: "throughput" | "latency";
}

/** Every workload the harness knows, in report order. */
export const WORKLOADS: Workload[] = [
  { id: "hello-ka", label: "Hello, keep-alive", kind: "throughput" },
  { id: "hello-close", label: "Hello, Connection: close", kind: "throughput" },
  { id: "cpu-ka", label: "CPU ~2 ms, keep-alive", kind: "throughput" },
  {
    id: "cpu-close",
    label: "CPU ~2 ms, Connection: close",
    kind: "throughput",
  },
  { id: "64k-ka", label: "64 KiB response, keep-alive", kind: "throughput" },
  {
    id: "echo-1m-ka",
    label: "1 MiB POST echo, keep-alive",
    kind: "throughput",
  },
  { id: "skewed", label: "Skewed mix: /fast p99 (open loop)", kind: "latency" },
];

/** Options of {@linkcode runHttpBench}. */
export interface HttpBenchOptions {
  /** Contender ids to run. @default {all} */
  contenders?: string[];
  /** Workload ids to run. @default {all} */
  workloads?: string[];
  /** Rounds; each runs every contender once, in rotated order. @default {3} */
  rounds?: number;
  /** Seconds per wrk run. @default {2} */
  durationS?: number;
  /** Seconds of open-loop load in the skewed mix. @default {4} */
  skewedS?: number;
  /** Requests per second sent to /fast in the skewed mix. @default {2000} */
  fastRate?: number;
  /** Requests per second sent to /slow in the skewed mix. @default {10} */
  slowRate?: number;
  /** wrk connections. @default {32} */
  connections?: number;
  /** Run the 100 MiB upload/download RSS test. @default {true} */
  rss?: boolean;
  /** Seconds the rounds should fit in: a round is not started if it would end later. @default {480} */
  budgetS?: number;
  /** Profile ringpool's main thread (V8 sampling profiler over the inspector). @default {true} */
  profile?: boolean;
  /** Install wrk with apt-get when missing; false fails with a message instead. @default {true} */
  installWrk?: boolean;
  /** Progress lines. @default {console.error} */
  log?: (line: string) => void;
}

/** One measurement: one contender, one workload, one round. */
export interface RunRecord {
  round: number;
  contender: string;
  workload: string;
  /** Successful (2xx/3xx) responses per second; for "skewed", successful /fast responses per second. */
  rps: number;
  /** Response MiB per second. */
  mibps?: number;
  /** Socket errors plus non-2xx responses. */
  errors: number;
  /** wrk's error counters that were not zero (connect, read, write, status = non-2xx, timeout). */
  errorKinds?: Record<string, number>;
  /** Main-thread CPU time per request, µs. */
  mainCpuUs: number;
  /** CPU time of the whole process tree per request, µs. */
  totalCpuUs: number;
  /** Per-thread-name CPU µs per request (ringpool only). */
  threads?: Record<string, number>;
  /** Open-loop /fast latency from the intended send time, ms. */
  fast?: {
    p50: number;
    p99: number;
    p999: number;
    max: number;
    serviceP50: number;
  };
  /** Open-loop /slow latency, ms. */
  slow?: { p50: number; p99: number };
  /** The driver's own lateness against its schedule, ms. */
  timerLag?: { p50: number; p99: number };
  /** Requests the driver could not complete (errors, unanswered). */
  failed?: number;
  /** `failed` by cause: socket errors, non-2xx answers, no answer by the end. */
  failedKinds?: { socket: number; non2xx: number; unanswered: number };
}

/** Everything one run of the harness measured. */
export interface HttpBenchResult {
  config: Required<Omit<HttpBenchOptions, "log" | "installWrk">>;
  calibration: {
    itersPerMs: number;
    cpuIters: number;
    fastIters: number;
    slowIters: number;
    cpuMs: number;
  };
  contenders: {
    id: string;
    label: string;
    workers: number;
    available: boolean;
    reason?: string;
    idleRss: Spread;
  }[];
  workloads: Workload[];
  runs: RunRecord[];
  /** Workload runs that threw (server crashed, driver failed, ...). */
  failures: {
    round: number;
    contender: string;
    workload: string;
    error: string;
  }[];
  /** Per workload, per contender: the figure across rounds and the per-round ratio to deno-single. */
  summary: Record<
    string,
    Record<
      string,
      {
        value: Spread;
        ratio: Spread;
        p50?: Spread;
        p999?: Spread;
        mainCpuUs: Spread;
        totalCpuUs: Spread;
      }
    >
  >;
  rss: RssResult[];
  /** Where ringpool's main thread spends its time, per profiled workload. */
  profiles: ProfileResult[];
  roundsRun: number;
  elapsedS: number;
}

/** A V8 CPU profile of a contender's main thread under one workload. */
export interface ProfileResult {
  contender: string;
  workload: string;
  entries: ProfileEntry[];
  /** Busy time by phase of a request (absent in older results). */
  phases?: ProfilePhase[];
  /** Requests served while the profiler ran. */
  requests?: number;
  error?: string;
}

/** Memory through one server while 100 MiB go up and then down. */
export interface RssResult {
  contender: string;
  available: boolean;
  reason?: string;
  idleMiB?: number;
  uploadGrowthMiB?: number;
  downloadGrowthMiB?: number;
  uploadOk?: boolean;
  downloadOk?: boolean;
  /** How the peak was read: the kernel's VmHWM (reset first) or sampling. */
  method?: string;
}

const MiB = 1024 * 1024;

/** Finds spin() iterations per millisecond on this machine (in this isolate). */
export function calibrate(): HttpBenchResult["calibration"] {
  for (let i = 0; i < 20; i++) spin(200_000); // let the JIT settle
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    spin(1_000_000);
    times.push(performance.now() - t);
  }
  // The fastest run is the best estimate of the cost itself: other
  // processes on the shared cores can only make a run slower.
  const itersPerMs = 1_000_000 / spread(times).min;
  const cpuIters = Math.round(2 * itersPerMs);
  const t = performance.now();
  for (let i = 0; i < 10; i++) spin(cpuIters);
  return {
    itersPerMs: Math.round(itersPerMs),
    cpuIters,
    fastIters: Math.round(0.1 * itersPerMs),
    slowIters: Math.round(40 * itersPerMs),
    cpuMs: Math.round((performance.now() - t) / 10 * 1000) / 1000,
  };
}

// Every request the harness itself sends is bounded, so a server that
// accepts but never answers cannot hang the run.
async function get(
  client: Deno.HttpClient,
  url: string,
  init: RequestInit = {},
  timeoutMs = 10_000,
): Promise<number> {
  const response = await fetch(url, {
    ...init,
    client,
    signal: AbortSignal.timeout(timeoutMs),
  });
  await response.arrayBuffer();
  return response.status;
}

/** A running contender, ready for load. */
interface Running {
  proc: ServerProcess;
  port: number;
  base: string;
}

async function start(
  contender: Contender,
  log: (l: string) => void,
  extraArgs: string[] = [],
  denoFlags: string[] = [],
): Promise<Running> {
  const port = freePort();
  const { cmd, args, env } = contender.command(port);
  // Deno flags go right after the subcommand ("run"), before the script.
  const withFlags = [args[0]!, ...denoFlags, ...args.slice(1)];
  const proc = new ServerProcess(cmd, [...withFlags, ...extraArgs], env);
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForPort(port, 20_000, proc.exited);
    // An open port is not a ready pool (deno --parallel and Node cluster bind
    // as their first worker comes up): wait for answers, then settle.
    const client = Deno.createHttpClient({});
    try {
      const deadline = Date.now() + 10_000;
      let ok = 0;
      while (ok < 20) {
        if (Date.now() > deadline) {
          throw new Error("no 200 from /hello within 10 s");
        }
        const status = await get(client, `${base}/hello`, {}, 2000)
          .catch(() => 0);
        if (status === 200) {
          ok++;
        } else {
          ok = 0;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    } finally {
      client.close();
    }
    await new Promise((r) => setTimeout(r, 300));
    return { proc, port, base };
  } catch (error) {
    await proc.stop();
    const detail = proc.stderr.trim().split("\n").slice(-3).join(" | ");
    log(
      `  ${contender.id}: not available (${
        detail || (error as Error).message
      })`,
    );
    throw new Error(detail || (error as Error).message);
  }
}

// A few requests of every route so each worker's JIT has seen the code paths
// before anything is measured.
async function warmUp(
  base: string,
  cal: HttpBenchResult["calibration"],
): Promise<void> {
  const client = Deno.createHttpClient({});
  const body = new Uint8Array(MiB);
  const jobs: (() => Promise<number>)[] = [];
  for (let i = 0; i < 60; i++) jobs.push(() => get(client, `${base}/hello`));
  for (let i = 0; i < 40; i++) {
    jobs.push(() => get(client, `${base}/fast?n=${cal.fastIters}`));
  }
  for (let i = 0; i < 10; i++) {
    jobs.push(() => get(client, `${base}/cpu?n=${cal.cpuIters}`));
  }
  for (let i = 0; i < 10; i++) jobs.push(() => get(client, `${base}/64k`));
  for (let i = 0; i < 4; i++) {
    jobs.push(() => get(client, `${base}/echo`, { method: "POST", body }));
  }
  try {
    for (let i = 0; i < jobs.length; i += 4) {
      await Promise.all(jobs.slice(i, i + 4).map((j) => j()));
    }
  } finally {
    client.close();
  }
}

interface CpuMark {
  main: number;
  total: number;
  threads: Map<string, number>;
}

function cpuMark(pid: number, perThread: boolean): CpuMark {
  return {
    main: mainThreadCpuNs(pid),
    total: treeCpuNs(pid),
    threads: perThread ? threadCpuByName(pid) : new Map(),
  };
}

function cpuSince(
  pid: number,
  before: CpuMark,
  requests: number,
  perThread: boolean,
) {
  const after = cpuMark(pid, perThread);
  const us = (ns: number) =>
    Math.round(ns / 1000 / Math.max(1, requests) * 10) / 10;
  const threads: Record<string, number> = {};
  for (const [name, ns] of after.threads) {
    threads[name] = us(ns - (before.threads.get(name) ?? 0));
  }
  return {
    mainCpuUs: us(after.main - before.main),
    totalCpuUs: us(after.total - before.total),
    ...(perThread ? { threads } : {}),
  };
}

async function runWorkload(
  workload: string,
  contender: Contender,
  running: Running,
  cal: HttpBenchResult["calibration"],
  config: HttpBenchResult["config"],
): Promise<Omit<RunRecord, "round" | "contender" | "workload">> {
  const pid = running.proc.pid;
  const perThread = contender.ringpool;
  const wrk = async (
    path: string,
    extra: {
      close?: boolean;
      method?: "POST";
      bodyBytes?: number;
      connections?: number;
    } = {},
  ) => {
    const before = cpuMark(pid, perThread);
    const r = await runWrk({
      url: running.base + path,
      connections: extra.connections ?? config.connections,
      durationS: config.durationS,
      ...extra,
    });
    if (r.requests === 0) {
      // wrk only counts a timeout after 5 s; a run with no answer at all is
      // a hung server, not "0 req/s, 0 errors".
      throw new Error("no response completed during the run (server hung?)");
    }
    const e = r.errors;
    return {
      // Only successful answers count: a server answering 503 quickly must
      // not look fast. wrk counts non-2xx/3xx answers in errors.status.
      rps: Math.round((r.requests - r.errors.status) / (r.durationUs / 1e6)),
      mibps: Math.round(r.bytes / (r.durationUs / 1e6) / MiB * 10) / 10,
      errors: e.connect + e.read + e.write + e.status + e.timeout,
      // Which kind, so a 503 storm is not mistaken for dropped sockets.
      ...(e.connect + e.read + e.write + e.status + e.timeout > 0
        ? {
          errorKinds: Object.fromEntries(
            Object.entries(e).filter(([, n]) => n > 0),
          ),
        }
        : {}),
      ...cpuSince(pid, before, r.requests, perThread),
    };
  };
  switch (workload) {
    case "hello-ka":
      return await wrk("/hello");
    case "hello-close":
      return await wrk("/hello", { close: true });
    case "cpu-ka":
      return await wrk(`/cpu?n=${cal.cpuIters}`);
    case "cpu-close":
      return await wrk(`/cpu?n=${cal.cpuIters}`, { close: true });
    case "64k-ka":
      return await wrk("/64k");
    case "echo-1m-ka":
      return await wrk("/echo", {
        method: "POST",
        bodyBytes: MiB,
        connections: 8,
      });
    case "skewed":
      return await skewed(running, cal, config, perThread);
    default:
      throw new RangeError(
        `Cannot run workload '${workload}' as it is unknown: use one of ${
          WORKLOADS.map((w) => w.id).join(", ")
        }`,
      );
  }
}

async function skewed(
  running: Running,
  cal: HttpBenchResult["calibration"],
  config: HttpBenchResult["config"],
  perThread: boolean,
): Promise<Omit<RunRecord, "round" | "contender" | "workload">> {
  const driverConfig = {
    port: running.port,
    durationMs: config.skewedS * 1000,
    drainMs: 2000,
    streams: [
      {
        name: "fast",
        path: `/fast?n=${cal.fastIters}`,
        rate: config.fastRate,
        maxConns: 256,
        preconnect: 16,
      },
      {
        name: "slow",
        path: `/slow?n=${cal.slowIters}`,
        rate: config.slowRate,
        maxConns: 32,
        preconnect: 4,
      },
    ],
  };
  const before = cpuMark(running.proc.pid, perThread);
  const child = new Deno.Command("node", {
    args: [here("./_open_loop.mjs"), JSON.stringify(driverConfig)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = await outputWithin(child, (config.skewedS + 20) * 1000);
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || text === "") {
    throw new Error(
      `open-loop driver failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const result = JSON.parse(text);
  const fast = result.streams.fast;
  const slow = result.streams.slow;
  const requests = fast.completed + slow.completed;
  return {
    rps: Math.round(fast.completed / (result.elapsedMs / 1000)),
    errors: fast.errors + fast.non2xx + slow.errors + slow.non2xx,
    failed: fast.errors + fast.non2xx + fast.unfinished + slow.errors +
      slow.non2xx + slow.unfinished,
    failedKinds: {
      socket: fast.errors + slow.errors,
      non2xx: fast.non2xx + slow.non2xx,
      unanswered: fast.unfinished + slow.unfinished,
    },
    fast: {
      p50: fast.latencyMs.p50,
      p99: fast.latencyMs.p99,
      p999: fast.latencyMs.p999,
      max: fast.latencyMs.max,
      serviceP50: fast.serviceMs.p50,
    },
    slow: { p50: slow.latencyMs.p50, p99: slow.latencyMs.p99 },
    timerLag: { p50: fast.timerLagMs.p50, p99: fast.timerLagMs.p99 },
    ...cpuSince(running.proc.pid, before, requests, perThread),
  };
}

// Streams 100 MiB up, then (in a fresh server, so the upload's freed memory
// cannot hide the download's) 100 MiB down, and reports how far RSS rose
// above where it started.
async function rssTest(
  contender: Contender,
  log: (l: string) => void,
): Promise<RssResult> {
  const up = await rssTransfer(contender, "up", log);
  if ("reason" in up) {
    return { contender: contender.id, available: false, reason: up.reason };
  }
  const down = await rssTransfer(contender, "down", log);
  if ("reason" in down) {
    return { contender: contender.id, available: false, reason: down.reason };
  }
  return {
    contender: contender.id,
    available: true,
    idleMiB: up.idleMiB,
    uploadGrowthMiB: up.growth,
    downloadGrowthMiB: down.growth,
    uploadOk: up.ok,
    downloadOk: down.ok,
    method: up.method,
  };
}

async function rssTransfer(
  contender: Contender,
  direction: "up" | "down",
  log: (l: string) => void,
): Promise<
  { ok: boolean; growth: number; method: string; idleMiB: number } | {
    reason: string;
  }
> {
  let running: Running;
  try {
    running = await start(
      contender,
      log,
      contender.ringpool ? [String(256 * MiB)] : [],
    );
  } catch (error) {
    return { reason: (error as Error).message };
  }
  const pid = running.proc.pid;
  const client = Deno.createHttpClient({});
  const total = 100 * MiB;
  try {
    await warmUp(running.base, {
      itersPerMs: 0,
      cpuIters: 1000,
      fastIters: 100,
      slowIters: 0,
      cpuMs: 0,
    });
    await new Promise((r) => setTimeout(r, 300));
    const idle = treeRss(pid);
    const base = memory(pid)?.rss ?? 0;
    const kernelPeak = resetPeak(pid);
    let sampled = base;
    const sampler = setInterval(() => {
      sampled = Math.max(sampled, memory(pid)?.rss ?? 0);
    }, 10);
    const transfer = async () => {
      if (direction === "up") {
        const chunk = new Uint8Array(64 * 1024).fill(120);
        let left = total / chunk.byteLength;
        const body = new ReadableStream<Uint8Array>({
          pull(c) {
            if (left-- <= 0) c.close();
            else c.enqueue(chunk.slice());
          },
        });
        const response = await fetch(`${running.base}/upload`, {
          method: "POST",
          body,
          client,
          signal: AbortSignal.timeout(120_000),
        });
        const text = await response.text();
        return response.status === 200 && Number(text) === total;
      }
      const response = await fetch(`${running.base}/download?n=100`, {
        client,
        signal: AbortSignal.timeout(120_000),
      });
      let got = 0;
      for await (const c of response.body!) got += c.byteLength;
      return response.status === 200 && got === total;
    };
    const ok = await transfer().catch(() => false);
    clearInterval(sampler);
    const peak = kernelPeak
      ? Math.max(memory(pid)?.peak ?? 0, sampled)
      : sampled;
    return {
      ok,
      growth: Math.round((peak - base) / MiB * 10) / 10,
      method: kernelPeak ? "VmHWM" : "sampled",
      idleMiB: Math.round(idle / MiB * 10) / 10,
    };
  } finally {
    client.close();
    await running.proc.stop();
  }
}

async function profile(
  contender: Contender,
  workload: string,
  cal: HttpBenchResult["calibration"],
  config: HttpBenchResult["config"],
  log: (l: string) => void,
): Promise<ProfileResult> {
  const inspectPort = freePort();
  let running: Running | undefined;
  try {
    running = await start(contender, log, [], [
      `--inspect=127.0.0.1:${inspectPort}`,
    ]);
    const server = running;
    await warmUp(server.base, cal);
    let rps = 0;
    const { entries, phases } = await profileMainThread(
      inspectPort,
      async () => {
        rps = (await runWorkload(workload, contender, server, cal, config))
          .rps;
      },
    );
    return {
      contender: contender.id,
      workload,
      entries,
      phases,
      requests: Math.round(rps * config.durationS),
    };
  } catch (error) {
    return {
      contender: contender.id,
      workload,
      entries: [],
      error: (error as Error).message,
    };
  } finally {
    await running?.proc.stop();
  }
}

/**
 * Runs the HTTP benchmark: every selected contender under every selected
 * workload, `rounds` times, contenders alternating round by round.
 *
 * @param options What to run and for how long.
 * @returns Raw runs, per-workload summaries with ratios to single-isolate
 * `Deno.serve`, and the RSS test.
 * @throws {Error} When wrk is missing and cannot be installed.
 */
export async function runHttpBench(
  options: HttpBenchOptions = {},
): Promise<HttpBenchResult> {
  const log = options.log ?? ((l: string) => console.error(l));
  const config: HttpBenchResult["config"] = {
    contenders: options.contenders ?? CONTENDERS.map((c) => c.id),
    workloads: options.workloads ?? WORKLOADS.map((w) => w.id),
    rounds: options.rounds ?? 3,
    durationS: options.durationS ?? 2,
    skewedS: options.skewedS ?? 4,
    fastRate: options.fastRate ?? 2000,
    slowRate: options.slowRate ?? 10,
    connections: options.connections ?? 32,
    rss: options.rss ?? true,
    profile: options.profile ?? true,
    budgetS: options.budgetS ?? 480,
  };
  for (const id of config.contenders) {
    if (!CONTENDERS.some((c) => c.id === id)) {
      throw new RangeError(
        `Cannot run contender '${id}' as it is unknown: use one of ${
          CONTENDERS.map((c) => c.id).join(", ")
        }`,
      );
    }
  }
  await (options.installWrk === false ? assertWrk() : ensureWrk());
  const began = performance.now();
  const cal = calibrate();
  log(
    `calibration: ${cal.itersPerMs} spin iterations/ms; /cpu = ${cal.cpuIters} (${cal.cpuMs} ms here)`,
  );
  const contenders = CONTENDERS.filter((c) => config.contenders.includes(c.id));
  const workloads = WORKLOADS.filter((w) => config.workloads.includes(w.id));
  const unavailable = new Map<string, string>();
  const idleRss = new Map<string, number[]>();
  const runs: RunRecord[] = [];
  const failures: HttpBenchResult["failures"] = [];
  let roundsRun = 0;
  const roundS: number[] = [];
  for (let round = 0; round < config.rounds; round++) {
    // Start a round only if one more (as long as the slowest so far) still
    // ends within the budget.
    const elapsedS = (performance.now() - began) / 1000;
    if (round > 0 && elapsedS + Math.max(...roundS) > config.budgetS) {
      log(
        `time budget of ${config.budgetS} s: stopping after ${round} round(s)`,
      );
      break;
    }
    const roundBegan = performance.now();
    roundsRun++;
    // Rotate the order so no contender always runs first (cold machine) or last.
    const order = contenders.map((_, i) =>
      contenders[(i + round) % contenders.length]!
    );
    for (const contender of order) {
      if (unavailable.has(contender.id)) continue;
      log(`round ${round + 1}/${config.rounds}: ${contender.id}`);
      let running: Running;
      try {
        running = await start(contender, log);
      } catch (error) {
        unavailable.set(contender.id, (error as Error).message);
        continue;
      }
      try {
        const rss = treeRss(running.proc.pid);
        idleRss.set(contender.id, [
          ...(idleRss.get(contender.id) ?? []),
          rss / MiB,
        ]);
        await warmUp(running.base, cal).catch((error) =>
          log(`  warm-up failed: ${(error as Error).message}`)
        );
        for (const workload of workloads) {
          let figures: Omit<RunRecord, "round" | "contender" | "workload">;
          try {
            figures = await runWorkload(
              workload.id,
              contender,
              running,
              cal,
              config,
            );
          } catch (error) {
            // One broken workload should not cost the others their numbers.
            const message = (error as Error).message;
            failures.push({
              round,
              contender: contender.id,
              workload: workload.id,
              error: message,
            });
            log(`  ${workload.id}: FAILED: ${message}`);
            continue;
          }
          runs.push({
            round,
            contender: contender.id,
            workload: workload.id,
            ...figures,
          });
          const shown = workload.kind === "latency"
            ? `/fast p99 ${figures.fast?.p99} ms`
            : `${figures.rps} req/s`;
          log(
            `  ${workload.id}: ${shown}${
              figures.errors ? ` (${figures.errors} errors)` : ""
            }`,
          );
        }
      } finally {
        await running.proc.stop();
      }
    }
    roundS.push((performance.now() - roundBegan) / 1000);
  }
  const rss: RssResult[] = [];
  if (config.rss) {
    for (const id of ["deno-single", "ringpool-1"]) {
      const contender = CONTENDERS.find((c) => c.id === id)!;
      if (!config.contenders.includes(id)) continue;
      if (unavailable.has(id)) {
        rss.push({
          contender: id,
          available: false,
          reason: unavailable.get(id),
        });
        continue;
      }
      log(`rss: 100 MiB up and down through ${id}`);
      rss.push(await rssTest(contender, log));
    }
  }
  const profiles: ProfileResult[] = [];
  const profiled = CONTENDERS.find((c) => c.id === "ringpool-2")!;
  if (
    config.profile && config.contenders.includes(profiled.id) &&
    !unavailable.has(profiled.id)
  ) {
    for (const workload of ["hello-ka", "echo-1m-ka"]) {
      if (!config.workloads.includes(workload)) continue;
      log(`profile: ${profiled.id} main thread under ${workload}`);
      profiles.push(await profile(profiled, workload, cal, config, log));
    }
  }
  return {
    config,
    calibration: cal,
    contenders: contenders.map((c) => ({
      id: c.id,
      label: c.label,
      workers: c.workers,
      available: !unavailable.has(c.id),
      ...(unavailable.has(c.id) ? { reason: unavailable.get(c.id) } : {}),
      idleRss: spread(idleRss.get(c.id) ?? []),
    })),
    workloads,
    runs,
    failures,
    summary: summarize(runs, workloads),
    rss,
    profiles,
    roundsRun,
    elapsedS: Math.round((performance.now() - began) / 1000),
  };
}

function summarize(
  runs: RunRecord[],
  workloads: Workload[],
): HttpBenchResult["summary"] {
  const out: HttpBenchResult["summary"] = {};
  for (const workload of workloads) {
    const mine = runs.filter((r) => r.workload === workload.id);
    const byContender = Map.groupBy(mine, (r) => r.contender);
    out[workload.id] = {};
    for (const [contender, list] of byContender) {
      // Ratio within the same round, to the baseline measured minutes apart
      // rather than across the whole run.
      const ratios = list.map((r) => {
        const base = mine.find((b) =>
          b.round === r.round && b.contender === "deno-single"
        );
        return base ? figure(r, workload) / figure(base, workload) : NaN;
      });
      out[workload.id]![contender] = {
        value: spread(list.map((r) => figure(r, workload))),
        ratio: spread(ratios),
        ...(workload.kind === "latency"
          ? {
            p50: spread(list.map((r) => r.fast?.p50 ?? NaN)),
            p999: spread(list.map((r) => r.fast?.p999 ?? NaN)),
          }
          : {}),
        mainCpuUs: spread(list.map((r) => r.mainCpuUs)),
        totalCpuUs: spread(list.map((r) => r.totalCpuUs)),
      };
    }
  }
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      rounds: { type: "string" },
      contenders: { type: "string" },
      workloads: { type: "string" },
      json: { type: "string" },
    },
  });
  const result = await runHttpBench({
    ...(values.quick ? quickOptions() : {}),
    ...(values.rounds ? { rounds: Number(values.rounds) } : {}),
    ...(values.contenders ? { contenders: values.contenders.split(",") } : {}),
    ...(values.workloads ? { workloads: values.workloads.split(",") } : {}),
  });
  if (values.json) {
    Deno.writeTextFileSync(values.json, JSON.stringify(result, null, 2) + "\n");
  }
  console.log(renderHttpMarkdown(result));
}
