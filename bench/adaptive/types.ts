/**
 * The shapes of the adaptive-pool benchmark's options and results
 * (bench/adaptive.ts).
 *
 * @module
 */

/** What `benchAdaptive` is asked to do; everything has a default. */
export interface AdaptiveOptions {
  /** One short round (~2 s bursts): for the smoke test and `--quick`. */
  quick?: boolean;
  /** Rounds; each starts every contender afresh. @default {3} */
  rounds?: number;
  /** Length of the burst, whole seconds (wrk's unit). @default {8} */
  burstSeconds?: number;
  /** Its last seconds, taken as the steady state. @default {3} */
  steadySeconds?: number;
  /** Idle time after the warm-up before RSS is read, s. @default {3} */
  idleSeconds?: number;
  /** wrk's open connections (closed loop). @default {16} */
  connections?: number;
  /**
   * The adaptive contender's `shrinkAfter`, ms: set short for the
   * benchmark only (the default is 30 000). @default {2000}
   */
  shrinkAfterMs?: number;
  /** Only these contender ids. @default {all} */
  contenders?: string[];
  log?: (line: string) => void;
}

/** The options with their defaults filled in, plus the calibration. */
export interface AdaptiveConfig {
  quick: boolean;
  rounds: number;
  burstSeconds: number;
  steadySeconds: number;
  idleSeconds: number;
  connections: number;
  /** The adaptive contender's `shrinkAfter`, ms (benchmark only). */
  shrinkAfterMs: number;
  /** Its `growAfter`, ms: left at serve()'s default. */
  growAfterMs: number;
  /** How often the server's stats were read during the burst, ms. */
  pollMs: number;
  /** spin() iterations of one /cpu request, and what they took here, ms. */
  cpuIters: number;
  cpuMs: number;
  cores: number;
}

/** serve()'s `workers` option as the server process takes it. */
export type WorkersSpec =
  | number
  | { min: number; max: number; growAfter?: number; shrinkAfter?: number };

/** One server to measure. */
export interface AdaptiveContender {
  id: string;
  label: string;
  /** Its `workers` option, given the run's config. */
  workers(config: AdaptiveConfig): WorkersSpec;
}

/** One read of the server's stats (dashboard `stats.json`). */
export interface Sample {
  /** ms since the burst started (wrk was launched), by the server's clock. */
  t: number;
  /** Requests the workers answered since the server started. */
  completed: number;
  /** Workers ready and not retiring. */
  running: number;
  /** Workers loading the handler. */
  starting: number;
  /** Workers retiring (shrunk away). */
  retiring: number;
  /** Requests waiting for a worker. */
  queued: number;
}

/** The burst of one run. */
export interface BurstFigures {
  /** Requests wrk completed, and its error count (socket + non-2xx). */
  requests: number;
  errors: number;
  /** req/s over the whole burst (wrk's own count and duration). */
  rps: number;
  /** req/s over its last `steadySeconds`, from the server's counter. */
  steadyRps: number;
  /** wrk's latency over the whole burst, ms. */
  p50Ms: number;
  p99Ms: number;
  /** Most workers running at once during the burst. */
  peakWorkers: number;
  /** ms from the burst's start until n workers ran, keyed by n (null: never). */
  toWorkersMs: Record<string, number | null>;
  /** The stats read during the burst (for the timeline). */
  samples: Sample[];
}

/** After the burst: the pool shrinking back (adaptive) or just idling. */
export interface AfterFigures {
  /** ms from the burst's end until the pool was back at its minimum. */
  toMinMs: number | null;
  /** Tree RSS once back at the minimum (or after the same idle), MiB. */
  rssMiB: number;
  /** Workers running when that RSS was read. */
  workers: number;
  /** Tree RSS right after the burst, MiB. */
  burstEndRssMiB: number;
}

/** One contender in one round. */
export interface AdaptiveRun {
  contender: string;
  round: number;
  /** Why the run has no figures. */
  error?: string;
  idle?: { rssMiB: number; workers: number };
  burst?: BurstFigures;
  after?: AfterFigures;
}

/** Median and range over the rounds. */
export interface Range {
  median: number;
  min: number;
  max: number;
}

/** One contender's figures over the rounds. */
export interface ContenderSummary {
  contender: string;
  label: string;
  rounds: number;
  idleRssMiB: Range;
  idleWorkers: Range;
  rps: Range;
  steadyRps: Range;
  p99Ms: Range;
  errors: number;
  requests: number;
  peakWorkers: Range;
  afterRssMiB: Range;
  afterWorkers: Range;
}

/** How the adaptive pool grew and shrank, and how it compares with fixed 4. */
export interface GrowthSummary {
  /** ms from the burst's start until n workers ran, keyed by n. */
  toWorkersMs: Record<string, Range>;
  /** ms until its req/s over 0.5 s reached 90% of fixed 4's steady req/s. */
  to90PctMs: Range;
  /** ms from the burst's end until it was back at `min`. */
  toMinMs: Range;
  /** Adaptive / fixed 4 within each round. */
  idleRssRatio: Range;
  steadyRpsRatio: Range;
  rpsRatio: Range;
  afterRssRatio: Range;
}

/** Everything one benchmark run produced. */
export interface AdaptiveResult {
  config: AdaptiveConfig;
  runs: AdaptiveRun[];
  contenders: ContenderSummary[];
  /** Missing when the adaptive or the fixed-4 contender did not run. */
  growth?: GrowthSummary;
}
