// What the report renderers share: number formats, markdown tables and
// ratios taken within a round.
import type { HttpBenchResult, RunRecord } from "./_types.ts";
import { figure, type Spread, spread } from "./_stats.ts";

export const fmtInt = (x: number): string =>
  Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "–";
export const fmt = (x: number, digits = 2): string =>
  Number.isFinite(x) ? x.toFixed(digits) : "–";
export const fmtSpreadInt = (s: Spread): string =>
  Number.isFinite(s.median)
    ? `${fmtInt(s.median)} (${fmtInt(s.min)}–${fmtInt(s.max)})`
    : "–";
export const fmtSpread = (s: Spread, d = 2): string =>
  Number.isFinite(s.median)
    ? `${fmt(s.median, d)} (${fmt(s.min, d)}–${fmt(s.max, d)})`
    : "–";
export const fmtRatio = (s: Spread): string =>
  Number.isFinite(s.median)
    ? `${fmt(s.median)}× (${fmt(s.min)}–${fmt(s.max)})`
    : "–";

/** A markdown table. */
export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join(
    "\n",
  );
}

/** One side of a paired ratio: a workload's runs of one contender. */
export interface Side {
  workload: string;
  contender: string;
}

/**
 * The per-round ratio a/b of `pick` (default: the workload's main figure),
 * where a and b may be different workloads (a shape and its floor).
 */
export function pairedRatio(
  result: HttpBenchResult,
  a: Side,
  b: Side,
  pick?: (run: RunRecord) => number,
): Spread {
  const value = (side: Side) => {
    const workload = result.workloads.find((w) => w.id === side.workload);
    return (run: RunRecord) =>
      pick ? pick(run) : workload ? figure(run, workload) : NaN;
  };
  const of = (side: Side) =>
    result.runs.filter((r) =>
      r.workload === side.workload && r.contender === side.contender
    );
  const ratios: number[] = [];
  for (const ra of of(a)) {
    const rb = of(b).find((r) => r.round === ra.round);
    if (rb) ratios.push(value(a)(ra) / value(b)(rb));
  }
  return spread(ratios);
}

/** One line of the target checklist. */
export interface TargetCheck {
  target: string;
  measured: string;
  /** The same figure for the other ringpool worker counts. */
  others?: string;
  /** null: could not be measured in this run. */
  met: boolean | null;
}

/** The runs of one workload and contender. */
export function runsOf(
  result: HttpBenchResult,
  workload: string,
  contender: string,
): RunRecord[] {
  return result.runs.filter((r) =>
    r.workload === workload && r.contender === contender
  );
}

/** "N failed (kind n, ...)" over some runs, or "0". */
export function failedCell(runs: RunRecord[]): string {
  const total = runs.reduce((a, r) => a + (r.failed ?? 0), 0);
  if (total === 0) return "0";
  const kinds = { socket: 0, non2xx: 0, unanswered: 0 };
  for (const run of runs) {
    for (const k of Object.keys(kinds) as (keyof typeof kinds)[]) {
      kinds[k] += run.failedKinds?.[k] ?? 0;
    }
  }
  const parts = Object.entries(kinds).filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  return parts.length ? `${total} (${parts.join(", ")})` : String(total);
}
