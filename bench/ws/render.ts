/**
 * The WebSocket benchmark as Markdown: one table of medians with the ratio
 * over single `deno serve`, the goals, and any run that failed.
 *
 * @module
 */
import { spread } from "../_stats.ts";
import type { WsBenchResult, WsFigures } from "./types.ts";

/** The table's header row (the smoke test looks for it). */
export const WS_TABLE_HEADER =
  "| shape | contender | messages/s | × single | RTT p50 ms | RTT p99 ms | CPU server / client | failures |";

const fixed = (x: number, digits: number) =>
  Number.isFinite(x) ? x.toFixed(digits) : "–";

/**
 * Renders a result of `benchWs`.
 *
 * @param result What `benchWs` returned.
 * @returns Markdown: a heading, the method, the table, the goals.
 */
export function renderWs(result: WsBenchResult): string {
  const { config } = result;
  const label = (id: string) =>
    result.contenders.find((c) => c.id === id)?.label ?? id;
  const shape = (id: string) =>
    config.shapes.find((s) => s.id === id)?.label ?? id;
  const cpu = (contender: string, shapeId: string, pick: keyof WsFigures) =>
    spread(
      result.runs
        .filter((r) => r.contender === contender && r.shape === shapeId)
        .map((r) => Number(r.figures?.[pick] ?? NaN)),
    ).median;
  const lines = [
    `### WebSockets: echo over ${config.sockets} sockets`,
    "",
    `Each socket is a closed loop (send, wait for the echo, check it byte for byte, send the next), all from one Node process with \`ws\`; ` +
    `${config.seconds} s windows after ${config.warmupSeconds} s of warm-up, ${config.rounds} round(s) with the contenders' order rotated; medians over rounds. ` +
    `"~1 ms work" is ${config.workIters} iterations of the integer loop per message (${config.workMs} ms here). ` +
    `× single: messages/s over single \`deno serve\`'s in the same round (median of the rounds' ratios). ` +
    `CPU: cores used during the window by the server's process tree and by the client, on ${config.cores} cores shared by both.`,
    "",
    WS_TABLE_HEADER,
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const row of result.summary) {
    lines.push(
      `| ${shape(row.shape)} | ${label(row.contender)} | ${
        Number.isFinite(row.messagesPerS) ? row.messagesPerS : "–"
      } | ${fixed(row.vsSingle, 2)}× | ${fixed(row.rttP50Ms, 2)} | ${
        fixed(row.rttP99Ms, 2)
      } | ${fixed(cpu(row.contender, row.shape, "serverCpuCores"), 2)} / ${
        fixed(cpu(row.contender, row.shape, "clientCpuCores"), 2)
      } | ${row.failures} |`,
    );
  }
  if (result.goals.length > 0) {
    lines.push(
      "",
      "Goals (issue 9), ringpool's messages/s over single `deno serve`'s:",
    );
    for (const goal of result.goals) {
      lines.push(
        `- ${shape(goal.shape)}: ${
          fixed(goal.ratio, 2)
        }× (goal ≥ ${goal.atLeast}×) — ${goal.met ? "**met**" : "**not met**"}`,
      );
    }
  }
  const failed = result.runs.filter((r) => r.error !== undefined);
  if (failed.length > 0) {
    lines.push("", "Runs that failed:");
    for (const run of failed) {
      lines.push(
        `- round ${run.round + 1}, ${label(run.contender)}, ${
          shape(run.shape)
        }: ${run.error}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}
