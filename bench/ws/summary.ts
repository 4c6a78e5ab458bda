/**
 * Folds the WebSocket benchmark's runs into medians per contender and shape,
 * ratios over single `deno serve`, and issue 9's goals.
 *
 * @module
 */
import { spread } from "../_stats.ts";
import { BASELINE, WS_GOALS } from "./contenders.ts";
import type { WsGoal, WsRun, WsShapeId, WsSummary } from "./types.ts";

/**
 * Medians over rounds. The ratio is the median of per-round ratios (each
 * round's contender over the same round's baseline), so drift between
 * rounds cancels.
 *
 * @param runs Every run of the benchmark.
 * @param contenders Contender ids, in the order to report them.
 * @param shapes Shape ids, in the order to report them.
 * @returns One summary per contender and shape that ran.
 */
export function summarize(
  runs: WsRun[],
  contenders: string[],
  shapes: WsShapeId[],
): WsSummary[] {
  const out: WsSummary[] = [];
  for (const shape of shapes) {
    const of = (id: string) =>
      runs.filter((r) => r.shape === shape && r.contender === id);
    const baseline = new Map(
      of(BASELINE).map((r) => [r.round, r.figures?.messagesPerS ?? NaN]),
    );
    for (const contender of contenders) {
      const mine = of(contender);
      if (mine.length === 0) continue;
      const ok = mine.filter((r) => r.figures !== undefined);
      const median = (pick: (r: WsRun) => number | null | undefined) =>
        spread(ok.map((r) => pick(r) ?? NaN)).median;
      out.push({
        contender,
        shape,
        rounds: ok.length,
        messagesPerS: Math.round(median((r) => r.figures?.messagesPerS)),
        rttP50Ms: median((r) => r.figures?.rttMs.p50),
        rttP99Ms: median((r) => r.figures?.rttMs.p99),
        vsSingle: Math.round(
          spread(
            ok.map((r) =>
              r.figures!.messagesPerS / (baseline.get(r.round) ?? NaN)
            ),
          ).median * 100,
        ) / 100,
        failures: mine.reduce(
          (sum, r) => sum + (r.figures?.failures ?? 1),
          0,
        ),
      });
    }
  }
  return out;
}

/**
 * Issue 9's goals for ringpool against the summary: met only with a ratio
 * at least the goal's and no failures.
 *
 * @param summary The output of {@linkcode summarize}.
 * @returns One entry per goal whose shape ran.
 */
export function checkGoals(summary: WsSummary[]): WsGoal[] {
  const goals: WsGoal[] = [];
  for (const { shape, atLeast } of WS_GOALS) {
    const row = summary.find((s) =>
      s.shape === shape && s.contender === "ringpool"
    );
    if (row === undefined) continue;
    goals.push({
      shape,
      contender: row.contender,
      atLeast,
      ratio: row.vsSingle,
      met: row.vsSingle >= atLeast && row.failures === 0,
    });
  }
  return goals;
}
