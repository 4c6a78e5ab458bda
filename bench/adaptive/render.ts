/**
 * The adaptive benchmark as a markdown section: a table per pool, the
 * adaptive pool against fixed 4, the first round's burst timeline, and the
 * notes a reader needs (cores, the benchmark-only shrinkAfter, methods).
 *
 * @module
 */
import {
  fmt,
  fmtInt,
  fmtSpread,
  fmtSpreadInt,
  table,
} from "../_report_util.ts";
import { ADAPTIVE, FIXED_4, MAX_WORKERS, MIN_WORKERS } from "./contenders.ts";
import { CATCH_UP } from "./summary.ts";
import { steps } from "./timeline.ts";
import type { AdaptiveResult, GrowthSummary, Range } from "./types.ts";

/** The first row of the per-pool table (the smoke test looks for it). */
export const ADAPTIVE_TABLE_HEADER =
  "| pool | idle RSS MiB | workers idle | burst req/s | steady req/s | p99 ms | errors | peak workers | RSS after MiB | workers after |";

const POOLS = ["No pool", "One pool", "Two pools", "Three pools"];

const ms = (r: Range) =>
  Number.isFinite(r.median) ? `${fmtSpreadInt(r)} ms` : "never";
const ratio = (r: Range) =>
  Number.isFinite(r.median)
    ? `${fmt(r.median)}× (${fmt(r.min)}–${fmt(r.max)})`
    : "–";

/** The section for RESULTS.md. */
export function renderAdaptive(result: AdaptiveResult): string {
  const { config } = result;
  const parts = [
    "### Adaptive pool size (bench/adaptive.ts)",
    `${POOLS[result.contenders.length] ?? "Pools"} serve \`/cpu\` (${
      fmt(config.cpuMs)
    } ms of integer work per request here) on ${config.cores} cores: ` +
    `each is started, warmed, left idle ${config.idleSeconds} s (idle RSS), ` +
    `then hit by wrk (${config.connections} connections, closed loop) for ` +
    `${config.burstSeconds} s, then left idle again. Median (range) of ` +
    `${config.rounds} round(s).`,
    poolTable(result),
  ];
  if (result.growth !== undefined) {
    parts.push(growthTable(result.growth, config.shrinkAfterMs));
    parts.push(timeline(result));
  } else {
    parts.push("No comparison: the adaptive or the fixed-4 pool did not run.");
  }
  const failed = result.runs.filter((r) => r.error !== undefined);
  if (failed.length > 0) {
    parts.push(
      failed.map((r) => `- ${r.contender} round ${r.round + 1}: ${r.error}`)
        .join("\n"),
    );
  }
  parts.push(notes(result));
  return parts.join("\n\n") + "\n";
}

function poolTable(result: AdaptiveResult): string {
  const rows = result.contenders.map((c) => [
    c.label,
    fmtSpread(c.idleRssMiB, 1),
    fmtInt(c.idleWorkers.median),
    fmtSpreadInt(c.rps),
    fmtSpreadInt(c.steadyRps),
    fmtSpread(c.p99Ms, 1),
    `${fmtInt(c.errors)} of ${fmtInt(c.requests)}`,
    fmtInt(c.peakWorkers.median),
    fmtSpread(c.afterRssMiB, 1),
    fmtInt(c.afterWorkers.median),
  ]);
  const header = ADAPTIVE_TABLE_HEADER.slice(2, -2).split(" | ");
  return table(header, rows);
}

function growthTable(g: GrowthSummary, shrinkAfterMs: number): string {
  const rows: string[][] = [
    ["idle RSS, adaptive / fixed 4", ratio(g.idleRssRatio)],
    ["steady burst req/s, adaptive / fixed 4", ratio(g.steadyRpsRatio)],
    ["whole-burst req/s, adaptive / fixed 4", ratio(g.rpsRatio)],
  ];
  for (let n = MIN_WORKERS + 1; n <= MAX_WORKERS; n++) {
    rows.push([
      `burst start → ${n} workers running`,
      ms(g.toWorkersMs[n] ?? { median: NaN, min: NaN, max: NaN }),
    ]);
  }
  rows.push(
    [
      `burst start → req/s (0.5 s window) ≥ ${
        CATCH_UP * 100
      }% of fixed 4's steady`,
      ms(g.to90PctMs),
    ],
    [
      `burst end → back at ${MIN_WORKERS} worker (shrinkAfter ${
        fmtInt(shrinkAfterMs)
      } ms)`,
      ms(g.toMinMs),
    ],
    ["RSS after, adaptive (shrunk) / fixed 4", ratio(g.afterRssRatio)],
  );
  return table(["adaptive against fixed 4", "median (range)"], rows);
}

/** The first round's burst in half seconds: adaptive's workers and req/s. */
function timeline(result: AdaptiveResult): string {
  const first = (id: string) =>
    result.runs.find((r) => r.contender === id && r.burst !== undefined);
  const a = first(ADAPTIVE);
  const f = result.runs.find((r) =>
    r.contender === FIXED_4 && r.round === a?.round && r.burst !== undefined
  );
  if (a?.burst === undefined) return "";
  const until = result.config.burstSeconds * 1000;
  const stepMs = result.config.quick ? 250 : 500;
  const fixed = f?.burst === undefined
    ? []
    : steps(f.burst.samples, stepMs, until);
  const rows = steps(a.burst.samples, stepMs, until).map((s, i) => [
    fmt(s.endS, 2),
    fmtInt(s.workers),
    fmtInt(s.rps),
    fmtInt(fixed[i]?.rps ?? NaN),
  ]);
  return `Burst timeline, round ${
    a.round + 1
  } (req/s in each ${stepMs} ms step, ` +
    `from the server's completed counter):\n\n` +
    table(["t s", "adaptive workers", "adaptive req/s", "fixed 4 req/s"], rows);
}

function notes(result: AdaptiveResult): string {
  const { config } = result;
  const lines = [
    `- \`growAfter\` is serve()'s default (${config.growAfterMs} ms); ` +
    `\`shrinkAfter\` is set to ${
      fmtInt(config.shrinkAfterMs)
    } ms for this benchmark only (the default is 30 000 ms), so the shrink fits in the run.`,
    `- Idle RSS: the server's process tree (VmRSS), median of a few reads after ` +
    `${config.idleSeconds} s idle. "RSS after": the adaptive pool once back at ` +
    `${MIN_WORKERS} worker (+0.5 s), a fixed pool after an idle as long as that shrink takes.`,
    `- Burst req/s: wrk's count over the whole burst. Steady: the server's ` +
    `completed counter (dashboard \`stats.json\`, read every ${config.pollMs} ms ` +
    `on every pool) over the last ${config.steadySeconds} s. Burst start: wrk launched.`,
  ];
  if (config.cores < MAX_WORKERS) {
    lines.push(
      `- This machine has ${config.cores} cores: fixed 4 on CPU work reaches at most ` +
        `~${config.cores} cores (shared with the main thread and wrk), so "max ` +
        `throughput" here is that ${config.cores}-core floor, which the adaptive pool ` +
        `can reach with ${config.cores} workers; workers ${
          config.cores + 1
        }–${MAX_WORKERS} add memory more than req/s.`,
    );
  }
  if (config.quick) {
    lines.push("- Quick run: one short round, indicative only.");
  }
  return lines.join("\n");
}
