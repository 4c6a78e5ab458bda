/**
 * The soak with chaos (issue 10): ≥ 10^6 requests of mixed sizes over
 * ≥ 5 minutes against ringpool's `serve()` while a worker is killed every
 * few seconds, in rotating ways, through the kill routes of
 * `bench/handlers/soak.ts`: `process.exit()`, a busy loop that runs into
 * `requestTimeout` (main then terminates the worker), the `resourceLimits`
 * heap exhausted by synchronous code, and the heap exhausted after an
 * `await` (measured on Deno 2.9.6: answered 504 at the timeout; the worker
 * usually carries on, sometimes exits). `--kinds` picks the ways.
 *
 * Found with it on Deno 2.9.6: `worker.terminate()` of a worker in a busy
 * loop reports the exit but leaves the thread spinning (a Web Worker too),
 * so every busy-loop kill leaves a thread that burns a core; the "no worker
 * left behind" check counts those threads and their idle CPU.
 *
 * The server is ringpool with its default settings (4 workers × concurrency
 * 16) except: `resourceLimits: { maxOldGenerationSizeMb: 64 }` (so the heap
 * route can exhaust it), `requestTimeout: 5000` (so a busy worker is
 * recovered within seconds rather than 30 s; the soak still kills every few
 * seconds), and `metricsPath: "/metrics"` (its status counters are checked
 * against what the clients saw). It runs in its own process.
 *
 * The load runs in this process: `--connections` closed loops (32) with
 * `fetch`, each picking the next route from a seeded mix (85% `GET /small`,
 * 8% `GET /64k`, 5% `GET /stream` of 256 KiB, 2% `POST /echo` of 1 MiB) and
 * checking every body. Not wrk: to tell a victim of a kill from any other
 * failure the soak needs each failed request's send and answer times, which
 * wrk's Lua hooks cannot see. The killer is a separate loop here too.
 *
 * What it asserts (and reports):
 * - every load request answers 200 with the right body, except victims: a
 *   502, 504 or cut body that was in flight when a killed worker died (the
 *   kill request's answer, or for the busy and hanging kinds the terminate
 *   that follows it within the timeout's grace) — a 504 only after the full
 *   `requestTimeout`; any other failure is "unexplained" and fails the soak;
 * - the kill requests themselves answer 502 or 504 (how many answered as
 *   their kind predicts — exit and heap 502, spin 504 — is reported);
 * - the server's own 502/504 counters equal what the clients saw;
 * - RSS after the soak within 10% of RSS after the warm-up (both after 3 s
 *   without load);
 * - no worker left behind: `worker-N` threads and the metrics' workers equal
 *   the configured 4 (and the threads use no CPU without load), and SIGTERM
 *   ends the process within 20 s;
 * - full mode only: ≥ 10^6 requests and ≥ 5 minutes.
 *
 * Run:
 * ```sh
 * deno task bench:soak                  # ≥ 5 min and ≥ 10^6 requests (JSON on stdout)
 * deno task bench:soak --quick          # 20 s, for smoke purposes
 * deno task bench:soak --seconds 600 --requests 2000000 --connections 32 --kill-every 3000 --seed 7
 * deno task bench:soak --quick --kinds exit,heap --mix small=0.9,echo=0.1
 * ```
 * Exits 1 if a check fails.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { freePort, ServerProcess, treeRss, waitForPort } from "./_proc.ts";
import { percentile } from "./_stats.ts";

const DENO = Deno.execPath();
const here = (path: string) => new URL(path, import.meta.url).pathname;
const MiB = 1024 * 1024;
const WORKERS = 4; // serve()'s default
// Client-side slack around a death moment: the victims' answers and the
// kill request's answer leave main together but cross this process's busy
// event loop at different times.
const SLACK_MS = 500;

type Route = "small" | "64k" | "stream" | "echo";
type KillKind = "exit" | "spin" | "heap" | "heap-async";

const KILLS: KillKind[] = ["exit", "spin", "heap", "heap-async"];
// How each kind ends its request: exit and heap with 502 (the worker dies),
// spin with 504 (the timeout; then the terminate). heap-async, measured on
// Deno 2.9.6: usually 504 (V8 ends the runaway promise job and the worker
// serves on), sometimes 502 (it exits). A kill request can also fall victim
// to another kill (a worker may claim it between its handlers' promise jobs
// and then die): 502 or 504 is what every kill request must get.
const EXPECTED_KILL_STATUS: Record<KillKind, number[]> = {
  exit: [502],
  spin: [504],
  heap: [502],
  "heap-async": [504, 502],
};

/** The default mix of routes, by share of requests. */
export const MIX: [Route, number][] = [
  ["small", 0.85],
  ["64k", 0.08],
  ["stream", 0.05],
  ["echo", 0.02],
];
const ECHO = Uint8Array.from({ length: MiB }, (_, i) => (i * 7) & 0xff);
const LENGTH: Record<Route, number> = {
  small: 2,
  "64k": 64 * 1024,
  stream: 256 * 1024,
  echo: MiB,
};

/** Options of {@linkcode runSoak}. */
export interface SoakOptions {
  /** 20 s, no minimum request count. */
  quick?: boolean;
  /** Minimum length of the soak proper (after the warm-up). @default {300} */
  seconds?: number;
  /** Minimum requests in the soak proper. @default {1000000} */
  requests?: number;
  /** Stop at this many seconds even if `requests` was not reached. @default {900} */
  maxSeconds?: number;
  /** Closed-loop clients. @default {32} */
  connections?: number;
  /** A kill starts this often. @default {3000} */
  killEveryMs?: number;
  seed?: number;
  /** The ways of killing, in rotation. @default {["exit", "spin", "heap", "heap-async"]} */
  kinds?: KillKind[];
  /** Share of requests per route. @default {MIX} */
  mix?: Partial<Record<Route, number>>;
  log?: (line: string) => void;
}

/** One kill request. */
export interface KillRecord {
  kind: KillKind;
  sent: number;
  answered?: number;
  status?: number;
  /** Load requests attributed to it. */
  victims: number;
}

/** A load request that did not answer 200 with the right body. */
interface Failure {
  route: Route;
  sent: number;
  answered: number;
  /** 0 when no status arrived. */
  status: number;
  kind: "status" | "cut" | "body" | "error";
  detail?: string;
}

/** One assertion of the soak. */
export interface SoakCheck {
  check: string;
  ok: boolean;
  detail: string;
}

/** Everything the soak measured. */
export interface SoakResult {
  config: Required<Omit<SoakOptions, "log" | "mix">> & {
    mix: Partial<Record<Route, number>>;
    warmupS: number;
    requestTimeout: number;
    heapMb: number;
    workers: number;
  };
  date: string;
  soakS: number;
  requests: number;
  perSecond: number;
  routes: Record<
    Route,
    { count: number; ok: number; p50Ms: number; p99Ms: number }
  >;
  victims: { status502: number; status504: number; cut: number; total: number };
  victimsPerKill: { mean: number; max: number };
  unexplained: number;
  unexplainedSamples: Failure[];
  /** Share of the soak covered by the windows a victim may fall into. */
  deathWindowShare: number;
  kills: Record<
    KillKind,
    {
      count: number;
      asExpected: number;
      statuses: Record<string, number>;
      meanMs: number;
    }
  >;
  rss: { afterWarmupMiB: number; afterSoakMiB: number; change: number };
  workers: {
    threads: number;
    inMetrics: number;
    expected: number;
    /** Cores the worker threads kept busy with no load (leftover threads). */
    idleCpu: number;
  };
  server: { responses: Record<string, number> };
  exit: { code: number | null; ms: number; clean: boolean };
  checks: SoakCheck[];
  passed: boolean;
}

/** A seeded PRNG (mulberry32): the mix is the same run after run. */
function random(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whether `body` is what `route` sends. */
function bodyOk(route: Route, body: Uint8Array): boolean {
  if (body.byteLength !== LENGTH[route]) return false;
  switch (route) {
    case "small":
      return body[0] === 0x6f && body[1] === 0x6b; // "ok"
    case "64k":
    case "stream":
      return body[1000] === (1000 & 0xff) && body.at(-1) === 0xff;
    case "echo":
      return body[12345] === ECHO[12345] && body.at(-1) === ECHO.at(-1);
  }
}

/** The closed-loop clients. */
class Load {
  readonly #base: string;
  readonly #client = Deno.createHttpClient({});
  readonly #next: () => number;
  readonly #timeoutMs: number;
  readonly #mix: [Route, number][];
  #loops: Promise<void>[] = [];
  #stopped = false;
  counts = new Map<Route, { count: number; ok: number; ms: number[] }>();
  failures: Failure[] = [];
  /** Statuses over the whole run (warm-up too), for the server cross-check. */
  readonly statuses = new Map<number, number>();

  constructor(
    base: string,
    seed: number,
    timeoutMs: number,
    mix: [Route, number][],
  ) {
    this.#base = base;
    this.#next = random(seed);
    this.#timeoutMs = timeoutMs;
    const sum = mix.reduce((total, [, weight]) => total + weight, 0);
    this.#mix = mix.map(([route, weight]) => [route, weight / sum]);
    this.reset();
  }

  get total(): number {
    let total = 0;
    for (const { count } of this.counts.values()) total += count;
    return total;
  }

  /** Forgets the counts so far (after the warm-up). */
  reset(): void {
    this.counts = new Map(
      MIX.map(([route]) => [route, { count: 0, ok: 0, ms: [] }]),
    );
    this.failures = [];
  }

  start(connections: number): void {
    this.#stopped = false;
    this.#loops = Array.from({ length: connections }, () => this.#loop());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
  }

  close(): void {
    this.#client.close();
  }

  #pick(): Route {
    let x = this.#next();
    for (const [route, weight] of this.#mix) {
      if ((x -= weight) < 0) return route;
    }
    return this.#mix[0]![0];
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) await this.#one(this.#pick());
  }

  async #one(route: Route): Promise<void> {
    const sent = performance.now();
    let status = 0;
    let failure: Failure["kind"] | undefined;
    let detail: string | undefined;
    try {
      const response = await fetch(`${this.#base}/${route}`, {
        client: this.#client,
        method: route === "echo" ? "POST" : "GET",
        body: route === "echo" ? ECHO : undefined,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.status;
      this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
      try {
        const body = new Uint8Array(await response.arrayBuffer());
        if (status !== 200) failure = "status";
        else if (!bodyOk(route, body)) {
          failure = "body";
          detail = `${body.byteLength} bytes`;
        }
      } catch (error) {
        failure = status === 200 ? "cut" : "status";
        detail = String(error);
      }
    } catch (error) {
      failure = "error";
      detail = String(error);
    }
    const answered = performance.now();
    const counts = this.counts.get(route)!;
    counts.count++;
    if (failure === undefined) {
      counts.ok++;
      counts.ms.push(answered - sent);
    } else {
      this.failures.push({
        route,
        sent,
        answered,
        status,
        kind: failure,
        detail,
      });
    }
  }
}

/** Starts a kill every `everyMs`, kinds in rotation. */
class Killer {
  readonly #base: string;
  readonly #client = Deno.createHttpClient({});
  readonly #everyMs: number;
  readonly #timeoutMs: number;
  readonly #kinds: KillKind[];
  readonly kills: KillRecord[] = [];
  #pending: Promise<void>[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    base: string,
    everyMs: number,
    timeoutMs: number,
    kinds: KillKind[],
  ) {
    this.#base = base;
    this.#everyMs = everyMs;
    this.#timeoutMs = timeoutMs;
    this.#kinds = kinds;
  }

  start(): void {
    this.#timer = setInterval(() => this.#kill(), this.#everyMs);
  }

  /** No more kills; waits for the answers of those in flight. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.#pending);
  }

  close(): void {
    this.#client.close();
  }

  #kill(): void {
    const kind = this.#kinds[this.kills.length % this.#kinds.length]!;
    const record: KillRecord = { kind, sent: performance.now(), victims: 0 };
    this.kills.push(record);
    this.#pending.push(
      fetch(`${this.#base}/kill/${kind}`, {
        client: this.#client,
        signal: AbortSignal.timeout(this.#timeoutMs),
      }).then(async (response) => {
        record.status = response.status;
        await response.arrayBuffer().catch(() => {});
      }, () => {
        record.status = 0;
      }).finally(() => {
        record.answered = performance.now();
      }),
    );
  }
}

/** When a victim of `kill` may have been answered: around its death. */
function deathWindow(kill: KillRecord, graceMs: number): [number, number] {
  const answered = kill.answered ?? Infinity;
  // exit and heap: the worker is dead when main answers the kill request.
  // spin and heap-async: main answers 504 at the timeout and terminates the
  // worker once the grace has passed (plus at most one 250 ms sweep).
  const after = kill.kind === "exit" || kill.kind === "heap"
    ? 0
    : graceMs + 250;
  return [answered - SLACK_MS, answered + after + SLACK_MS];
}

/** The kill `failure` fell victim to, if any. */
function attribute(
  failure: Failure,
  kills: KillRecord[],
  requestTimeout: number,
  graceMs: number,
): KillRecord | undefined {
  if (
    !(failure.kind === "cut" ||
      (failure.kind === "status" &&
        (failure.status === 502 || failure.status === 504)))
  ) return undefined;
  for (const kill of kills) {
    if (kill.answered === undefined) continue;
    if (failure.status === 504) {
      // Only a request stuck on a busy or hanging worker waits that long.
      if (
        (kill.kind === "spin" || kill.kind === "heap-async") &&
        failure.answered - failure.sent >= requestTimeout - SLACK_MS &&
        failure.sent <= kill.answered && failure.answered >= kill.sent
      ) return kill;
      continue;
    }
    const [from, to] = deathWindow(kill, graceMs);
    if (failure.sent <= to && failure.answered >= from) return kill;
  }
  return undefined;
}

/** Length of the union of `windows` clipped to [start, end], over its length. */
function coverage(
  windows: [number, number][],
  start: number,
  end: number,
): number {
  const clipped = windows.map(([a, b]) =>
    [Math.max(a, start), Math.min(b, end)] as [number, number]
  ).filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let reach = start;
  for (const [a, b] of clipped) {
    if (b <= reach) continue;
    covered += b - Math.max(a, reach);
    reach = b;
  }
  return end > start ? covered / (end - start) : 0;
}

/** The `worker-N` threads of `pid`: how many, and their CPU time in ms. */
function workerThreads(pid: number): { count: number; cpuMs: number } {
  let count = 0;
  let cpuMs = 0;
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const dir = `/proc/${pid}/task/${task.name}`;
      if (!/^worker-\d+$/.test(Deno.readTextFileSync(`${dir}/comm`).trim())) {
        continue;
      }
      count++;
      cpuMs += Number(Deno.readTextFileSync(`${dir}/schedstat`).split(" ")[0]) /
        1e6;
    }
  } catch {
    // The process (or a thread) is gone.
  }
  return { count, cpuMs };
}

async function metrics(base: string): Promise<string> {
  const client = Deno.createHttpClient({});
  try {
    const response = await fetch(`${base}/metrics`, {
      client,
      signal: AbortSignal.timeout(5000),
    });
    return await response.text();
  } finally {
    client.close();
  }
}

function responsesByStatus(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (
    const [, status, count] of text.matchAll(
      /^ringpool_responses_total\{status="(\d+)"\} (\d+)$/gm,
    )
  ) out[status!] = Number(count);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for the port and 20 good answers in a row. */
async function waitReady(base: string, port: number, gone: Promise<unknown>) {
  await waitForPort(port, 20_000, gone);
  const client = Deno.createHttpClient({});
  try {
    const deadline = Date.now() + 10_000;
    for (let ok = 0; ok < 20;) {
      if (Date.now() > deadline) throw new Error("no 200 within 10 s");
      const status = await fetch(`${base}/small`, {
        client,
        signal: AbortSignal.timeout(2000),
      }).then(async (r) => (await r.arrayBuffer(), r.status), () => 0);
      ok = status === 200 ? ok + 1 : 0;
      if (status !== 200) await sleep(50);
    }
  } finally {
    client.close();
  }
}

/**
 * Runs the soak against a fresh ringpool server process.
 *
 * @param options Durations and load; `quick` runs for 20 s.
 * @returns The figures and the checks (`passed` is false if any failed).
 */
export async function runSoak(options: SoakOptions = {}): Promise<SoakResult> {
  const quick = options.quick ?? false;
  const log = options.log ?? ((line: string) => console.error(line));
  const config: SoakResult["config"] = {
    quick,
    seconds: options.seconds ?? (quick ? 20 : 300),
    requests: options.requests ?? (quick ? 0 : 1_000_000),
    maxSeconds: options.maxSeconds ?? (quick ? 20 : 900),
    connections: options.connections ?? 32,
    killEveryMs: options.killEveryMs ?? (quick ? 2000 : 3000),
    seed: options.seed ?? Date.now() % 1_000_000,
    mix: options.mix ?? Object.fromEntries(MIX),
    kinds: options.kinds ?? KILLS,
    warmupS: quick ? 5 : 60,
    requestTimeout: 5000,
    heapMb: 64,
    workers: WORKERS,
  };
  const graceMs = Math.min(Math.max(config.requestTimeout / 2, 100), 1000);
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = new ServerProcess(DENO, [
    "run",
    "-A",
    here("./soak.ts"),
    "--serve",
    String(port),
    String(config.heapMb),
    String(config.requestTimeout),
  ]);
  // A fetch that gets no answer at all is bounded by this.
  const fetchTimeout = config.requestTimeout + 10_000;
  const load = new Load(
    base,
    config.seed,
    fetchTimeout,
    (Object.entries(config.mix) as [Route, number][]).filter(([, w]) => w > 0),
  );
  const killer = new Killer(
    base,
    config.killEveryMs,
    fetchTimeout,
    config.kinds,
  );
  try {
    await waitReady(base, port, server.exited);
    log(
      `soak: seed ${config.seed}; warm-up ${config.warmupS} s, then ≥ ${config.seconds} s${
        config.requests
          ? ` and ≥ ${config.requests.toLocaleString("en-US")} requests`
          : ""
      }; a kill every ${config.killEveryMs} ms`,
    );

    // Warm-up: every route and every kind of kill, then a quiet moment.
    load.start(config.connections);
    killer.start();
    await sleep(config.warmupS * 1000);
    await Promise.all([load.stop(), killer.stop()]);
    await sleep(3000);
    const rssWarm = treeRss(server.pid) / MiB;
    log(`soak: warm-up done, RSS ${rssWarm.toFixed(1)} MiB`);

    load.reset();
    const soakStart = performance.now();
    const killsBefore = killer.kills.length;
    load.start(config.connections);
    killer.start();
    let lastLog = soakStart;
    for (;;) {
      await sleep(1000);
      const elapsed = (performance.now() - soakStart) / 1000;
      const total = load.total;
      if (performance.now() - lastLog >= 10_000) {
        lastLog = performance.now();
        log(
          `soak: ${Math.round(elapsed)} s, ${
            total.toLocaleString("en-US")
          } requests (${
            Math.round(total / elapsed)
          }/s), ${load.failures.length} failed, ${
            killer.kills.length - killsBefore
          } kills, RSS ${(treeRss(server.pid) / MiB).toFixed(1)} MiB`,
        );
      }
      if (
        (elapsed >= config.seconds && total >= config.requests) ||
        elapsed >= config.maxSeconds
      ) break;
    }
    await load.stop();
    const soakEnd = performance.now();
    await killer.stop();
    await sleep(3000);
    const rssEnd = treeRss(server.pid) / MiB;
    // An idle server's workers sleep: CPU here is a thread left running.
    const idleFrom = workerThreads(server.pid);
    await sleep(1000);
    const idleTo = workerThreads(server.pid);
    const threads = idleTo.count;
    const idleCpu = (idleTo.cpuMs - idleFrom.cpuMs) / 1000;
    const text = await metrics(base);
    const inMetrics = [...text.matchAll(/^ringpool_requests_in_flight\{/gm)]
      .length;

    // SIGTERM: a graceful shutdown that must end the process by itself.
    const stopStarted = performance.now();
    Deno.kill(server.pid, "SIGTERM");
    const exited = await Promise.race([
      server.exited.then((status) => status.code),
      sleep(20_000).then(() => null),
    ]);
    const exit = {
      code: exited,
      ms: Math.round(performance.now() - stopStarted),
      clean: exited === 0,
    };

    return summarize({
      config,
      graceMs,
      load,
      kills: killer.kills,
      soakKills: killer.kills.slice(killsBefore),
      soakStart,
      soakEnd,
      rssWarm,
      rssEnd,
      threads,
      idleCpu,
      inMetrics,
      responses: responsesByStatus(text),
      exit,
    });
  } finally {
    load.close();
    killer.close();
    await server.stop();
  }
}

interface Measured {
  config: SoakResult["config"];
  graceMs: number;
  load: Load;
  kills: KillRecord[];
  soakKills: KillRecord[];
  soakStart: number;
  soakEnd: number;
  rssWarm: number;
  rssEnd: number;
  threads: number;
  /** CPU the worker threads used in 1 s without load, in cores. */
  idleCpu: number;
  inMetrics: number;
  responses: Record<string, number>;
  exit: SoakResult["exit"];
}

function summarize(m: Measured): SoakResult {
  const { config, load } = m;
  const soakS = (m.soakEnd - m.soakStart) / 1000;
  const requests = load.total;
  const routes = {} as SoakResult["routes"];
  for (const [route, { count, ok, ms }] of load.counts) {
    const sorted = Float64Array.from(ms).sort();
    routes[route] = {
      count,
      ok,
      p50Ms: Math.round(percentile(sorted, 50) * 100) / 100,
      p99Ms: Math.round(percentile(sorted, 99) * 100) / 100,
    };
  }
  const victims = { status502: 0, status504: 0, cut: 0, total: 0 };
  const unexplained: Failure[] = [];
  for (const failure of load.failures) {
    const kill = attribute(failure, m.kills, config.requestTimeout, m.graceMs);
    if (kill === undefined) {
      unexplained.push(failure);
      continue;
    }
    kill.victims++;
    victims.total++;
    if (failure.kind === "cut") victims.cut++;
    else if (failure.status === 502) victims.status502++;
    else victims.status504++;
  }
  const kills = {} as SoakResult["kills"];
  for (const kind of KILLS) {
    const own = m.soakKills.filter((k) => k.kind === kind);
    const statuses: Record<string, number> = {};
    for (const k of own) {
      statuses[String(k.status)] = (statuses[String(k.status)] ?? 0) + 1;
    }
    kills[kind] = {
      count: own.length,
      asExpected: own.filter((k) =>
        EXPECTED_KILL_STATUS[kind].includes(k.status ?? -1)
      ).length,
      statuses,
      meanMs: Math.round(
        own.reduce((sum, k) => sum + (k.answered! - k.sent), 0) /
          Math.max(1, own.length),
      ),
    };
  }
  const perKill = m.soakKills.map((k) => k.victims);
  const share = coverage(
    m.kills.map((k) => deathWindow(k, m.graceMs)),
    m.soakStart,
    m.soakEnd,
  );
  // What the clients saw over the whole run, kill requests included.
  const seen = (status: number) =>
    (load.statuses.get(status) ?? 0) +
    m.kills.filter((k) => k.status === status).length;
  const change = m.rssEnd / m.rssWarm - 1;
  const allKills = m.soakKills.length;
  const killsOk =
    m.soakKills.filter((k) => k.status === 502 || k.status === 504).length;
  const checks: SoakCheck[] = [
    {
      check:
        "every load request not running on a killed worker answered 200 with the right body",
      ok: unexplained.length === 0,
      detail:
        `${unexplained.length} unexplained failures; ${victims.total} victims (${victims.status502} × 502, ${victims.status504} × 504, ${victims.cut} cut bodies) of ${
          requests.toLocaleString("en-US")
        } requests`,
    },
    {
      check: "every kill request answered 502 or 504",
      ok: killsOk === allKills && allKills > 0,
      detail: `${killsOk} of ${allKills}`,
    },
    {
      check: "the server's 502 and 504 counters equal what the clients saw",
      ok: (m.responses["502"] ?? 0) === seen(502) &&
        (m.responses["504"] ?? 0) === seen(504),
      detail: `502: server ${m.responses["502"] ?? 0}, clients ${
        seen(502)
      }; 504: server ${m.responses["504"] ?? 0}, clients ${seen(504)}`,
    },
    {
      check: "RSS after the soak within 10% of RSS after the warm-up",
      ok: Math.abs(change) <= 0.1,
      detail: `${m.rssWarm.toFixed(1)} → ${m.rssEnd.toFixed(1)} MiB (${
        change >= 0 ? "+" : ""
      }${(change * 100).toFixed(1)}%)`,
    },
    {
      check: "no worker left behind",
      ok: m.threads === config.workers && m.inMetrics === config.workers &&
        m.exit.clean,
      detail:
        `${m.threads} worker threads (expected ${config.workers}), using ${
          m.idleCpu.toFixed(2)
        } cores with no load; ${m.inMetrics} workers in stats; SIGTERM: exit ${m.exit.code} after ${m.exit.ms} ms`,
    },
  ];
  if (!config.quick) {
    checks.push({
      check: "≥ 10^6 requests over ≥ 5 minutes",
      ok: requests >= 1_000_000 && soakS >= 300,
      detail: `${requests.toLocaleString("en-US")} requests in ${
        soakS.toFixed(0)
      } s`,
    });
  }
  return {
    config,
    date: new Date().toISOString(),
    soakS: Math.round(soakS * 10) / 10,
    requests,
    perSecond: Math.round(requests / soakS),
    routes,
    victims,
    victimsPerKill: {
      mean: Math.round(
        perKill.reduce((a, b) => a + b, 0) / Math.max(1, perKill.length) * 10,
      ) / 10,
      max: Math.max(0, ...perKill),
    },
    unexplained: unexplained.length,
    unexplainedSamples: unexplained.slice(0, 20),
    deathWindowShare: Math.round(share * 1000) / 1000,
    kills,
    rss: {
      afterWarmupMiB: Math.round(m.rssWarm * 10) / 10,
      afterSoakMiB: Math.round(m.rssEnd * 10) / 10,
      change: Math.round(change * 1000) / 1000,
    },
    workers: {
      threads: m.threads,
      inMetrics: m.inMetrics,
      expected: config.workers,
      idleCpu: Math.round(m.idleCpu * 100) / 100,
    },
    server: { responses: m.responses },
    exit: m.exit,
    checks,
    passed: checks.every((c) => c.ok),
  };
}

/** The soak's server: serve() with the settings described at the top. */
async function serveSoak(
  port: number,
  heapMb: number,
  requestTimeout: number,
): Promise<void> {
  const { serve } = await import("../src/server.ts");
  const server = await serve({
    handler: new URL("./handlers/soak.ts", import.meta.url),
    hostname: "127.0.0.1",
    port,
    requestTimeout,
    resourceLimits: { maxOldGenerationSizeMb: heapMb },
    metricsPath: "/metrics",
    onListen() {},
  });
  await server.finished;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      serve: { type: "string" },
      quick: { type: "boolean", default: false },
      seconds: { type: "string" },
      requests: { type: "string" },
      "max-seconds": { type: "string" },
      connections: { type: "string" },
      "kill-every": { type: "string" },
      seed: { type: "string" },
      kinds: { type: "string" },
      mix: { type: "string" },
    },
    allowPositionals: true,
  });
  if (values.serve !== undefined) {
    await serveSoak(
      Number(values.serve),
      Number(positionals[0]),
      Number(positionals[1]),
    );
  } else {
    const number = (v: string | undefined) =>
      v === undefined ? undefined : Number(v);
    const result = await runSoak({
      quick: values.quick,
      seconds: number(values.seconds),
      requests: number(values.requests),
      maxSeconds: number(values["max-seconds"]),
      connections: number(values.connections),
      killEveryMs: number(values["kill-every"]),
      seed: number(values.seed),
      kinds: values.kinds?.split(",") as KillKind[] | undefined,
      mix: values.mix === undefined ? undefined : Object.fromEntries(
        values.mix.split(",").map((part) => {
          const [route, share] = part.split("=");
          return [route, Number(share)];
        }),
      ),
    });
    const { renderSoak } = await import("./_report_extra.ts");
    console.error(renderSoak(result));
    console.log(JSON.stringify(result, null, 2));
    Deno.exit(result.passed ? 0 : 1);
  }
}
