// Turns what runSoak measured into the soak's result: per-route latency,
// each failure attributed to a kill or counted as unexplained, per-kind
// kill figures, and the checks.
import { percentile } from "../_stats.ts";
import { soakChecks } from "./checks.ts";
import { EXPECTED_KILL_STATUS, KILLS } from "./config.ts";
import type { Load } from "./load.ts";
import { attribute, coverage, deathWindow } from "./victims.ts";
import type { Failure, KillRecord, Measured, SoakResult } from "./types.ts";

/** The soak's result from its measurements (`passed` if every check is). */
export function summarize(m: Measured): SoakResult {
  const { config, load } = m;
  const soakS = (m.soakEnd - m.soakStart) / 1000;
  const requests = load.total;
  const routes = routeFigures(load);
  // Before perKillFigures: attributing counts each kill's victims.
  const { victims, unexplained } = attributeFailures(m);
  const kills = killFigures(m.soakKills);
  const share = coverage(
    m.kills.map((k) => deathWindow(k, m.graceMs)),
    m.soakStart,
    m.soakEnd,
  );
  const change = m.rssEnd / m.rssWarm - 1;
  const checks = soakChecks(m, {
    requests,
    soakS,
    victims,
    unexplained: unexplained.length,
    change,
  });
  return {
    config,
    date: new Date().toISOString(),
    soakS: Math.round(soakS * 10) / 10,
    requests,
    perSecond: Math.round(requests / soakS),
    routes,
    victims,
    victimsPerKill: perKillFigures(m.soakKills),
    unexplained: unexplained.length,
    unexplainedSamples: unexplained.slice(0, 20),
    deathWindowShare: Math.round(share * 1000) / 1000,
    kills,
    rss: {
      afterWarmupMiB: Math.round(m.rssWarm * 10) / 10,
      afterSoakMiB: Math.round(m.rssEnd * 10) / 10,
      change: Math.round(change * 1000) / 1000,
    },
    workers: {
      threads: m.threads,
      inMetrics: m.inMetrics,
      expected: config.workers,
      idleCpu: Math.round(m.idleCpu * 100) / 100,
    },
    server: { responses: m.responses },
    exit: m.exit,
    checks,
    passed: checks.every((c) => c.ok),
  };
}

/** Count, successes and latency percentiles of each route. */
function routeFigures(load: Load): SoakResult["routes"] {
  const routes = {} as SoakResult["routes"];
  for (const [route, { count, ok, ms }] of load.counts) {
    const sorted = Float64Array.from(ms).sort();
    routes[route] = {
      count,
      ok,
      p50Ms: Math.round(percentile(sorted, 50) * 100) / 100,
      p99Ms: Math.round(percentile(sorted, 99) * 100) / 100,
    };
  }
  return routes;
}

/**
 * Attributes each failed load request to the kill it fell victim to (and
 * counts it on that kill), or else calls it unexplained.
 */
function attributeFailures(
  m: Measured,
): { victims: SoakResult["victims"]; unexplained: Failure[] } {
  const victims = { status502: 0, status504: 0, cut: 0, total: 0 };
  const unexplained: Failure[] = [];
  for (const failure of m.load.failures) {
    const kill = attribute(
      failure,
      m.kills,
      m.config.requestTimeout,
      m.graceMs,
    );
    if (kill === undefined) {
      unexplained.push(failure);
      continue;
    }
    kill.victims++;
    victims.total++;
    if (failure.kind === "cut") victims.cut++;
    else if (failure.status === 502) victims.status502++;
    else victims.status504++;
  }
  return { victims, unexplained };
}

/** Per kind of kill: how many, how they answered, and how fast. */
function killFigures(soakKills: KillRecord[]): SoakResult["kills"] {
  const kills = {} as SoakResult["kills"];
  for (const kind of KILLS) {
    const own = soakKills.filter((k) => k.kind === kind);
    const statuses: Record<string, number> = {};
    for (const k of own) {
      statuses[String(k.status)] = (statuses[String(k.status)] ?? 0) + 1;
    }
    kills[kind] = {
      count: own.length,
      asExpected: own.filter((k) =>
        EXPECTED_KILL_STATUS[kind].includes(k.status ?? -1)
      ).length,
      statuses,
      meanMs: Math.round(
        own.reduce((sum, k) => sum + (k.answered! - k.sent), 0) /
          Math.max(1, own.length),
      ),
    };
  }
  return kills;
}

function perKillFigures(
  soakKills: KillRecord[],
): SoakResult["victimsPerKill"] {
  const perKill = soakKills.map((k) => k.victims);
  return {
    mean: Math.round(
      perKill.reduce((a, b) => a + b, 0) / Math.max(1, perKill.length) * 10,
    ) / 10,
    max: Math.max(0, ...perKill),
  };
}
