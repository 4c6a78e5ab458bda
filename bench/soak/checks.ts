// The soak's assertions, one function each: what they compare is listed at
// the top of bench/soak.ts.
import type { KillRecord, Measured, SoakCheck, SoakResult } from "./types.ts";

/** Figures summarize derived that the checks judge. */
export interface Derived {
  requests: number;
  soakS: number;
  victims: SoakResult["victims"];
  unexplained: number;
  /** RSS after the soak over RSS after the warm-up, minus 1. */
  change: number;
}

/** Every check, in the order the report lists them. */
export function soakChecks(m: Measured, d: Derived): SoakCheck[] {
  const checks = [
    victimsCheck(d),
    killsCheck(m.soakKills),
    countersCheck(m),
    rssCheck(m, d.change),
    workersCheck(m),
  ];
  if (!m.config.quick) checks.push(lengthCheck(d));
  return checks;
}

function victimsCheck({ victims, unexplained, requests }: Derived): SoakCheck {
  return {
    check:
      "every load request not running on a killed worker answered 200 with the right body",
    ok: unexplained === 0,
    detail:
      `${unexplained} unexplained failures; ${victims.total} victims (${victims.status502} × 502, ${victims.status504} × 504, ${victims.cut} cut bodies) of ${
        requests.toLocaleString("en-US")
      } requests`,
  };
}

function killsCheck(soakKills: KillRecord[]): SoakCheck {
  const all = soakKills.length;
  const ok = soakKills.filter((k) => k.status === 502 || k.status === 504)
    .length;
  return {
    check: "every kill request answered 502 or 504",
    ok: ok === all && all > 0,
    detail: `${ok} of ${all}`,
  };
}

function countersCheck(m: Measured): SoakCheck {
  // What the clients saw over the whole run, kill requests included.
  const seen = (status: number) =>
    (m.load.statuses.get(status) ?? 0) +
    m.kills.filter((k) => k.status === status).length;
  return {
    check: "the server's 502 and 504 counters equal what the clients saw",
    ok: (m.responses["502"] ?? 0) === seen(502) &&
      (m.responses["504"] ?? 0) === seen(504),
    detail: `502: server ${m.responses["502"] ?? 0}, clients ${
      seen(502)
    }; 504: server ${m.responses["504"] ?? 0}, clients ${seen(504)}`,
  };
}

function rssCheck(m: Measured, change: number): SoakCheck {
  return {
    check: "RSS after the soak within 10% of RSS after the warm-up",
    ok: Math.abs(change) <= 0.1,
    detail: `${m.rssWarm.toFixed(1)} → ${m.rssEnd.toFixed(1)} MiB (${
      change >= 0 ? "+" : ""
    }${(change * 100).toFixed(1)}%)`,
  };
}

function workersCheck(m: Measured): SoakCheck {
  const { workers } = m.config;
  return {
    check: "no worker left behind",
    ok: m.threads === workers && m.inMetrics === workers && m.exit.clean,
    detail: `${m.threads} worker threads (expected ${workers}), using ${
      m.idleCpu.toFixed(2)
    } cores with no load; ${m.inMetrics} workers in stats; SIGTERM: exit ${m.exit.code} after ${m.exit.ms} ms`,
  };
}

function lengthCheck({ requests, soakS }: Derived): SoakCheck {
  return {
    check: "≥ 10^6 requests over ≥ 5 minutes",
    ok: requests >= 1_000_000 && soakS >= 300,
    detail: `${requests.toLocaleString("en-US")} requests in ${
      soakS.toFixed(0)
    } s`,
  };
}
