import type { RunRecord, Workload } from "./_types.ts";

// Small statistics helpers for the harness.

/** Median, minimum and maximum of a set of measurements. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** The median and range of `values` (NaN for an empty list). */
export function spread(values: number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]! };
}

/** The `p`-th percentile (0..100) of sorted values, nearest-rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  // The epsilon keeps 99.9% of 1000 at rank 999 despite 0.999 * 1000 > 999 in floats.
  const rank = Math.ceil((p / 100) * sorted.length - 1e-9);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** The main figure of a run: req/s, or /fast p99 ms for the latency workload. */
export function figure(run: RunRecord, workload: Workload): number {
  return workload.kind === "latency" ? run.fast?.p99 ?? NaN : run.rps;
}
