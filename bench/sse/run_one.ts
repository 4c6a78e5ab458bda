// One contender in one round: start its server, measure `GET /` idle, open
// the subscribers, measure again with them open, then tear everything down.
import { freePort, ServerProcess, treeRss } from "../_proc.ts";
import type { Contender } from "./contenders.ts";
import type { LineProcess } from "./line_process.ts";
import { openLoop } from "./open_loop.ts";
import { readStats, waitReady } from "./probes.ts";
import { startSubscribers } from "./subscribers.ts";
import type { Latency, SseConfig, SseRun } from "./types.ts";

const DENO = Deno.execPath();
const MiB = 1024 * 1024;

/** What the phases of one run share. */
interface Trial {
  contender: Contender;
  config: SseConfig;
  log: (line: string) => void;
  port: number;
  server: ServerProcess;
  statsFile: string;
  /** Filled in as the phases go. */
  run: SseRun;
}

/** What the subscriber process reports once every stream is open. */
interface Ready {
  subscribed: number;
  failed: number;
  connectMs: number;
}

/** Runs `contender` once; a failure is recorded in the run's `error`. */
export async function runOne(
  contender: Contender,
  round: number,
  config: SseConfig,
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
  const trial: Trial = { contender, config, log, port, server, statsFile, run };
  let subscribers: LineProcess | undefined;
  try {
    await waitReady(port, server.exited);
    await measureIdle(trial);
    subscribers = startSubscribers(port, config);
    await measureLoaded(
      trial,
      subscribers,
      await subscribed(trial, subscribers),
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

/** The idle figure, after a one-second warm-up. */
async function measureIdle(
  { contender, config, log, port, server, run }: Trial,
): Promise<void> {
  await openLoop(port, config.rate, 1); // warm-up
  run.rssIdleMiB = treeRss(server.pid) / MiB;
  run.idle = await openLoop(port, config.rate, config.seconds);
  log(`  ${contender.id}: idle p99 ${run.idle.p99} ms`);
}

/** Waits until every subscriber has its first bytes. */
async function subscribed(
  { contender, log }: Trial,
  subscribers: LineProcess,
): Promise<Ready> {
  const ready = await subscribers.next<Ready>(120_000);
  log(
    `  ${contender.id}: ${ready.subscribed} subscribed (${ready.failed} failed) in ${ready.connectMs} ms`,
  );
  return ready;
}

/** The loaded figure, and the events the subscribers got meanwhile. */
async function measureLoaded(
  { contender, config, log, port, server, statsFile, run }: Trial,
  subscribers: LineProcess,
  ready: Ready,
): Promise<void> {
  // Let the first events of every stream go out before measuring.
  await new Promise((r) => setTimeout(r, 2 * config.eventEveryMs));
  await subscribers.send("count");
  const before = await subscribers.next<{ events: number; at: number }>(5000);
  run.loaded = await openLoop(port, config.rate, config.seconds);
  await subscribers.send("count");
  const after = await subscribers.next<
    { events: number; ended: number; at: number }
  >(5000);
  run.ringpool = contender.id === "ringpool" ? readStats(statsFile) : undefined;
  run.rssLoadedMiB = treeRss(server.pid) / MiB;
  run.subscribers = {
    subscribed: ready.subscribed,
    failed: ready.failed,
    ended: after.ended,
    connectMs: ready.connectMs,
    eventsPerS: Math.round(
      (after.events - before.events) / ((after.at - before.at) / 1000),
    ),
    expectedPerS: Math.round(ready.subscribed * 1000 / config.eventEveryMs),
  };
  log(
    `  ${contender.id}: loaded p99 ${run.loaded.p99} ms; ${run.subscribers.eventsPerS} events/s`,
  );
}
