// The report's tables for the skew shapes (issue 12 §1: /fast p99 against
// its floor, single Deno.serve, --parallel and Node cluster) and the SSR
// workload (§2: req/s and p99), each with its goals checked against
// ringpool as a new user gets it (FLOOR_CONTENDER: the defaults).
import type { HttpBenchResult, RunRecord, Workload } from "./_types.ts";
import { type Spread, spread } from "./_stats.ts";
import {
  failedCell,
  fmt,
  fmtInt,
  fmtRatio,
  fmtSpread,
  fmtSpreadInt,
  pairedRatio,
  runsOf,
  table,
  type TargetCheck,
} from "./_report_util.ts";
import { FLOOR_CONTENDER } from "./workloads/context.ts";

/** One goal of a shape or of the SSR workload, for ringpool (defaults). */
export interface Goal {
  /** The figure compared: "p99" or "req/s". */
  what: string;
  /** What it is compared with: "floor", "single", "--parallel". */
  of: string;
  ratio: Spread;
  op: "≤" | "<" | "≥";
  bound: number;
  /** null: not measured in this run. */
  met: boolean | null;
}

function goal(
  what: string,
  op: Goal["op"],
  bound: number,
  of: string,
  ratio: Spread,
): Goal {
  const m = ratio.median;
  const met = !Number.isFinite(m)
    ? null
    : op === "≤"
    ? m <= bound
    : op === "<"
    ? m < bound
    : m >= bound;
  return { what, of, ratio, op, bound, met };
}

const goalText = (g: Goal) => `${g.what} ${g.op} ${g.bound}× ${g.of}`;

/** false if any goal is missed, null if some were not measured, else true. */
function allMet(goals: Goal[]): boolean | null {
  if (goals.some((g) => g.met === false)) return false;
  return goals.some((g) => g.met === null) ? null : true;
}

const RP = FLOOR_CONTENDER;
const p99 = (r: RunRecord) => r.fast?.p99 ?? NaN;

/** A shape's /fast p99 over its floor's, per round, for one contender. */
export function ratioToFloor(
  result: HttpBenchResult,
  workload: Workload,
  contender: string,
): Spread {
  if (workload.floor === undefined) return spread([]);
  return pairedRatio(
    result,
    { workload: workload.id, contender },
    { workload: workload.floor, contender: RP },
    p99,
  );
}

/** Issue 12's goals for a skew shape, for ringpool (defaults). */
export function shapeGoals(
  result: HttpBenchResult,
  workload: Workload,
): Goal[] {
  const vs = (other: string) =>
    pairedRatio(
      result,
      { workload: workload.id, contender: RP },
      { workload: workload.id, contender: other },
    );
  return [
    goal("p99", "≤", 1.5, "floor", ratioToFloor(result, workload, RP)),
    goal("p99", "≤", 0.3, "single", vs("deno-single")),
    workload.sharedConnections
      ? goal("p99", "≤", 0.5, "--parallel", vs("deno-parallel"))
      : goal("p99", "<", 1, "--parallel", vs("deno-parallel")),
  ];
}

/** Issue 12's goals for the SSR workload, for ringpool (defaults). */
export function ssrGoals(result: HttpBenchResult, workload: Workload): Goal[] {
  const vs = (other: string, pick?: (r: RunRecord) => number) =>
    pairedRatio(
      result,
      { workload: workload.id, contender: RP },
      { workload: workload.id, contender: other },
      pick,
    );
  const latency = (r: RunRecord) => r.latency?.p99 ?? NaN;
  return [
    goal("req/s", "≥", 1.8, "single", vs("deno-single")),
    goal("req/s", "≥", 1.2, "--parallel", vs("deno-parallel")),
    goal("p99", "<", 1, "single", vs("deno-single", latency)),
    goal("p99", "<", 1, "--parallel", vs("deno-parallel", latency)),
  ];
}

const verdict = (g: Goal) =>
  g.met === null ? "not measured" : g.met ? "met" : "NOT met";

function goalsLine(goals: Goal[]): string {
  return `Goals for ringpool (defaults): ${
    goals.map((g) => `${goalText(g)}: ${fmtRatio(g.ratio)} — ${verdict(g)}`)
      .join("; ")
  }.`;
}

/** One target line per shape and one per SSR goal, for the checklist. */
export function skewTargets(result: HttpBenchResult): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const w of result.workloads) {
    if (w.floorOf !== undefined || w.optIn) continue;
    const goals = w.kind === "latency" && w.floor !== undefined
      ? shapeGoals(result, w)
      : w.server === "ssr"
      ? ssrGoals(result, w)
      : [];
    if (goals.length === 0) continue;
    out.push({
      target: `ringpool defaults, ${w.label}: ${
        goals.map(goalText).join(", ")
      }`,
      measured: goals.map((g) =>
        `${g.what} ${
          Number.isFinite(g.ratio.median) ? fmt(g.ratio.median) : "–"
        }× ${g.of}`
      ).join(", "),
      met: allMet(goals),
    });
  }
  return out;
}

const labelOf = (result: HttpBenchResult, id: string) =>
  result.contenders.find((c) => c.id === id)?.label ?? id;

/** The table of one skew shape, its floor row and its goals. */
export function renderShape(
  result: HttpBenchResult,
  workload: Workload,
): string {
  const summary = result.summary[workload.id] ?? {};
  const ids = result.contenders.map((c) => c.id).filter((id) => summary[id]);
  if (ids.length === 0) return "";
  const s = (pick: (r: RunRecord) => number | undefined, runs: RunRecord[]) =>
    spread(runs.map((r) => pick(r) ?? NaN));
  const ratio = (id: string, other: string) =>
    fmtRatio(pairedRatio(result, { workload: workload.id, contender: id }, {
      workload: workload.id,
      contender: other,
    }));
  const row = (
    label: string,
    runs: RunRecord[],
    ratios: string[],
  ): string[] => [
    label,
    fmtSpread(s((r) => r.fast?.p50, runs)),
    fmtSpread(s((r) => r.fast?.p99, runs)),
    fmtSpread(s((r) => r.fast?.p999, runs)),
    ...ratios,
    runs.some((r) => r.slow)
      ? `${fmt(s((r) => r.slow?.p50, runs).median, 1)} · ${
        fmt(s((r) => r.slow?.p99, runs).median, 1)
      }`
      : "–",
    fmtSpreadInt(s((r) => r.rps, runs)),
    fmt(s((r) => r.mainCpuUs, runs).median, 1),
    fmt(s((r) => r.mainWaitUs, runs).median, 1),
    fmt(s((r) => r.totalCpuUs, runs).median, 1),
    failedCell(runs),
  ];
  const rows = ids.map((id) =>
    row(labelOf(result, id), runsOf(result, workload.id, id), [
      fmtRatio(ratioToFloor(result, workload, id)),
      ratio(id, "deno-single"),
      ratio(id, "deno-parallel"),
      ratio(id, "node-cluster"),
    ])
  );
  const floorRuns = workload.floor === undefined
    ? []
    : runsOf(result, workload.floor, RP);
  if (floorRuns.length > 0) {
    rows.push(
      row(`floor: ${labelOf(result, RP)}`, floorRuns, ["1.00×", "", "", ""]),
    );
  }
  const floor = result.workloads.find((w) => w.id === workload.floor);
  const lag = spread(
    result.runs.filter((r) =>
      r.workload === workload.id || r.workload === workload.floor
    ).map((r) => r.timerLag?.p99 ?? NaN),
  );
  return `### ${workload.label}\n\n` +
    `${workload.method ?? ""}${
      floor?.method ? ` Floor: ${floor.method}` : ""
    }\n\n` +
    "Latency of /fast in ms, median of rounds (min–max); ratios are taken within each round. " +
    'CPU columns: µs per request (all routes); "main waiting" is time the main thread was runnable but had no core.\n\n' +
    table(
      [
        "contender",
        "/fast p50",
        "/fast p99",
        "/fast p99.9",
        "p99 × floor",
        "p99 × single",
        "p99 × --parallel",
        "p99 × Node cluster",
        "/slow p50 · p99",
        "/fast done/s",
        "main CPU",
        "main waiting",
        "all CPU",
        "failed",
      ],
      rows,
    ) +
    (workload.optIn ? "" : `\n\n${goalsLine(shapeGoals(result, workload))}`) +
    burnerLine(floorRuns) +
    (Number.isFinite(lag.median)
      ? `\n\nThe open-loop driver's own lateness against its schedule was p99 ${
        fmtSpread(lag)
      } ms, included in every figure above for every contender alike.`
      : "");
}

// Whether the floor's slow load kept to its schedule.
function burnerLine(runs: RunRecord[]): string {
  const reports = runs.flatMap((r) => r.burner ? [r.burner] : []);
  if (reports.length === 0) return "";
  const jobs = reports.reduce((a, b) => a + b.jobs, 0);
  const done = reports.reduce((a, b) => a + b.done, 0);
  const late = spread(reports.map((b) => b.startLateP99Ms));
  return `\n\nThe floor's burner ran ${done} of ${jobs} slow jobs; ` +
    `a job started late by p99 ${
      fmtSpread(late, 1)
    } ms (all threads busy, or its timer late).`;
}

/** The SSR table: req/s and latency for every contender, and its goals. */
export function renderSsr(result: HttpBenchResult, workload: Workload): string {
  const summary = result.summary[workload.id] ?? {};
  const ids = result.contenders.map((c) => c.id).filter((id) => summary[id]);
  if (ids.length === 0) return "";
  const latency = (r: RunRecord) => r.latency?.p99 ?? NaN;
  const vs = (id: string, other: string, pick?: (r: RunRecord) => number) =>
    fmtRatio(
      pairedRatio(result, { workload: workload.id, contender: id }, {
        workload: workload.id,
        contender: other,
      }, pick),
    );
  const rows = ids.map((id) => {
    const runs = runsOf(result, workload.id, id);
    const s = (pick: (r: RunRecord) => number | undefined) =>
      spread(runs.map((r) => pick(r) ?? NaN));
    return [
      labelOf(result, id),
      fmtSpreadInt(s((r) => r.rps)),
      vs(id, "deno-single"),
      vs(id, "deno-parallel"),
      fmtSpread(s((r) => r.latency?.p50), 1),
      fmtSpread(s((r) => r.latency?.p99), 1),
      vs(id, "deno-single", latency),
      vs(id, "deno-parallel", latency),
      fmt(s((r) => r.mainCpuUs).median, 1),
      fmt(s((r) => r.totalCpuUs).median, 1),
      String(runs.reduce((a, r) => a + r.errors, 0)),
    ];
  });
  return `### ${workload.label}\n\n${workload.method ?? ""}\n\n` +
    table(
      [
        "contender",
        "req/s median (min–max)",
        "× single",
        "× --parallel",
        "p50 ms",
        "p99 ms",
        "p99 × single",
        "p99 × --parallel",
        "main CPU µs/req",
        "all CPU µs/req",
        "errors",
      ],
      rows,
    ) + `\n\n${goalsLine(ssrGoals(result, workload))}` +
    ssrCeiling(result, workload);
}

/**
 * What the cores allow: the req/s of a server that spent no more CPU per
 * request than single Deno.serve (all its threads: V8's GC and compiler
 * threads count) and kept every core busy.
 */
function ssrCeiling(result: HttpBenchResult, workload: Workload): string {
  const cores = navigator.hardwareConcurrency;
  const median = (id: string, pick: (r: RunRecord) => number | undefined) =>
    spread(runsOf(result, workload.id, id).map((r) => pick(r) ?? NaN)).median;
  const cpuUs = median("deno-single", (r) => r.totalCpuUs);
  const singleRps = median("deno-single", (r) => r.rps);
  const ours = median(RP, (r) => r.rps);
  if (!(cpuUs > 0) || !(singleRps > 0)) return "";
  const ceiling = cores * 1e6 / cpuUs;
  return `\n\nThe machine's ceiling: single Deno.serve spends ${
    fmt(cpuUs, 0)
  } µs of CPU per request on all its threads, so ${cores} cores allow at most ${
    fmtInt(ceiling)
  } req/s = ${
    fmt(ceiling / singleRps, 2)
  }× single at that cost; ringpool (defaults) reached ${
    fmt(ours / ceiling, 2)
  }× of it.`;
}
