/**
 * 1,000 server-sent-event subscribers (issue 10): does a server keep
 * answering short requests while many long-lived streams are open?
 *
 * For each contender — ringpool's `serve()` with its default settings
 * (4 workers × concurrency 16 = 64 request slots), single-isolate
 * `deno serve` and `deno serve --parallel` (2 isolates), all serving
 * `bench/handlers/sse.ts` — the run:
 *
 * 1. starts the server and warms it up;
 * 2. measures `GET /` with the open-loop driver (`bench/_open_loop.mjs`) at a
 *    moderate fixed rate: the **idle** figure;
 * 3. opens the subscribers from a separate Node process (raw sockets: Deno's
 *    in-process fetch keeps aborted connections open), each holding
 *    `GET /events` open and receiving one event a second, and waits until
 *    every one has its first bytes;
 * 4. measures `GET /` the same way: the **loaded** figure; counts the events
 *    the subscribers received meanwhile (they must keep flowing) and, for
 *    ringpool, reads `stats()`: the streams hold no request slot;
 * 5. closes the subscribers and stops the server.
 *
 * The goal is ringpool's loaded `GET /` p99 within 2× its idle p99.
 *
 * Run:
 * ```sh
 * deno task bench:sse [--quick] [--subscribers 1000] [--rate 1000] [--seconds 10]
 *                     [--rounds 2] [--contenders ringpool,deno-single,deno-parallel]
 * ```
 * The subscribers need `ulimit -n` above their number (the server needs as
 * many descriptors too); the run checks and says so.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  freePort,
  outputWithin,
  ServerProcess,
  treeRss,
  waitForPort,
} from "./_proc.ts";

const DENO = Deno.execPath();
const here = (path: string) => new URL(path, import.meta.url).pathname;
const HANDLER = here("./handlers/sse.ts");
const MiB = 1024 * 1024;

/** What one latency measurement found (ms, from the intended send time). */
export interface Latency {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** Requests answered 2xx. */
  completed: number;
  /** Socket errors, non-2xx answers and requests unanswered at the end. */
  failed: number;
  /** The driver's own timer lateness, p99 ms. */
  timerLagP99: number;
}

/** What the subscriber process saw. */
export interface SubscriberFigures {
  /** Streams that answered 200 and sent their first comment. */
  subscribed: number;
  /** Streams that did not (refused, error, wrong status, timeout). */
  failed: number;
  /** Streams the server ended while they should have stayed open. */
  ended: number;
  /** Milliseconds until every subscriber had its first bytes. */
  connectMs: number;
  /** Events received per second during the loaded measurement. */
  eventsPerS: number;
  /** What one event per subscriber per interval would give. */
  expectedPerS: number;
}

/** One contender in one round. */
export interface SseRun {
  contender: string;
  label: string;
  round: number;
  idle: Latency;
  loaded?: Latency;
  subscribers?: SubscriberFigures;
  /** Whole process tree, MiB: before the subscribers and with them. */
  rssIdleMiB: number;
  rssLoadedMiB?: number;
  /** ringpool only: stats() during the loaded run, summed over workers. */
  ringpool?: { inFlight: number; streams: number; workers: number };
  error?: string;
}

/** Everything `benchSse` measured. */
export interface SseBenchResult {
  config: {
    subscribers: number;
    rate: number;
    seconds: number;
    eventEveryMs: number;
    /** Subscribers are opened over this long (one event interval unless set). */
    rampMs: number;
    rounds: number;
    openFilesLimit: number;
  };
  runs: SseRun[];
}

export interface SseBenchOptions {
  quick?: boolean;
  subscribers?: number;
  /** `GET /` requests per second during each measurement. */
  rate?: number;
  /** Seconds per measurement. */
  seconds?: number;
  rounds?: number;
  /** Milliseconds over which the subscribers are opened (default 1000). */
  rampMs?: number;
  contenders?: string[];
  log?: (line: string) => void;
}

interface Contender {
  id: string;
  label: string;
  command(port: number, statsFile: string): {
    args: string[];
    env?: Record<string, string>;
  };
}

export const SSE_CONTENDERS: Contender[] = [
  {
    id: "ringpool",
    label: "ringpool (defaults: 4 workers × 16)",
    command: (port, statsFile) => ({
      args: ["run", "-A", here("./sse.ts"), "--serve", String(port), statsFile],
    }),
  },
  {
    id: "deno-single",
    label: "deno serve (1 isolate)",
    command: (port) => ({
      args: [
        "serve",
        "-A",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        HANDLER,
      ],
    }),
  },
  {
    id: "deno-parallel",
    label: "deno serve --parallel (2)",
    command: (port) => ({
      args: [
        "serve",
        "-A",
        "--parallel",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        HANDLER,
      ],
      env: { DENO_JOBS: "2" },
    }),
  },
];

// The subscriber process (Node, raw sockets). Opens `count` streams in
// batches, reports {type:"ready"} once each has answered 200 and sent its
// first comment, then answers "count" on stdin with the events so far and
// "stop" with the totals, and exits.
const SUBSCRIBERS = String.raw`
import net from "node:net";
const cfg = JSON.parse(process.argv[1]);
const request = Buffer.from("GET " + cfg.path + " HTTP/1.1\r\nHost: " + cfg.host + ":" + cfg.port + "\r\nAccept: text/event-stream\r\n\r\n");
let subscribed = 0, failed = 0, ended = 0, events = 0, stopping = false;
const sockets = [];
function open() {
  return new Promise((resolve) => {
    const socket = net.connect({ host: cfg.host, port: cfg.port });
    let head = "", settled = false;
    const settle = (ok) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ok) subscribed++; else { failed++; socket.destroy(); }
      resolve();
    };
    const timer = setTimeout(() => settle(false), cfg.timeoutMs);
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk) => {
      if (!settled) {
        head += chunk.toString("latin1");
        if (head.length >= 12 && !head.startsWith("HTTP/1.1 200")) return settle(false);
        if (head.includes(": subscribed")) settle(true);
      }
      for (let at = chunk.indexOf("data: "); at !== -1; at = chunk.indexOf("data: ", at + 6)) events++;
    });
    socket.on("error", () => settle(false));
    socket.on("close", () => { if (settled && !stopping) ended++; settle(false); });
    sockets.push(socket);
  });
}
// Batches start spread over rampMs (one event interval), so the streams'
// events are spread over each second as independent clients' would be.
const started = performance.now();
const batches = [];
for (let i = 0, b = 0; i < cfg.count; i += cfg.batch, b++) {
  const size = Math.min(cfg.batch, cfg.count - i);
  const due = started + (b * cfg.batch * cfg.rampMs) / cfg.count;
  await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
  batches.push(Promise.all(Array.from({ length: size }, open)));
}
await Promise.all(batches);
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
say({ type: "ready", subscribed, failed, connectMs: Math.round(performance.now() - started) });
let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (data) => {
  pending += data;
  for (let nl = pending.indexOf("\n"); nl !== -1; nl = pending.indexOf("\n")) {
    const command = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    if (command === "count") say({ type: "count", events, ended, at: performance.now() });
    if (command === "stop") {
      stopping = true;
      say({ type: "done", subscribed, failed, ended, events });
      for (const socket of sockets) socket.destroy();
      process.exit(0);
    }
  }
});
process.stdin.on("end", () => process.exit(0));
`;

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

/** A child process that speaks JSON lines on stdout. */
class LineProcess {
  readonly child: Deno.ChildProcess;
  readonly #lines: AsyncIterator<string>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;

  constructor(cmd: string, args: string[]) {
    this.child = new Deno.Command(cmd, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#lines = lines(this.child.stdout);
    this.#writer = this.child.stdin.getWriter();
  }

  /** The next JSON line, or an error after `timeoutMs`. */
  async next<T>(timeoutMs: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      const { value, done } = await Promise.race([this.#lines.next(), late]);
      if (done) throw new Error("the process ended");
      return JSON.parse(value) as T;
    } finally {
      clearTimeout(timer);
    }
  }

  async send(command: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(command + "\n"));
  }

  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.child.status;
    await this.#writer.close().catch(() => {});
  }
}

async function* lines(stream: ReadableStream<Uint8Array>) {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const bytes of stream) {
    pending += decoder.decode(bytes, { stream: true });
    for (
      let nl = pending.indexOf("\n");
      nl !== -1;
      nl = pending.indexOf("\n")
    ) {
      yield pending.slice(0, nl);
      pending = pending.slice(nl + 1);
    }
  }
}

/** `GET /` at `rate` for `seconds` through the open-loop driver. */
async function openLoop(
  port: number,
  rate: number,
  seconds: number,
): Promise<Latency> {
  const config = {
    port,
    durationMs: seconds * 1000,
    drainMs: 2000,
    streams: [{ name: "root", path: "/", rate, maxConns: 64, preconnect: 8 }],
  };
  const child = new Deno.Command("node", {
    args: [here("./_open_loop.mjs"), JSON.stringify(config)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = await outputWithin(child, (seconds + 20) * 1000);
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || text === "") {
    throw new Error(
      `open-loop driver failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const root = JSON.parse(text).streams.root;
  return {
    p50: root.latencyMs.p50,
    p99: root.latencyMs.p99,
    p999: root.latencyMs.p999,
    max: root.latencyMs.max,
    completed: root.completed,
    failed: root.errors + root.non2xx + root.unfinished,
    timerLagP99: root.timerLagMs.p99,
  };
}

/** Polls `GET /` until 20 answers in a row are 200 (bounded). */
async function waitReady(port: number, gone: Promise<unknown>): Promise<void> {
  await waitForPort(port, 20_000, gone);
  const client = Deno.createHttpClient({});
  try {
    const deadline = Date.now() + 10_000;
    for (let ok = 0; ok < 20;) {
      if (Date.now() > deadline) throw new Error("no 200 from / within 10 s");
      const status = await fetch(`http://127.0.0.1:${port}/`, {
        client,
        signal: AbortSignal.timeout(2000),
      }).then(async (r) => (await r.arrayBuffer(), r.status), () => 0);
      ok = status === 200 ? ok + 1 : 0;
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.close();
  }
}

function readStats(
  file: string,
): { inFlight: number; streams: number; workers: number } | undefined {
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

async function runOne(
  contender: Contender,
  round: number,
  config: SseBenchResult["config"],
  log: (line: string) => void,
): Promise<SseRun> {
  const port = freePort();
  const statsFile = Deno.makeTempFileSync({ prefix: "ringpool-sse-" });
  const { args, env } = contender.command(port, statsFile);
  const server = new ServerProcess(DENO, args, env);
  const run: SseRun = {
    contender: contender.id,
    label: contender.label,
    round,
    idle: undefined as unknown as Latency,
    rssIdleMiB: NaN,
  };
  let subscribers: LineProcess | undefined;
  try {
    await waitReady(port, server.exited);
    await openLoop(port, config.rate, 1); // warm-up
    run.rssIdleMiB = treeRss(server.pid) / MiB;
    run.idle = await openLoop(port, config.rate, config.seconds);
    log(`  ${contender.id}: idle p99 ${run.idle.p99} ms`);

    subscribers = new LineProcess("node", [
      "--input-type=module",
      "-e",
      SUBSCRIBERS,
      JSON.stringify({
        host: "127.0.0.1",
        port,
        path: `/events?every=${config.eventEveryMs}`,
        count: config.subscribers,
        batch: 25,
        rampMs: config.rampMs,
        timeoutMs: 10_000,
      }),
    ]);
    const ready = await subscribers.next<
      { subscribed: number; failed: number; connectMs: number }
    >(120_000);
    log(
      `  ${contender.id}: ${ready.subscribed} subscribed (${ready.failed} failed) in ${ready.connectMs} ms`,
    );
    // Let the first events of every stream go out before measuring.
    await new Promise((r) => setTimeout(r, 2 * config.eventEveryMs));
    await subscribers.send("count");
    const before = await subscribers.next<{ events: number; at: number }>(
      5000,
    );
    run.loaded = await openLoop(port, config.rate, config.seconds);
    await subscribers.send("count");
    const after = await subscribers.next<
      { events: number; ended: number; at: number }
    >(5000);
    run.ringpool = contender.id === "ringpool"
      ? readStats(statsFile)
      : undefined;
    run.rssLoadedMiB = treeRss(server.pid) / MiB;
    run.subscribers = {
      subscribed: ready.subscribed,
      failed: ready.failed,
      ended: after.ended,
      connectMs: ready.connectMs,
      eventsPerS: Math.round(
        (after.events - before.events) / ((after.at - before.at) / 1000),
      ),
      expectedPerS: Math.round(
        ready.subscribed * 1000 / config.eventEveryMs,
      ),
    };
    log(
      `  ${contender.id}: loaded p99 ${run.loaded.p99} ms; ${run.subscribers.eventsPerS} events/s`,
    );
    await subscribers.send("stop");
    await subscribers.next(5000).catch(() => {});
  } catch (error) {
    run.error = error instanceof Error ? error.message : String(error);
    const detail = server.stderr.trim().split("\n").slice(-3).join(" | ");
    log(
      `  ${contender.id}: failed: ${run.error}${detail ? ` (${detail})` : ""}`,
    );
  } finally {
    await subscribers?.kill();
    await server.stop();
    Deno.removeSync(statsFile);
  }
  return run;
}

/**
 * Runs the SSE benchmark.
 *
 * @param options Sizes and durations; `quick` is one short round.
 * @returns Every run, per contender and round.
 */
export async function benchSse(
  options: SseBenchOptions = {},
): Promise<SseBenchResult> {
  const quick = options.quick ?? false;
  const log = options.log ?? ((line: string) => console.error(line));
  const config: SseBenchResult["config"] = {
    subscribers: options.subscribers ?? 1000,
    rate: options.rate ?? 1000,
    seconds: options.seconds ?? (quick ? 3 : 10),
    eventEveryMs: 1000,
    rampMs: options.rampMs ?? 1000,
    rounds: options.rounds ?? (quick ? 1 : 2),
    openFilesLimit: openFilesLimit(),
  };
  // The subscriber process holds one descriptor per stream and the server
  // one per connection, plus the driver's and their own.
  const needed = config.subscribers + 256;
  if (config.openFilesLimit < needed) {
    throw new Error(
      `Cannot open ${config.subscribers} subscribers as the open-file limit is ${config.openFilesLimit}: run \`ulimit -n ${needed}\` (or more) first`,
    );
  }
  const contenders = SSE_CONTENDERS.filter((c) =>
    options.contenders === undefined || options.contenders.includes(c.id)
  );
  const runs: SseRun[] = [];
  for (let round = 0; round < config.rounds; round++) {
    log(`sse round ${round + 1}/${config.rounds}`);
    const order = contenders.map((_, i) =>
      contenders[(i + round) % contenders.length]!
    );
    for (const contender of order) {
      runs.push(await runOne(contender, round, config, log));
    }
  }
  return { config, runs };
}

/** The server side of the ringpool contender: serve() with its defaults. */
async function serveRingpool(port: number, statsFile: string): Promise<void> {
  const { serve } = await import("../src/server.ts");
  const server = await serve({
    handler: new URL("./handlers/sse.ts", import.meta.url),
    hostname: "127.0.0.1",
    port,
    onListen() {},
  });
  // stats() reads shared memory; written for the harness to sample.
  const timer = setInterval(() => {
    Deno.writeTextFileSync(statsFile, JSON.stringify(server.stats()));
  }, 250);
  await server.finished;
  clearInterval(timer);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      serve: { type: "string" },
      quick: { type: "boolean", default: false },
      subscribers: { type: "string" },
      rate: { type: "string" },
      seconds: { type: "string" },
      rounds: { type: "string" },
      "ramp-ms": { type: "string" },
      contenders: { type: "string" },
    },
    allowPositionals: true,
  });
  if (values.serve !== undefined) {
    await serveRingpool(Number(values.serve), Deno.args.at(-1)!);
  } else {
    const number = (v: string | undefined) =>
      v === undefined ? undefined : Number(v);
    const result = await benchSse({
      quick: values.quick,
      subscribers: number(values.subscribers),
      rate: number(values.rate),
      seconds: number(values.seconds),
      rounds: number(values.rounds),
      rampMs: number(values["ramp-ms"]),
      contenders: values.contenders?.split(","),
    });
    const { renderSse } = await import("./_report_extra.ts");
    console.log(renderSse(result));
    console.log(JSON.stringify(result));
  }
}
