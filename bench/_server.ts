// Starting a contender for load and reading what it spent: the harness's
// side of one server process (start and wait until it answers, warm every
// route, CPU time per request from /proc).
import {
  freePort,
  machineTicks,
  mainThreadCpuNs,
  mainThreadWaitNs,
  ServerProcess,
  threadCpuByName,
  treeCpuNs,
  waitForPort,
} from "./_proc.ts";
import type {
  Calibration,
  Contender,
  ServerKind,
  StartOptions,
} from "./_types.ts";

const MiB = 1024 * 1024;

/** A running contender, ready for load. */
export interface Running {
  proc: ServerProcess;
  port: number;
  base: string;
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

/** Starts a contender and waits until it answers 20 requests in a row. */
export async function start(
  contender: Contender,
  log: (l: string) => void,
  kind: ServerKind = "bench",
  options: StartOptions = {},
  denoFlags: string[] = [],
): Promise<Running> {
  const port = freePort();
  const { cmd, args, env } = contender.command(port, kind, options);
  // Deno flags go right after the subcommand ("run"), before the script.
  const withFlags = [args[0]!, ...denoFlags, ...args.slice(1)];
  const proc = new ServerProcess(cmd, withFlags, env);
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

// The routes each kind of server is warmed on, with how many requests.
function warmJobs(
  base: string,
  cal: Calibration,
  kind: ServerKind,
  client: Deno.HttpClient,
): (() => Promise<number>)[] {
  const jobs: (() => Promise<number>)[] = [];
  const add = (n: number, path: string, init?: RequestInit) => {
    for (let i = 0; i < n; i++) jobs.push(() => get(client, base + path, init));
  };
  if (kind === "ssr") {
    // Enough pages for every worker's JIT to optimise the renderer.
    for (let i = 0; i < 150; i++) {
      add(1, `/ssr?n=${i}`);
      add(1, `/api?n=${i}`);
      add(1, "/static/app.css");
    }
    return jobs;
  }
  add(60, "/hello");
  add(40, `/fast?n=${cal.fastIters}`);
  add(10, `/cpu?n=${cal.cpuIters}`);
  add(10, "/64k");
  add(4, "/echo", { method: "POST", body: new Uint8Array(MiB) });
  // The slow routes at their real cost, as a server that has run a while
  // has seen them (ringpool learns which routes are long).
  add(2, `/slow?n=${cal.slowIters}`);
  add(2, `/slow203?n=${cal.slowIters}`);
  add(4, "/wait?n=1");
  return jobs;
}

/**
 * A few requests of every route of the server `kind`, so each worker's JIT
 * has seen the code paths before anything is measured.
 */
export async function warmUp(
  base: string,
  cal: Calibration,
  kind: ServerKind = "bench",
): Promise<void> {
  const client = Deno.createHttpClient({});
  const jobs = warmJobs(base, cal, kind, client);
  const batch = kind === "ssr" ? 8 : 4;
  try {
    for (let i = 0; i < jobs.length; i += batch) {
      await Promise.all(jobs.slice(i, i + batch).map((j) => j()));
    }
  } finally {
    client.close();
  }
}

/** CPU counters of a process at one moment. */
export interface CpuMark {
  main: number;
  mainWait: number;
  total: number;
  threads: Map<string, number>;
  /** The machine's ticks (machineTicks()). */
  ticks: { total: number; steal: number };
}

/** Reads the CPU counters of `pid` (per thread name too if `perThread`). */
export function cpuMark(pid: number, perThread: boolean): CpuMark {
  return {
    main: mainThreadCpuNs(pid),
    mainWait: mainThreadWaitNs(pid),
    total: treeCpuNs(pid),
    threads: perThread ? threadCpuByName(pid) : new Map(),
    ticks: machineTicks(),
  };
}

/**
 * Above this share of the machine's CPU given to other guests during a run,
 * the run is measured once more and the one with less steal is kept: on a
 * shared VM a neighbour's burst otherwise decides a ratio.
 */
export const STEAL_LIMIT_PERCENT = 10;

function stealPercent(
  before: { total: number; steal: number },
  after: { total: number; steal: number },
): number {
  const total = after.total - before.total;
  if (total <= 0) return 0;
  return Math.round((after.steal - before.steal) / total * 1000) / 10;
}

/** CPU µs per request since `before`: main thread, whole tree, per thread. */
export function cpuSince(
  pid: number,
  before: CpuMark,
  requests: number,
  perThread: boolean,
): {
  mainCpuUs: number;
  totalCpuUs: number;
  mainWaitUs: number;
  threads?: Record<string, number>;
  stealPercent: number;
} {
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
    mainWaitUs: us(after.mainWait - before.mainWait),
    ...(perThread ? { threads } : {}),
    stealPercent: stealPercent(before.ticks, after.ticks),
  };
}
