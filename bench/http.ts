/**
 * The HTTP harness: every contender serves the same handler logic on
 * 127.0.0.1 in its own process; wrk (closed loop, 1 thread) measures
 * throughput, an open-loop driver and h2load measure latency percentiles;
 * rounds alternate contenders so drift on a shared machine hits them all
 * alike. The contenders are in `contenders/list.ts`, the workloads in
 * `workloads/list.ts`.
 *
 * Run on its own with `deno run -A bench/http.ts [--quick]`; `bench/run.ts`
 * imports {@linkcode runHttpBench} and writes the reports.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { spin } from "./handlers/work.mjs";
import { CONTENDERS } from "./contenders/list.ts";
import { freePort, treeRss } from "./_proc.ts";
import { type Running, start, STEAL_LIMIT_PERCENT, warmUp } from "./_server.ts";
import { figure, spread } from "./_stats.ts";
import { quickOptions, renderHttpMarkdown } from "./_report.ts";
import { rssTest } from "./_rss.ts";
import { assertWrk, ensureWrk } from "./_wrk.ts";
import { profileMainThread } from "./_profile.ts";
import { runWorkload, WORKLOADS } from "./workloads/list.ts";
import { settle } from "./workloads/throughput.ts";
import { FLOOR_CONTENDER } from "./workloads/context.ts";
import type {
  Calibration,
  Contender,
  Figures,
  HttpBenchConfig,
  HttpBenchOptions,
  HttpBenchResult,
  ProfileResult,
  RunRecord,
  ServerKind,
  Workload,
} from "./_types.ts";

export { CONTENDERS, WORKLOADS };
export type {
  Contender,
  HttpBenchOptions,
  HttpBenchResult,
  ProfileResult,
  RunRecord,
  Workload,
};
export type { RssResult } from "./_types.ts";

const MiB = 1024 * 1024;

/** Finds spin() iterations per millisecond on this machine (in this isolate). */
export function calibrate(): Calibration {
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

async function profile(
  contender: Contender,
  workload: string,
  cal: Calibration,
  config: HttpBenchConfig,
  log: (l: string) => void,
): Promise<ProfileResult> {
  const inspectPort = freePort();
  let running: Running | undefined;
  try {
    running = await start(contender, log, "bench", {}, [
      `--inspect=127.0.0.1:${inspectPort}`,
    ]);
    const server = running;
    await warmUp(server.base, cal);
    let rps = 0;
    const { entries, phases } = await profileMainThread(
      inspectPort,
      async () => {
        const ctx = { contender, running: server, cal, config, install: false };
        rps = (await runWorkload(workload, ctx)).rps;
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
 * Whether `contender` runs `workload`: a floor only on ringpool with its
 * defaults; a shape on the contenders it names, unless the caller chose
 * the contenders.
 */
function runsFor(
  workload: Workload,
  contender: Contender,
  chosen: boolean,
): boolean {
  if (workload.floorOf !== undefined) return contender.id === FLOOR_CONTENDER;
  if (workload.contenders === undefined || chosen) return true;
  return workload.contenders.includes(contender.id);
}

/** The contender's workloads by the server process they need, in order. */
function byProcess(
  contender: Contender,
  workloads: Workload[],
): { kind: ServerKind; workloads: Workload[] }[] {
  const groups = new Map<string, { kind: ServerKind; workloads: Workload[] }>();
  for (const workload of workloads) {
    const kind = workload.server ?? "bench";
    // Kinds that start the same command line share one process.
    const key = JSON.stringify(contender.command(0, kind));
    const group = groups.get(key) ?? { kind, workloads: [] };
    group.workloads.push(workload);
    groups.set(key, group);
  }
  return [...groups.values()];
}

function shown(workload: Workload, figures: Figures): string {
  if (workload.kind === "latency") return `/fast p99 ${figures.fast?.p99} ms`;
  const p99 = workload.server === "ssr"
    ? `, p99 ${figures.latency?.p99} ms`
    : "";
  return `${figures.rps} req/s${p99}`;
}

/** Runs a workload, and once more if the hypervisor took much of the CPU. */
async function measure(
  id: string,
  ctx: Parameters<typeof runWorkload>[1],
  log: (line: string) => void,
): Promise<Figures> {
  const first = await runWorkload(id, ctx);
  const steal = first.stealPercent ?? 0;
  if (steal <= STEAL_LIMIT_PERCENT) return first;
  log(`  ${id}: ${steal}% of the CPU went to other guests: measuring again`);
  const second = await runWorkload(id, ctx);
  const kept = (second.stealPercent ?? 0) < steal ? second : first;
  return { ...kept, remeasured: true };
}

function configOf(options: HttpBenchOptions): HttpBenchConfig {
  const config: HttpBenchConfig = {
    contenders: options.contenders ?? CONTENDERS.map((c) => c.id),
    workloads: options.workloads ??
      WORKLOADS.filter((w) => !w.optIn).map((w) => w.id),
    rounds: options.rounds ?? 3,
    durationS: options.durationS ?? 2,
    settleS: options.settleS ?? 6,
    warmS: options.warmS ?? 1,
    skewedS: options.skewedS ?? 4,
    fastRate: options.fastRate ?? 2000,
    slowRate: options.slowRate ?? 10,
    connections: options.connections ?? 32,
    rss: options.rss ?? true,
    profile: options.profile ?? true,
    budgetS: options.budgetS ?? 480,
  };
  for (
    const [what, ids, known] of [
      ["contender", config.contenders, CONTENDERS],
      ["workload", config.workloads, WORKLOADS],
    ] as const
  ) {
    for (const id of ids) {
      if (!known.some((k) => k.id === id)) {
        throw new RangeError(
          `Cannot run ${what} '${id}' as it is unknown: use one of ${
            known.map((k) => k.id).join(", ")
          }`,
        );
      }
    }
  }
  return config;
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
  const config = configOf(options);
  const install = options.installWrk !== false;
  await (install ? ensureWrk() : assertWrk());
  const began = performance.now();
  const cal = calibrate();
  log(
    `calibration: ${cal.itersPerMs} spin iterations/ms; /cpu = ${cal.cpuIters} (${cal.cpuMs} ms here)`,
  );
  const contenders = CONTENDERS.filter((c) => config.contenders.includes(c.id));
  const workloads = WORKLOADS.filter((w) => config.workloads.includes(w.id));
  const chosen = options.contenders !== undefined;
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
      const mine = workloads.filter((w) => runsFor(w, contender, chosen));
      for (const group of byProcess(contender, mine)) {
        const fail = (workload: string, error: string) => {
          failures.push({ round, contender: contender.id, workload, error });
          log(`  ${workload}: FAILED: ${error}`);
        };
        log(
          `round ${round + 1}/${config.rounds}: ${contender.id}${
            group.kind === "bench" ? "" : ` (${group.kind} server)`
          }`,
        );
        let running: Running;
        try {
          await contender.prepare?.(group.kind);
          running = await start(contender, log, group.kind);
        } catch (error) {
          const message = (error as Error).message;
          // The contender itself cannot start: it is out of this run.
          if (group.kind === "bench") unavailable.set(contender.id, message);
          else for (const w of group.workloads) fail(w.id, message);
          continue;
        }
        try {
          if (group.kind === "bench") {
            idleRss.set(contender.id, [
              ...(idleRss.get(contender.id) ?? []),
              treeRss(running.proc.pid) / MiB,
            ]);
          }
          const ctx = { contender, running, cal, config, install };
          await warmUp(running.base, cal, group.kind)
            .then(() => settle(ctx, group.kind))
            .catch((error) =>
              log(`  warm-up failed: ${(error as Error).message}`)
            );
          for (const workload of group.workloads) {
            let figures: Figures;
            try {
              figures = await measure(workload.id, ctx, log);
            } catch (error) {
              // One broken workload should not cost the others their numbers.
              fail(workload.id, (error as Error).message);
              continue;
            }
            runs.push({
              round,
              contender: contender.id,
              workload: workload.id,
              ...figures,
            });
            log(
              `  ${workload.id}: ${shown(workload, figures)}${
                figures.errors ? ` (${figures.errors} errors)` : ""
              }`,
            );
          }
        } finally {
          await running.proc.stop();
        }
      }
    }
    roundS.push((performance.now() - roundBegan) / 1000);
  }
  const rss: HttpBenchResult["rss"] = [];
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
  const profiled = CONTENDERS.find((c) => c.id === "ringpool-default")!;
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
      const p = (pick: (r: RunRecord) => number | undefined) =>
        spread(list.map((r) => pick(r) ?? NaN));
      out[workload.id]![contender] = {
        value: spread(list.map((r) => figure(r, workload))),
        ratio: spread(ratios),
        ...(workload.kind === "latency"
          ? { p50: p((r) => r.fast?.p50), p999: p((r) => r.fast?.p999) }
          : {}),
        mainCpuUs: p((r) => r.mainCpuUs),
        totalCpuUs: p((r) => r.totalCpuUs),
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
      budget: { type: "string" },
      contenders: { type: "string" },
      workloads: { type: "string" },
      json: { type: "string" },
    },
  });
  const result = await runHttpBench({
    ...(values.quick ? quickOptions() : {}),
    ...(values.rounds ? { rounds: Number(values.rounds) } : {}),
    ...(values.budget ? { budgetS: Number(values.budget) } : {}),
    ...(values.contenders ? { contenders: values.contenders.split(",") } : {}),
    ...(values.workloads ? { workloads: values.workloads.split(",") } : {}),
  });
  if (values.json) {
    Deno.writeTextFileSync(values.json, JSON.stringify(result, null, 2) + "\n");
  }
  console.log(renderHttpMarkdown(result));
}
