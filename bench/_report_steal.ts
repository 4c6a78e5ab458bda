// The report's account of the CPU the hypervisor gave to other guests
// while each contender was measured: on a shared VM a neighbour's burst
// slows whichever server is under load at that moment, so the ratios of a
// run can be read only beside it.
import { STEAL_LIMIT_PERCENT } from "./_server.ts";
import { fmt, table } from "./_report_util.ts";
import type { HttpBenchResult } from "./_types.ts";

/** Per contender: median and highest steal of its runs, and the runs measured again. */
export function renderSteal(result: HttpBenchResult): string {
  const rows: string[][] = [];
  for (const contender of result.contenders) {
    const runs = result.runs.filter((r) =>
      r.contender === contender.id && r.stealPercent !== undefined
    );
    if (runs.length === 0) continue;
    const steal = runs.map((r) => r.stealPercent!).sort((a, b) => a - b);
    const above = runs.filter((r) => r.stealPercent! > STEAL_LIMIT_PERCENT);
    rows.push([
      contender.label,
      String(runs.length),
      fmt(steal[Math.floor(steal.length / 2)]!, 1),
      fmt(steal[steal.length - 1]!, 1),
      String(runs.filter((r) => r.remeasured).length),
      String(above.length),
    ]);
  }
  if (rows.length === 0) return "";
  return "### CPU taken by the hypervisor during the runs\n\n" +
    "Steal time from /proc/stat over each measured run, as a share of the " +
    "machine's CPU time. A run above " + STEAL_LIMIT_PERCENT +
    " % is measured once more and the one with less steal is kept; the last " +
    "column counts runs that stayed above it.\n\n" +
    table(
      [
        "contender",
        "runs",
        "steal median %",
        "steal max %",
        "measured again",
        `still > ${STEAL_LIMIT_PERCENT} %`,
      ],
      rows,
    );
}
