// The phases of a soak, in the order runSoak runs them: the warm-up, the
// soak proper, the figures of the quiet server afterwards, and the SIGTERM.
// They share one state object, as the server, load and killer outlive each.
import { treeRss } from "../_proc.ts";
import { MiB, type SoakConfig } from "./config.ts";
import type { Killer } from "./kills.ts";
import type { Load } from "./load.ts";
import { metrics, responsesByStatus, sleep, workerThreads } from "./probes.ts";
import type { SoakServer } from "./server.ts";
import type { SoakResult } from "./types.ts";

/** What every phase works on. */
export interface Soak {
  config: SoakConfig;
  log: (line: string) => void;
  server: SoakServer;
  load: Load;
  killer: Killer;
}

/** The line that opens the soak's log. */
export function startLine(config: SoakConfig): string {
  return `soak: seed ${config.seed}; warm-up ${config.warmupS} s, then ≥ ${config.seconds} s${
    config.requests
      ? ` and ≥ ${config.requests.toLocaleString("en-US")} requests`
      : ""
  }; a kill every ${config.killEveryMs} ms`;
}

/**
 * Warm-up: every route and every kind of kill, then a quiet moment.
 *
 * @returns The server's RSS after it, in MiB.
 */
export async function warmUp(soak: Soak): Promise<number> {
  const { config, load, killer, server } = soak;
  load.start(config.connections);
  killer.start();
  await sleep(config.warmupS * 1000);
  await Promise.all([load.stop(), killer.stop()]);
  await sleep(3000);
  const rssWarm = treeRss(server.process.pid) / MiB;
  soak.log(`soak: warm-up done, RSS ${rssWarm.toFixed(1)} MiB`);
  return rssWarm;
}

/** When the soak proper ran, and how many kills came before it. */
export interface SoakWindow {
  start: number;
  end: number;
  killsBefore: number;
}

/**
 * The soak proper: load and kills until both minimums are met (or the
 * maximum length has passed), with a progress line every 10 s.
 */
export async function soakProper(soak: Soak): Promise<SoakWindow> {
  const { config, load, killer } = soak;
  load.reset();
  const start = performance.now();
  const killsBefore = killer.kills.length;
  load.start(config.connections);
  killer.start();
  let lastLog = start;
  for (;;) {
    await sleep(1000);
    const elapsed = (performance.now() - start) / 1000;
    const total = load.total;
    if (performance.now() - lastLog >= 10_000) {
      lastLog = performance.now();
      soak.log(progressLine(soak, elapsed, total, killsBefore));
    }
    if (
      (elapsed >= config.seconds && total >= config.requests) ||
      elapsed >= config.maxSeconds
    ) break;
  }
  await load.stop();
  const end = performance.now();
  await killer.stop();
  return { start, end, killsBefore };
}

function progressLine(
  soak: Soak,
  elapsed: number,
  total: number,
  killsBefore: number,
): string {
  const { load, killer, server } = soak;
  return `soak: ${Math.round(elapsed)} s, ${
    total.toLocaleString("en-US")
  } requests (${
    Math.round(total / elapsed)
  }/s), ${load.failures.length} failed, ${
    killer.kills.length - killsBefore
  } kills, RSS ${(treeRss(server.process.pid) / MiB).toFixed(1)} MiB`;
}

/** What the server looks like after the soak, without load. */
export interface QuietFigures {
  rssEnd: number;
  threads: number;
  /** CPU the worker threads used in 1 s without load, in cores. */
  idleCpu: number;
  inMetrics: number;
  responses: Record<string, number>;
}

/** Waits for the server to go quiet, then reads its RSS, threads and metrics. */
export async function quietFigures(soak: Soak): Promise<QuietFigures> {
  const { pid } = soak.server.process;
  await sleep(3000);
  const rssEnd = treeRss(pid) / MiB;
  // An idle server's workers sleep: CPU here is a thread left running.
  const idleFrom = workerThreads(pid);
  await sleep(1000);
  const idleTo = workerThreads(pid);
  const text = await metrics(soak.server.base);
  return {
    rssEnd,
    threads: idleTo.count,
    idleCpu: (idleTo.cpuMs - idleFrom.cpuMs) / 1000,
    inMetrics: [...text.matchAll(/^ringpool_requests_in_flight\{/gm)].length,
    responses: responsesByStatus(text),
  };
}

/** SIGTERM: a graceful shutdown that must end the process by itself. */
export async function sigterm(soak: Soak): Promise<SoakResult["exit"]> {
  const { process } = soak.server;
  const stopStarted = performance.now();
  Deno.kill(process.pid, "SIGTERM");
  const exited = await Promise.race([
    process.exited.then((status) => status.code),
    sleep(20_000).then(() => null),
  ]);
  return {
    code: exited,
    ms: Math.round(performance.now() - stopStarted),
    clean: exited === 0,
  };
}
