/**
 * One contender in one round: start it, warm it, read its idle RSS, run
 * the burst while polling its stats, then watch it idle again (the
 * adaptive pool shrinking back) and read its RSS once more.
 *
 * @module
 */
import { treeRss } from "../_proc.ts";
import { type Running, start } from "../_server.ts";
import type { Contender } from "../_types.ts";
import { runWrk, type WrkResult } from "../_wrk.ts";
import { MAX_WORKERS, MIN_WORKERS } from "./contenders.ts";
import { delay, readStats, sampleRss, StatsPoller } from "./probe.ts";
import { DASHBOARD_PATH, serverArgs } from "./server.ts";
import { firstWithWorkers, rateBetween } from "./timeline.ts";
import type {
  AdaptiveConfig,
  AdaptiveContender,
  AdaptiveRun,
  AfterFigures,
  BurstFigures,
  Sample,
  WorkersSpec,
} from "./types.ts";

const MiB = 1024 * 1024;

/** The harness's view of a contender, so bench/_server.ts can start it. */
function asHarnessContender(
  contender: AdaptiveContender,
  spec: WorkersSpec,
): Contender {
  return {
    id: contender.id,
    label: contender.label,
    workers: typeof spec === "number" ? spec : spec.max,
    ringpool: true,
    command: (port) => ({ cmd: Deno.execPath(), args: serverArgs(port, spec) }),
  };
}

/** Runs `contender` once; a failure is recorded in the run, not thrown. */
export async function runOne(
  contender: AdaptiveContender,
  round: number,
  config: AdaptiveConfig,
  log: (line: string) => void,
): Promise<AdaptiveRun> {
  const run: AdaptiveRun = { contender: contender.id, round };
  const spec = contender.workers(config);
  let running: Running;
  try {
    running = await start(asHarnessContender(contender, spec), log);
  } catch (error) {
    return { ...run, error: (error as Error).message };
  }
  const client = Deno.createHttpClient({});
  const statsUrl = `${running.base}${DASHBOARD_PATH}/stats.json`;
  try {
    await warmUp(client, running.base, config);
    await delay(config.idleSeconds * 1000);
    run.idle = {
      rssMiB: await sampleRss(running.proc.pid, config.quick ? 2 : 4),
      workers: (await readStats(client, statsUrl, 0)).running,
    };
    const { burst, endedAt } = await runBurst(running, statsUrl, config);
    run.burst = burst;
    run.after = await afterBurst(running, client, statsUrl, spec, config, {
      endedAt,
    });
    log(
      `  ${contender.id}: idle ${run.idle.rssMiB} MiB, burst ${
        Math.round(burst.rps)
      } req/s (steady ${
        Math.round(burst.steadyRps)
      }), peak ${burst.peakWorkers} workers`,
    );
  } catch (error) {
    run.error = (error as Error).message;
    log(`  ${contender.id}: failed: ${run.error}`);
  } finally {
    client.close();
    await running.proc.stop();
  }
  return run;
}

/** A few /hello and /cpu requests, 4 at a time: JITs warm, no queue to grow on. */
async function warmUp(
  client: Deno.HttpClient,
  base: string,
  config: AdaptiveConfig,
): Promise<void> {
  const paths = [
    ...Array<string>(config.quick ? 40 : 100).fill("/hello"),
    ...Array<string>(config.quick ? 16 : 40).fill(`/cpu?n=${config.cpuIters}`),
  ];
  for (let i = 0; i < paths.length; i += 4) {
    await Promise.all(
      paths.slice(i, i + 4).map(async (path) => {
        const response = await fetch(base + path, {
          client,
          signal: AbortSignal.timeout(10_000),
        });
        await response.arrayBuffer();
      }),
    );
  }
}

/** wrk on /cpu for the burst while the stats are polled. */
async function runBurst(
  running: Running,
  statsUrl: string,
  config: AdaptiveConfig,
): Promise<{ burst: BurstFigures; endedAt: number }> {
  const origin = Date.now();
  const poller = new StatsPoller(statsUrl, config.pollMs, origin);
  poller.start();
  let wrk: WrkResult;
  let samples: Sample[];
  let endedAt: number;
  try {
    wrk = await runWrk({
      url: `${running.base}/cpu?n=${config.cpuIters}`,
      connections: config.connections,
      durationS: config.burstSeconds,
    });
  } finally {
    endedAt = Date.now();
    // One more read after wrk's end, so the steady window has both ends.
    await delay(2 * config.pollMs);
    samples = await poller.stop();
  }
  const end = config.burstSeconds * 1000;
  const toWorkersMs: Record<string, number | null> = {};
  for (let n = 1; n <= MAX_WORKERS; n++) {
    toWorkersMs[n] = firstWithWorkers(samples, n);
  }
  const e = wrk.errors;
  return {
    endedAt,
    burst: {
      requests: wrk.requests,
      errors: e.connect + e.read + e.write + e.status + e.timeout,
      rps: wrk.rps,
      steadyRps: rateBetween(samples, end - config.steadySeconds * 1000, end),
      p50Ms: wrk.latency.p50 / 1000,
      p99Ms: wrk.latency.p99 / 1000,
      peakWorkers: Math.max(...samples.map((s) => s.running)),
      toWorkersMs,
      samples,
    },
  };
}

/**
 * The adaptive pool: polls until it is back at `min` (or a deadline) and
 * reads the RSS then; `toMinMs` counts from `burst.endedAt` (wrk's exit).
 * A fixed pool idles as long as the shrink should take.
 */
async function afterBurst(
  running: Running,
  client: Deno.HttpClient,
  statsUrl: string,
  spec: WorkersSpec,
  config: AdaptiveConfig,
  burst: { endedAt: number },
): Promise<AfterFigures> {
  const pid = running.proc.pid;
  const burstEndRssMiB = Math.round(treeRss(pid) / MiB * 10) / 10;
  const began = Date.now();
  const steps = MAX_WORKERS - MIN_WORKERS;
  let toMinMs: number | null = null;
  if (typeof spec === "number") {
    await delay(config.quick ? 1000 : steps * config.shrinkAfterMs + 1000);
  } else {
    // Each step waits shrinkAfter, the sweep (≤ 250 ms) and the retiring
    // worker's exit; a generous bound so a stuck shrink ends the wait.
    const deadline = began + steps * (config.shrinkAfterMs + 2000) + 3000;
    while (Date.now() < deadline) {
      const s = await readStats(client, statsUrl, burst.endedAt);
      if (s.running === spec.min && s.starting + s.retiring === 0) {
        toMinMs = s.t;
        break;
      }
      await delay(100);
    }
    await delay(500);
  }
  const rssMiB = await sampleRss(pid, config.quick ? 2 : 4);
  const { running: workers } = await readStats(client, statsUrl, 0);
  return { toMinMs, rssMiB, workers, burstEndRssMiB };
}
