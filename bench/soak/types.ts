// What the soak records while it runs (kills, failed requests, the
// measurements summarize turns into figures) and the result it returns,
// which bench/_report_extra.ts renders.
import type { KillKind, Route, SoakConfig } from "./config.ts";
import type { Load } from "./load.ts";

/** One kill request. */
export interface KillRecord {
  kind: KillKind;
  sent: number;
  answered?: number;
  status?: number;
  /** Load requests attributed to it. */
  victims: number;
}

/** A load request that did not answer 200 with the right body. */
export interface Failure {
  route: Route;
  sent: number;
  answered: number;
  /** 0 when no status arrived. */
  status: number;
  kind: "status" | "cut" | "body" | "error";
  detail?: string;
}

/** One assertion of the soak. */
export interface SoakCheck {
  check: string;
  ok: boolean;
  detail: string;
}

/** Everything the soak measured. */
export interface SoakResult {
  config: SoakConfig;
  date: string;
  soakS: number;
  requests: number;
  perSecond: number;
  routes: Record<
    Route,
    { count: number; ok: number; p50Ms: number; p99Ms: number }
  >;
  victims: { status502: number; status504: number; cut: number; total: number };
  victimsPerKill: { mean: number; max: number };
  unexplained: number;
  unexplainedSamples: Failure[];
  /** Share of the soak covered by the windows a victim may fall into. */
  deathWindowShare: number;
  kills: Record<
    KillKind,
    {
      count: number;
      asExpected: number;
      statuses: Record<string, number>;
      meanMs: number;
    }
  >;
  rss: { afterWarmupMiB: number; afterSoakMiB: number; change: number };
  workers: {
    threads: number;
    inMetrics: number;
    expected: number;
    /** Cores the worker threads kept busy with no load (leftover threads). */
    idleCpu: number;
  };
  server: { responses: Record<string, number> };
  exit: { code: number | null; ms: number; clean: boolean };
  checks: SoakCheck[];
  passed: boolean;
}

/** What runSoak measured, for summarize. */
export interface Measured {
  config: SoakConfig;
  graceMs: number;
  load: Load;
  /** Every kill, the warm-up's too (their victims count as explained). */
  kills: KillRecord[];
  soakKills: KillRecord[];
  soakStart: number;
  soakEnd: number;
  rssWarm: number;
  rssEnd: number;
  threads: number;
  /** CPU the worker threads used in 1 s without load, in cores. */
  idleCpu: number;
  inMetrics: number;
  responses: Record<string, number>;
  exit: SoakResult["exit"];
}
