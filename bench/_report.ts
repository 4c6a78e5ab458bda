// Turns harness results into RESULTS.md tables, the target checklist and
// the SVG chart.
import type {
  HttpBenchOptions,
  HttpBenchResult,
  RunRecord,
  Workload,
} from "./_types.ts";
import { type Spread, spread } from "./_stats.ts";
import { DEFAULT_THREADS } from "./_defaults.ts";
import {
  fmt,
  fmtInt,
  fmtRatio,
  fmtSpread,
  fmtSpreadInt,
  pairedRatio,
  table,
  type TargetCheck,
} from "./_report_util.ts";
import { renderShape, renderSsr, skewTargets } from "./_report_skew.ts";
import { renderSteal } from "./_report_steal.ts";

export type { TargetCheck };

/** Options for a short run (`--quick`): one round, 1 s per workload. */
export function quickOptions(): HttpBenchOptions {
  return {
    rounds: 1,
    durationS: 1,
    settleS: 1,
    warmS: 1,
    skewedS: 2,
    fastRate: 1000,
    budgetS: 120,
  };
}

/** The ringpool variant the targets are checked against: serve()'s defaults. */
export const TARGET_RINGPOOL = "ringpool-default";

/** Per-round ratio a/b of a workload's main figure. */
export function ratioBetween(
  result: HttpBenchResult,
  workloadId: string,
  a: string,
  b: string,
): Spread {
  return pairedRatio(result, { workload: workloadId, contender: a }, {
    workload: workloadId,
    contender: b,
  });
}

/** Checks the issue's targets against one run's figures. */
export function checkTargets(result: HttpBenchResult): TargetCheck[] {
  const rp = TARGET_RINGPOOL;
  const out: TargetCheck[] = [];
  const ratio = (
    target: string,
    workload: string,
    other: string,
    op: ">=" | "<=",
    bound: number,
  ) => {
    const s = ratioBetween(result, workload, rp, other);
    const met = Number.isFinite(s.median)
      ? (op === ">=" ? s.median >= bound : s.median <= bound)
      : null;
    // The other worker counts, for context; the verdict uses TARGET_RINGPOOL.
    const others = ["ringpool-1", "ringpool-2"].map((id) => {
      const o = ratioBetween(result, workload, id, other);
      return Number.isFinite(o.median)
        ? `${
          id === "ringpool-1"
            ? "1 worker"
            : `${id.replace("ringpool-", "")} workers`
        }: ${fmt(o.median)}×`
        : "";
    }).filter((x) => x !== "").join(", ");
    const failed = result.runs.filter((r) =>
      r.workload === workload && r.contender === rp
    ).reduce((a, r) => a + (r.failed ?? r.errors), 0);
    out.push({
      target,
      measured: (Number.isFinite(s.median) ? fmtRatio(s) : "not measured") +
        (failed > 0 ? ` — ${fmtInt(failed)} failed requests` : ""),
      met,
      ...(others ? { others } : {}),
    });
  };
  ratio(
    "CPU-bound keep-alive ≥ 1.8× single Deno.serve",
    "cpu-ka",
    "deno-single",
    ">=",
    1.8,
  );
  ratio(
    "CPU-bound keep-alive ≥ 1.0× deno serve --parallel",
    "cpu-ka",
    "deno-parallel",
    ">=",
    1.0,
  );
  ratio(
    "CPU-bound Connection: close ≥ 1.0× deno serve --parallel",
    "cpu-close",
    "deno-parallel",
    ">=",
    1.0,
  );
  ratio(
    "Skewed mix /fast p99 ≤ 0.5× deno serve --parallel",
    "skewed",
    "deno-parallel",
    "<=",
    0.5,
  );
  ratio(
    "Skewed mix /fast p99 ≤ 0.5× Node cluster",
    "skewed",
    "node-cluster",
    "<=",
    0.5,
  );
  ratio(
    "Trivial (Hello, keep-alive) ≥ 0.5× single Deno.serve",
    "hello-ka",
    "deno-single",
    ">=",
    0.5,
  );
  ratio(
    "1 MiB POST echo ≥ 0.8× single Deno.serve",
    "echo-1m-ka",
    "deno-single",
    ">=",
    0.8,
  );
  ratio(
    "64 KiB response ≥ 0.6× single Deno.serve",
    "64k-ka",
    "deno-single",
    ">=",
    0.6,
  );
  // Issue 12 §3: main's CPU per request caps the whole process.
  for (
    const [key, label, bound] of [
      ["mainCpuUs", "main thread", 10],
      ["totalCpuUs", "all threads", 25],
    ] as const
  ) {
    const s = result.summary["hello-ka"]?.[rp]?.[key];
    const single = result.summary["hello-ka"]?.["deno-single"]?.totalCpuUs;
    const median = s?.median ?? NaN;
    out.push({
      target: `Hello, keep-alive: ${label} CPU ≤ ${bound} µs/request`,
      measured: Number.isFinite(median)
        ? `${fmt(median, 1)} µs (${fmt(s!.min, 1)}–${fmt(s!.max, 1)})`
        : "not measured",
      met: Number.isFinite(median) ? median <= bound : null,
      ...(single === undefined ? {} : {
        others: `single Deno.serve, all threads: ${fmt(single.median, 1)} µs`,
      }),
    });
  }
  const rss = result.rss.find((r) => r.contender === "ringpool-1");
  const baseline = result.rss.find((r) => r.contender === "deno-single");
  for (
    const [label, key, ok] of [
      ["upload", "uploadGrowthMiB", "uploadOk"],
      ["download", "downloadGrowthMiB", "downloadOk"],
    ] as const
  ) {
    const growth = rss?.[key];
    const transferred = rss?.[ok];
    out.push({
      target:
        `RSS growth for a 100 MiB ${label} through a ringpool worker < 64 MiB`,
      measured: growth === undefined
        ? "not measured"
        : `${fmt(growth, 1)} MiB${transferred ? "" : " (transfer FAILED)"}`,
      met: growth === undefined ? null : growth < 64 && transferred === true,
      ...(baseline?.[key] === undefined
        ? {}
        : { others: `single Deno.serve: ${fmt(baseline[key]!, 1)} MiB` }),
    });
  }
  // Issue 12: every skew shape and the SSR workload, for ringpool's defaults.
  out.push(...skewTargets(result));
  return out;
}

/** Idle RSS per ringpool worker, estimated as (RSS with the default N workers − RSS with 1) / (N − 1). */
export function idleRssPerWorker(result: HttpBenchResult): number {
  const one = result.contenders.find((c) => c.id === "ringpool-1");
  const defaults = result.contenders.find((c) => c.id === "ringpool-default");
  if (!one?.available || !defaults?.available) return NaN;
  return (defaults.idleRss.median - one.idleRss.median) /
    (DEFAULT_THREADS - 1);
}

/** The HTTP part of RESULTS.md (also what `deno task bench:http` prints). */
export function renderHttpMarkdown(result: HttpBenchResult): string {
  const parts: string[] = [];
  const cal = result.calibration;
  parts.push(
    `Rounds run: ${result.roundsRun} of ${result.config.rounds}; wrk ${result.config.durationS} s per run, ` +
      `${result.config.connections} connections (8 for the 1 MiB echo); each skew shape and floor ${result.config.skewedS} s, ` +
      `open-loop /fast at ${result.config.fastRate} req/s (skewed mix: + ${result.config.slowRate} req/s /slow); harness time ${result.elapsedS} s.\n` +
      `Work calibration: ${
        fmtInt(cal.itersPerMs)
      } spin iterations per ms; /cpu = ${fmtInt(cal.cpuIters)} iterations ` +
      `(${cal.cpuMs} ms in the harness isolate), /fast = ${
        fmtInt(cal.fastIters)
      } (~0.1 ms), /slow = ${fmtInt(cal.slowIters)} (~40 ms).`,
  );
  const unavailable = result.contenders.filter((c) => !c.available);
  if (unavailable.length) {
    parts.push(
      "Not available in this run:\n\n" +
        unavailable.map((c) => `- ${c.label}: ${c.reason ?? "failed to start"}`)
          .join("\n"),
    );
  }
  if (result.failures.length) {
    parts.push(
      "Workload runs that failed:\n\n" +
        result.failures.map((f) =>
          `- round ${f.round + 1}, ${f.contender}, ${f.workload}: ${
            f.error.slice(0, 300).replace(/\s+/g, " ")
          }`
        ).join("\n"),
    );
  }
  const labels = new Map(result.contenders.map((c) => [c.id, c.label]));
  for (const workload of result.workloads) {
    const summary = result.summary[workload.id] ?? {};
    const ids = result.contenders.map((c) => c.id).filter((id) => summary[id]);
    if (ids.length === 0) continue;
    if (workload.floorOf !== undefined) continue; // in its shape's table
    if (workload.server === "ssr") {
      parts.push(renderSsr(result, workload));
    } else if (workload.kind === "latency") {
      parts.push(renderShape(result, workload));
    } else {
      parts.push(
        `### ${workload.label}\n\n` + table(
          [
            "contender",
            "req/s median (min–max)",
            "× single Deno.serve",
            "main-thread CPU µs/req",
            "all-threads CPU µs/req",
            "errors",
          ],
          ids.map((id) => {
            const s = summary[id]!;
            const runs = result.runs.filter((r) =>
              r.workload === workload.id && r.contender === id
            );
            const kinds: Record<string, number> = {};
            for (const run of runs) {
              for (const [k, n] of Object.entries(run.errorKinds ?? {})) {
                kinds[k] = (kinds[k] ?? 0) + n;
              }
            }
            const total = runs.reduce((a, r) => a + r.errors, 0);
            const errors = total === 0
              ? "0"
              : `${total} (${
                Object.entries(kinds).map(([k, n]) => `${k} ${n}`).join(", ")
              })`;
            return [
              labels.get(id)!,
              fmtSpreadInt(s.value),
              fmtRatio(s.ratio),
              fmt(s.mainCpuUs.median, 1),
              fmt(s.totalCpuUs.median, 1),
              errors,
            ];
          }),
        ),
      );
    }
  }
  parts.push(renderCpuBreakdown(result));
  parts.push(renderSteal(result));
  parts.push(renderProfiles(result));
  parts.push(renderMemory(result));
  return parts.filter((p) => p !== "").join("\n\n");
}

function renderCpuBreakdown(result: HttpBenchResult): string {
  const rows: string[][] = [];
  for (
    const c of result.contenders.filter((c) =>
      c.id.startsWith("ringpool") && c.available
    )
  ) {
    for (const w of result.workloads) {
      const runs = result.runs.filter((r) =>
        r.contender === c.id && r.workload === w.id && r.threads
      );
      if (runs.length === 0) continue;
      const names = new Set(runs.flatMap((r) => Object.keys(r.threads!)));
      const cells = [...names].map((name) =>
        [name, spread(runs.map((r) => r.threads![name] ?? 0)).median] as const
      )
        .filter(([, us]) => us >= 0.05)
        .sort((a, b) => b[1] - a[1])
        .map(([name, us]) => `${name} ${fmt(us, 1)}`);
      rows.push([
        c.label,
        w.id,
        fmt(spread(runs.map((r) => r.mainCpuUs)).median, 1),
        cells.join(", "),
      ]);
    }
  }
  if (rows.length === 0) return "";
  return "### Where ringpool's CPU goes\n\n" +
    "CPU µs per request by thread (from `/proc/<pid>/task/<tid>/schedstat`, grouped by thread name; `main` is the " +
    "thread running `Deno.serve` and the dispatcher; `worker-N` are the handler threads; `V8 DefaultWorke(r)` are V8's platform threads: concurrent GC and compilation), median of rounds.\n\n" +
    table([
      "contender",
      "workload",
      "main thread µs/req",
      "per thread name, µs/req",
    ], rows);
}

function renderProfiles(result: HttpBenchResult): string {
  if (result.profiles.length === 0) return "";
  return "### ringpool's main thread, sampled\n\n" +
    "V8 CPU profile of the main isolate (inspector protocol, 200 µs sampling; the profiler itself slows the " +
    "server, so use the shares, not the speed). First the busy time by phase of a request: a sample counts for " +
    "the innermost ringpool method on its stack (so a Response constructor counts with the method that calls " +
    "it); its sampled time divided by the requests served while the profiler ran gives µs per request, " +
    "inflated by the profiler. V8's profiler sees only JavaScript: Deno.serve's Rust side (HTTP parsing, " +
    "socket I/O) counts as idle. Then the top functions by self time.\n\n" +
    result.profiles.map((p) =>
      `${p.contender}, ${p.workload}:\n\n` +
      (p.error !== undefined ? `profile failed: ${p.error}` : renderPhases(p) +
        table(
          ["function (file:line)", "self %"],
          p.entries.map((e) => [`\`${e.frame}\``, fmt(e.selfPercent, 1)]),
        ))
    ).join("\n\n");
}

// Where a request's main-thread time goes: each sample counts for the
// innermost ringpool method on its stack; its sampled time divided by the
// requests served while the profiler ran (which slows the server) gives µs.
function renderPhases(
  profile: HttpBenchResult["profiles"][number],
): string {
  if (profile.phases === undefined || profile.phases.length === 0) return "";
  const requests = profile.requests ?? 0;
  return table(
    [
      "phase of a request on main",
      "share of JS samples",
      "µs/request under the profiler",
    ],
    profile.phases.map((p) => [
      p.phase,
      p.busyPercent > 0 ? `${fmt(p.busyPercent, 1)} %` : "–",
      requests > 0 ? fmt(p.micros / requests, 1) : "–",
    ]),
  ) + "\n\n";
}

function renderMemory(result: HttpBenchResult): string {
  const idle = table(
    ["contender", "idle RSS MiB (whole process tree)"],
    // Contenders that only ran the SSR app have no idle figure.
    result.contenders.filter((c) =>
      c.available && Number.isFinite(c.idleRss.median)
    ).map((
      c,
    ) => [c.label, fmtSpread(c.idleRss, 1)]),
  );
  const perWorker = idleRssPerWorker(result);
  const rss = result.rss.length === 0 ? "" : "\n\n" + table(
    [
      "server",
      "RSS after warm-up, MiB",
      "RSS growth, 100 MiB upload",
      "RSS growth, 100 MiB download",
      "peak read from",
    ],
    result.rss.map((r) =>
      r.available
        ? [
          r.contender,
          fmt(r.idleMiB ?? NaN, 1),
          `${fmt(r.uploadGrowthMiB ?? NaN, 1)} MiB${
            r.uploadOk ? "" : " (transfer failed)"
          }`,
          `${fmt(r.downloadGrowthMiB ?? NaN, 1)} MiB${
            r.downloadOk ? "" : " (transfer failed)"
          }`,
          r.method ?? "",
        ]
        : [r.contender, `not available: ${r.reason ?? ""}`, "", "", ""]
    ),
  );
  return "### Memory\n\n" + idle +
    `\n\nIdle RSS per ringpool worker ((ringpool's defaults, ${DEFAULT_THREADS} threads, − ringpool 1) / ${
      DEFAULT_THREADS - 1
    }): ${
      Number.isFinite(perWorker) ? `${fmt(perWorker, 1)} MiB` : "not measured"
    }.` +
    rss;
}

/** Renders a list of micro-benchmark results (`{ name, ...figures }`) as a table. */
export function renderMicro(
  title: string,
  outcome: {
    available: boolean;
    reason?: string;
    results?: Record<string, unknown>[];
  },
): string {
  if (!outcome.available) {
    return `### ${title}\n\nNot available: ${outcome.reason}`;
  }
  const results = outcome.results ?? [];
  const keys = [...new Set(results.flatMap((r) => Object.keys(r)))].filter((
    k,
  ) => k !== "name");
  const cell = (v: unknown) =>
    typeof v === "number"
      ? (Number.isInteger(v) ? fmtInt(v) : fmt(v, 3))
      : v === undefined
      ? ""
      : typeof v === "string"
      ? v
      : JSON.stringify(v);
  return `### ${title}\n\n` +
    table(
      ["name", ...keys],
      results.map((r) => [String(r.name), ...keys.map((k) => cell(r[k]))]),
    );
}

const COLORS: Record<string, string> = {
  "deno-single": "#7f7f7f",
  "deno-parallel": "#1f77b4",
  "node-cluster": "#2ca02c",
  "pm-pool": "#9467bd",
  "ringpool-1": "#fdae6b",
  "ringpool-2": "#f16913",
  "ringpool-default": "#7f2704",
};

const escapeXml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * The chart: one group per workload, one horizontal bar per contender, its
 * length the ratio to single-isolate Deno.serve, labelled with the ratio and
 * the figure. Written as SVG text.
 */
export function renderSvg(result: HttpBenchResult): string {
  const width = 820;
  const labelW = 190;
  const barMax = 440;
  const rowH = 16;
  const contenders = result.contenders;
  // A floor has one contender and no ratio to single: its shape's table has it.
  const groups = result.workloads.filter((w) =>
    result.summary[w.id] && w.floorOf === undefined
  );
  const out: string[] = [];
  let y = 56;
  for (const w of groups) {
    const lower = w.kind === "latency";
    // Each group has its own scale (capped at 6×) so one outlier does not
    // flatten every other group.
    const groupMax = Math.max(
      2,
      ...Object.values(result.summary[w.id]!).map((s) => s.ratio.median)
        .filter(Number.isFinite),
    );
    const scale = barMax / Math.min(groupMax, 6);
    out.push(
      `<text x="10" y="${y}" font-weight="bold">${escapeXml(w.label)} — ${
        lower
          ? "p99 latency ÷ single Deno.serve (lower is better)"
          : "req/s ÷ single Deno.serve (higher is better)"
      }</text>`,
    );
    y += 8;
    // The 1.0× line: the single-isolate baseline.
    out.push(
      `<line x1="${labelW + scale}" y1="${y}" x2="${labelW + scale}" y2="${
        y + contenders.length * rowH
      }" stroke="#aaa" stroke-dasharray="3,2"/>`,
    );
    for (const c of contenders) {
      const s = result.summary[w.id]![c.id];
      out.push(
        `<text x="${labelW - 6}" y="${y + 12}" text-anchor="end">${
          escapeXml(c.label)
        }</text>`,
      );
      if (s === undefined || !Number.isFinite(s.ratio.median)) {
        out.push(
          `<text x="${labelW + 4}" y="${
            y + 12
          }" fill="#999">not available</text>`,
        );
      } else {
        const len = Math.max(1, Math.min(s.ratio.median, 6) * scale);
        const value = lower
          ? `${fmt(s.value.median, 1)} ms`
          : `${fmtInt(s.value.median)} req/s`;
        out.push(
          `<rect x="${labelW}" y="${y + 2}" width="${len.toFixed(1)}" height="${
            rowH - 4
          }" fill="${COLORS[c.id] ?? "#888"}"/>`,
        );
        const clipped = s.ratio.median > 6 ? " ▸ clipped" : "";
        out.push(
          `<text x="${labelW + len + 4}" y="${y + 12}">${
            fmt(s.ratio.median)
          }× (${value})${clipped}</text>`,
        );
      }
      y += rowH;
    }
    y += 22;
  }
  const header = [
    `<text x="10" y="20" font-size="15" font-weight="bold">ringpool HTTP benchmark: ratio to single-isolate Deno.serve (dashed line = 1.0×)</text>`,
    `<text x="10" y="38" fill="#555">bar: median of the per-round ratios; (value): median over ${result.roundsRun} round(s); load generator on the same ${navigator.hardwareConcurrency} cores; see RESULTS.md</text>`,
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...header,
    ...out,
    "</svg>",
    "",
  ].join("\n");
}

/** Re-exported for run.ts. */
export type { RunRecord, Workload };
