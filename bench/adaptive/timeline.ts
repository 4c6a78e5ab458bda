/**
 * Reading a burst's stats samples: throughput over a window (from the
 * server's completed counter, interpolated between reads), when the pool
 * first ran n workers, and when its throughput first reached a target.
 *
 * @module
 */
import type { Sample } from "./types.ts";

/** The completed counter at `t` ms, linear between the reads around it. */
export function completedAt(samples: Sample[], t: number): number {
  const first = samples[0];
  if (first === undefined) return NaN;
  if (t <= first.t) return first.completed;
  for (let i = 1; i < samples.length; i++) {
    const b = samples[i]!;
    if (b.t < t) continue;
    const a = samples[i - 1]!;
    const share = b.t === a.t ? 1 : (t - a.t) / (b.t - a.t);
    return a.completed + share * (b.completed - a.completed);
  }
  return samples[samples.length - 1]!.completed;
}

/** Requests per second answered between `from` and `to` ms. */
export function rateBetween(
  samples: Sample[],
  from: number,
  to: number,
): number {
  const last = samples[samples.length - 1];
  // A window past the last read would be extrapolated flat: not a rate.
  if (last === undefined || to > last.t || to <= from) return NaN;
  return (completedAt(samples, to) - completedAt(samples, from)) /
    ((to - from) / 1000);
}

/** ms of the first read (from 0 on) with at least `n` workers running. */
export function firstWithWorkers(samples: Sample[], n: number): number | null {
  const hit = samples.find((s) => s.t >= 0 && s.running >= n);
  return hit === undefined ? null : Math.max(0, Math.round(hit.t));
}

/**
 * ms of the first read whose trailing `windowMs` answered at least
 * `target` req/s (the window's end: the conservative reading).
 */
export function firstAtRate(
  samples: Sample[],
  target: number,
  windowMs = 500,
): number | null {
  if (!Number.isFinite(target)) return null;
  const hit = samples.find((s) =>
    s.t >= windowMs && rateBetween(samples, s.t - windowMs, s.t) >= target
  );
  return hit === undefined ? null : Math.round(hit.t);
}

/** One step of the rendered timeline. */
export interface Step {
  /** End of the step, s since the burst's start. */
  endS: number;
  /** Workers running at the step's last read. */
  workers: number;
  /** req/s during the step. */
  rps: number;
}

/** The burst in steps of `stepMs` up to `untilMs`, for the report. */
export function steps(
  samples: Sample[],
  stepMs: number,
  untilMs: number,
): Step[] {
  const out: Step[] = [];
  for (let end = stepMs; end <= untilMs; end += stepMs) {
    const before = samples.filter((s) => s.t <= end).at(-1);
    out.push({
      endS: end / 1000,
      workers: before?.running ?? NaN,
      rps: rateBetween(samples, end - stepMs, end),
    });
  }
  return out;
}
