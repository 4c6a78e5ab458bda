/**
 * The adaptive benchmark's runs folded over the rounds: medians and ranges
 * per contender, and the adaptive pool against fixed 4 within each round
 * (growth times, time to 90% of fixed 4's throughput, RSS and req/s ratios).
 *
 * @module
 */
import { spread } from "../_stats.ts";
import { ADAPTIVE, FIXED_4, MAX_WORKERS } from "./contenders.ts";
import { firstAtRate } from "./timeline.ts";
import type {
  AdaptiveContender,
  AdaptiveRun,
  ContenderSummary,
  GrowthSummary,
  Range,
} from "./types.ts";

/** Share of fixed 4's steady req/s that counts as having caught up. */
export const CATCH_UP = 0.9;

const range = (values: (number | null | undefined)[]): Range =>
  spread(values.filter((v): v is number => typeof v === "number"));

/** One contender's figures over its successful runs. */
export function summarise(
  contender: AdaptiveContender,
  runs: AdaptiveRun[],
): ContenderSummary {
  const ok = runs.filter((r) =>
    r.contender === contender.id && r.error === undefined
  );
  return {
    contender: contender.id,
    label: contender.label,
    rounds: ok.length,
    idleRssMiB: range(ok.map((r) => r.idle?.rssMiB)),
    idleWorkers: range(ok.map((r) => r.idle?.workers)),
    rps: range(ok.map((r) => r.burst?.rps)),
    steadyRps: range(ok.map((r) => r.burst?.steadyRps)),
    p99Ms: range(ok.map((r) => r.burst?.p99Ms)),
    errors: ok.reduce((a, r) => a + (r.burst?.errors ?? 0), 0),
    requests: ok.reduce((a, r) => a + (r.burst?.requests ?? 0), 0),
    peakWorkers: range(ok.map((r) => r.burst?.peakWorkers)),
    afterRssMiB: range(ok.map((r) => r.after?.rssMiB)),
    afterWorkers: range(ok.map((r) => r.after?.workers)),
  };
}

/** The adaptive pool against fixed 4, paired by round; undefined if either is missing. */
export function growth(runs: AdaptiveRun[]): GrowthSummary | undefined {
  const ok = (id: string) =>
    runs.filter((r) => r.contender === id && r.error === undefined);
  const pairs = ok(ADAPTIVE).flatMap((a) => {
    const f = ok(FIXED_4).find((r) => r.round === a.round);
    return f === undefined ? [] : [{ a, f }];
  });
  if (pairs.length === 0) return undefined;
  const ratio = (pick: (r: AdaptiveRun) => number | undefined) =>
    range(pairs.map(({ a, f }) => (pick(a) ?? NaN) / (pick(f) ?? NaN)));
  const toWorkersMs: Record<string, Range> = {};
  for (let n = 2; n <= MAX_WORKERS; n++) {
    toWorkersMs[n] = range(pairs.map(({ a }) => a.burst?.toWorkersMs[n]));
  }
  return {
    toWorkersMs,
    to90PctMs: range(pairs.map(({ a, f }) =>
      firstAtRate(
        a.burst?.samples ?? [],
        CATCH_UP * (f.burst?.steadyRps ?? NaN),
      )
    )),
    toMinMs: range(pairs.map(({ a }) => a.after?.toMinMs)),
    idleRssRatio: ratio((r) => r.idle?.rssMiB),
    steadyRpsRatio: ratio((r) => r.burst?.steadyRps),
    rpsRatio: ratio((r) => r.burst?.rps),
    afterRssRatio: ratio((r) => r.after?.rssMiB),
  };
}
