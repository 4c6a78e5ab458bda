// What the SSE benchmark measures and returns (bench/_report_extra.ts
// renders it), and the options benchSse takes.

/** What one latency measurement found (ms, from the intended send time). */
export interface Latency {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** Requests answered 2xx. */
  completed: number;
  /** Socket errors, non-2xx answers and requests unanswered at the end. */
  failed: number;
  /** The driver's own timer lateness, p99 ms. */
  timerLagP99: number;
}

/** What the subscriber process saw. */
export interface SubscriberFigures {
  /** Streams that answered 200 and sent their first comment. */
  subscribed: number;
  /** Streams that did not (refused, error, wrong status, timeout). */
  failed: number;
  /** Streams the server ended while they should have stayed open. */
  ended: number;
  /** Milliseconds until every subscriber had its first bytes. */
  connectMs: number;
  /** Events received per second during the loaded measurement. */
  eventsPerS: number;
  /** What one event per subscriber per interval would give. */
  expectedPerS: number;
}

/** One contender in one round. */
export interface SseRun {
  contender: string;
  label: string;
  round: number;
  idle: Latency;
  loaded?: Latency;
  subscribers?: SubscriberFigures;
  /** Whole process tree, MiB: before the subscribers and with them. */
  rssIdleMiB: number;
  rssLoadedMiB?: number;
  /** ringpool only: stats() during the loaded run, summed over workers. */
  ringpool?: { inFlight: number; streams: number; workers: number };
  error?: string;
}

/** Everything `benchSse` measured. */
export interface SseBenchResult {
  config: {
    subscribers: number;
    rate: number;
    seconds: number;
    eventEveryMs: number;
    /** Subscribers are opened over this long (one event interval unless set). */
    rampMs: number;
    rounds: number;
    openFilesLimit: number;
  };
  runs: SseRun[];
}

export interface SseBenchOptions {
  quick?: boolean;
  subscribers?: number;
  /** `GET /` requests per second during each measurement. */
  rate?: number;
  /** Seconds per measurement. */
  seconds?: number;
  rounds?: number;
  /** Milliseconds over which the subscribers are opened (default 1000). */
  rampMs?: number;
  contenders?: string[];
  log?: (line: string) => void;
}

/** The settings a benchmark ran with. */
export type SseConfig = SseBenchResult["config"];
