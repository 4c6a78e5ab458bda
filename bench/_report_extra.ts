// Report sections for the benchmarks bench/run.ts runs besides the HTTP
// harness: the SSE subscribers (bench/sse.ts), WebSocket echo
// (bench/ws.ts), the adaptive pool (bench/adaptive.ts), the soak with chaos
// (bench/soak.ts) and ThreadPool's goals against Piscina (bench/pool.ts).
// Kept apart from bench/_report.ts so the two can change independently;
// run.ts calls `runExtra` and puts `renderExtra` into RESULTS.md.
import { DEFAULTS_LABEL } from "./_defaults.ts";
import { spread } from "./_stats.ts";
import { table } from "./_report_util.ts";
// Types only: sse.ts and soak.ts import this file for their own output, so
// runExtra loads them when it runs (a static import would be a cycle that
// deadlocks their top-level await).
import type { SseBenchResult, SseRun } from "./sse.ts";
import type { SoakResult } from "./soak.ts";
import type { WsBenchResult } from "./ws.ts";
import type { AdaptiveResult } from "./adaptive.ts";

/** What `runExtra` ran: each result, or why it is missing. */
export interface ExtraOutcome {
  sse?: SseBenchResult;
  soak?: SoakResult;
  ws?: WsBenchResult;
  adaptive?: AdaptiveResult;
  /** Benchmark name → why it has no result (skipped, or the error). */
  missing: Record<string, string>;
  elapsedS: number;
}

/**
 * Runs the SSE, WebSocket and adaptive-pool benchmarks and the soak (in that
 * order) unless `skip` names
 * them; a failure is recorded, not thrown, so the other results are kept.
 * Full: about 2 + 3 + 4 + 7 minutes; quick: about 2 minutes.
 */
export async function runExtra(options: {
  quick: boolean;
  skip?: string[];
  log?: (line: string) => void;
}): Promise<ExtraOutcome> {
  const log = options.log ?? ((line: string) => console.error(line));
  const skip = new Set(options.skip ?? []);
  const began = performance.now();
  const outcome: ExtraOutcome = { missing: {}, elapsedS: 0 };
  const attempt = async (name: string, run: () => Promise<void>) => {
    if (skip.has(name)) {
      outcome.missing[name] = `skipped (--skip ${name})`;
      return;
    }
    log(`${name}: bench/${name}.ts`);
    try {
      await run();
    } catch (error) {
      outcome.missing[name] = `failed: ${
        error instanceof Error ? error.message : error
      }`;
      log(`  ${outcome.missing[name]}`);
    }
  };
  await attempt("sse", async () => {
    const { benchSse } = await import("./sse.ts");
    outcome.sse = await benchSse({ quick: options.quick, log });
  });
  await attempt("ws", async () => {
    const { benchWs } = await import("./ws.ts");
    outcome.ws = await benchWs({ quick: options.quick, log });
  });
  await attempt("adaptive", async () => {
    const { benchAdaptive } = await import("./adaptive.ts");
    outcome.adaptive = await benchAdaptive({ quick: options.quick, log });
  });
  await attempt("soak", async () => {
    const { runSoak } = await import("./soak.ts");
    outcome.soak = await runSoak({ quick: options.quick, log });
  });
  outcome.elapsedS = Math.round((performance.now() - began) / 1000);
  return outcome;
}

/** The sections for RESULTS.md (the renderers load with the results). */
export async function renderExtra(outcome: ExtraOutcome): Promise<string> {
  const sse = outcome.sse === undefined
    ? `### SSE subscribers (bench/sse.ts)\n\nNot measured: ${outcome.missing.sse}.`
    : renderSse(outcome.sse);
  const soak = outcome.soak === undefined
    ? `### Soak with chaos (bench/soak.ts)\n\nNot run: ${outcome.missing.soak}.`
    : renderSoak(outcome.soak);
  const ws = outcome.ws === undefined
    ? `### WebSocket echo (bench/ws.ts)\n\nNot measured: ${outcome.missing.ws}.`
    : (await import("./ws.ts")).renderWs(outcome.ws);
  const adaptive = outcome.adaptive === undefined
    ? `### Adaptive pool (bench/adaptive.ts)\n\nNot measured: ${outcome.missing.adaptive}.`
    : (await import("./adaptive.ts")).renderAdaptive(outcome.adaptive);
  return `## Long-lived streams, WebSockets, adaptive size and chaos\n\n${sse}\n\n${ws}\n\n${adaptive}\n\n${soak}\n`;
}

const fmt = (x: number | undefined, digits = 2) =>
  x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(digits);
const int = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x)
    ? "–"
    : Math.round(x).toLocaleString("en-US");

/** "median (min–max)" of `values`, or the value alone for one round. */
function summary(values: number[], digits = 2): string {
  const { median, min, max } = spread(values);
  if (!Number.isFinite(median)) return "–";
  return values.length > 1
    ? `${fmt(median, digits)} (${fmt(min, digits)}–${fmt(max, digits)})`
    : fmt(median, digits);
}

/** The loaded p99 over the idle p99 of one run (same server, same round). */
export function sseRatio(run: SseRun): number {
  return run.loaded === undefined ? NaN : run.loaded.p99 / run.idle.p99;
}

/** Whether ringpool's loaded p99 stayed within 2× idle (median of rounds). */
export function sseGoalMet(result: SseBenchResult): boolean | null {
  const ratios = result.runs.filter((r) =>
    r.contender === "ringpool" && r.error === undefined
  ).map(sseRatio);
  const { median } = spread(ratios);
  return Number.isFinite(median) ? median <= 2 : null;
}

/** The SSE section: `GET /` latency idle and with the subscribers open. */
export function renderSse(result: SseBenchResult): string {
  const { config } = result;
  const ids = [...new Set(result.runs.map((r) => r.contender))];
  const rows = ids.map((id) => {
    const runs = result.runs.filter((r) => r.contender === id);
    const good = runs.filter((r) => r.error === undefined);
    const subs = good.map((r) => r.subscribers!);
    const failed = good.reduce(
      (n, r) => n + r.idle.failed + (r.loaded?.failed ?? 0),
      0,
    );
    return [
      runs[0]!.label,
      summary(good.map((r) => r.idle.p50)),
      summary(good.map((r) => r.idle.p99)),
      summary(good.map((r) => r.loaded!.p50)),
      summary(good.map((r) => r.loaded!.p99)),
      summary(good.map(sseRatio)),
      subs.length
        ? `${int(Math.min(...subs.map((s) => s.subscribed)))} / ${
          int(config.subscribers)
        }`
        : "–",
      subs.length
        ? `${int(spread(subs.map((s) => s.eventsPerS)).median)} of ${
          int(subs[0]!.expectedPerS)
        }`
        : "–",
      summary(good.map((r) => r.rssLoadedMiB! - r.rssIdleMiB), 1),
      String(failed),
      runs.filter((r) => r.error !== undefined).map((r) => r.error).join(
        "; ",
      ) || "",
    ];
  });
  const ringpool = result.runs.filter((r) =>
    r.contender === "ringpool" && r.ringpool !== undefined
  );
  const met = sseGoalMet(result);
  const verdict = met === null
    ? "not measured"
    : met
    ? "**met**"
    : "**not met**";
  const slots = ringpool.length
    ? `While the subscribers were open, ringpool's \`stats()\` showed ${
      ringpool.map((r) =>
        `${int(r.ringpool!.streams)} streams and ${
          int(r.ringpool!.inFlight)
        } requests holding a slot`
      ).join(", ")
    } (${
      ringpool[0]!.ringpool!.workers
    } workers × 16 slots): long-lived streams leave their slot for the per-worker channel (\`src/_server/channel.ts\`).`
    : "";
  return `### ${int(config.subscribers)} SSE subscribers (bench/sse.ts)

\`GET /\` latency in ms from the open-loop driver (${
    int(config.rate)
  } req/s for ${config.seconds} s, measured from each request's intended send time), first on the idle server,
then with ${
    int(config.subscribers)
  } server-sent-event streams open (one event a second each, opened from a separate Node process with raw
sockets). Median of ${config.rounds} round(s) (min–max); "× idle" is loaded p99 ÷ idle p99 within a round.
Goal: ringpool's loaded p99 within 2× idle — ${verdict}.

${
    table(
      [
        "server",
        "idle p50",
        "idle p99",
        "loaded p50",
        "loaded p99",
        "p99 × idle",
        "subscribed",
        "events/s received",
        "RSS for the streams, MiB",
        "failed GET /",
        "errors",
      ],
      rows,
    )
  }

${slots}

\`\`\`sh
deno task bench:sse            # ${
    int(config.subscribers)
  } subscribers, every contender, ~2 min
deno task bench:sse --quick    # one short round
\`\`\``;
}

/** The soak section: the checks, then the figures behind them. */
export function renderSoak(soak: SoakResult): string {
  const { config } = soak;
  const checks = table(
    ["check", "verdict", "measured"],
    soak.checks.map((
      c,
    ) => [c.check, c.ok ? "**met**" : "**not met**", c.detail]),
  );
  const routes = table(
    ["route", "requests", "200 with the right body", "p50 ms", "p99 ms"],
    Object.entries(soak.routes).map(([route, r]) => [
      route === "echo"
        ? "POST /echo (1 MiB)"
        : route === "stream"
        ? "GET /stream (256 KiB, 8 chunks)"
        : route === "64k"
        ? "GET /64k"
        : "GET /small",
      int(r.count),
      int(r.ok),
      fmt(r.p50Ms),
      fmt(r.p99Ms),
    ]),
  );
  const kills = table(
    [
      "kill",
      "count",
      "answered as its kind predicts",
      "statuses",
      "mean time to answer, ms",
    ],
    Object.entries(soak.kills).map(([kind, k]) => [
      kind,
      int(k.count),
      int(k.asExpected),
      Object.entries(k.statuses).map(([s, n]) => `${s}: ${n}`).join(", "),
      int(k.meanMs),
    ]),
  );
  return `### Soak with chaos (bench/soak.ts)

${config.quick ? "**Quick run (20 s): a smoke test, not the soak.** " : ""}${
    int(soak.requests)
  } requests in ${fmt(soak.soakS, 0)} s (${
    int(soak.perSecond)
  }/s) from ${config.connections} closed-loop clients, after a ${config.warmupS} s warm-up,
against ringpool's defaults (${DEFAULTS_LABEL}: ${config.workers} threads) with \`requestTimeout: ${config.requestTimeout}\`,
\`resourceLimits: { maxOldGenerationSizeMb: ${config.heapMb} }\` and \`metricsPath\`; a worker killed every ${
    config.killEveryMs / 1000
  } s in rotation (exit, spin, heap, heap-async); seed ${config.seed}; ${soak.date}.
**${soak.passed ? "Every check met." : "Some checks not met."}**

${checks}

Victims per kill: mean ${fmt(soak.victimsPerKill.mean, 1)}, max ${
    int(soak.victimsPerKill.max)
  }. A failure counts as a victim only if it was in flight when a killed worker died (windows that cover ${
    fmt(soak.deathWindowShare * 100, 1)
  }% of the soak), or, for a 504, waited the whole timeout while a busy or hanging worker held it.

${routes}

${kills}

\`\`\`sh
deno task bench:soak            # ≥ 5 min and ≥ 10^6 requests
deno task bench:soak --quick    # 20 s smoke run
\`\`\``;
}
