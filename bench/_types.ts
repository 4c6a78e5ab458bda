// The shapes of the HTTP harness's data: contenders, workloads, options, one
// run's record and a whole result. Types only, so every part of the harness
// (and the reports) can share them without importing each other.
import type { ProfileEntry, ProfilePhase } from "./_profile.ts";
import type { Spread } from "./_stats.ts";

/**
 * Which server a workload needs the contenders to run: the bench routes
 * (`handlers/handler.ts`), the same routes with HTTP/2 over cleartext on the
 * same port, or the server-side rendering app (`handlers/ssr.ts`, with
 * ringpool's `static` option for its file).
 */
export type ServerKind = "bench" | "h2" | "ssr";

/** How to start a process. */
export interface CommandLine {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
}

/** What a contender is started for, beyond the kind of server. */
export interface StartOptions {
  /** ringpool's `maxBodySize` (the RSS test streams 100 MiB). */
  maxBodySize?: number;
}

/** A server under test. */
export interface Contender {
  id: string;
  label: string;
  /** Threads or processes that run the handler. */
  workers: number;
  /** True when `serve()` from ringpool runs it. */
  ringpool: boolean;
  command(port: number, kind: ServerKind, options?: StartOptions): CommandLine;
  /** Work before a start for `kind` (installing a dependency). */
  prepare?(kind: ServerKind): Promise<void>;
}

/** A load pattern. */
export interface Workload {
  id: string;
  label: string;
  /**
   * "throughput": wrk, req/s, higher is better; "latency": /fast p99 ms,
   * lower is better.
   */
  kind: "throughput" | "latency";
  /** The server the contenders run for it. @default {"bench"} */
  server?: ServerKind;
  /** Only these contenders run it. @default {all} */
  contenders?: string[];
  /** The id of the floor this shape's /fast p99 is compared with. */
  floor?: string;
  /** Set on a floor: the id of the shape whose floor it measures. */
  floorOf?: string;
  /** Where slow and fast share connections (goal ≤ 0.5× --parallel). */
  sharedConnections?: boolean;
  /** Run only when named in `workloads` (a diagnostic). */
  optIn?: boolean;
  /** One or two sentences for the report: what the driver does. */
  method?: string;
}

/** Iteration counts of the calibrated integer loop. */
export interface Calibration {
  itersPerMs: number;
  cpuIters: number;
  fastIters: number;
  slowIters: number;
  cpuMs: number;
}

/** Options of `runHttpBench`. */
export interface HttpBenchOptions {
  /** Contender ids to run. @default {all} */
  contenders?: string[];
  /** Workload ids to run. @default {all but the opt-in diagnostics} */
  workloads?: string[];
  /** Rounds; each runs every contender once, in rotated order. @default {3} */
  rounds?: number;
  /** Seconds per wrk run. @default {2} */
  durationS?: number;
  /**
   * Seconds of unmeasured load over the server's routes after it starts,
   * before its first workload: every isolate compiles the code it runs, so
   * a pool of N workers compiles it N times. @default {6}
   */
  settleS?: number;
  /** Seconds of unmeasured load on the same path before each wrk run. @default {1} */
  warmS?: number;
  /** Seconds of load in each skew shape and floor. @default {4} */
  skewedS?: number;
  /** Requests per second sent to /fast in the open-loop shapes and h2. @default {2000} */
  fastRate?: number;
  /** Requests per second sent to /slow in the skewed mix. @default {10} */
  slowRate?: number;
  /** wrk connections for the throughput workloads. @default {32} */
  connections?: number;
  /** Run the 100 MiB upload/download RSS test. @default {true} */
  rss?: boolean;
  /** Seconds the rounds should fit in: a round is not started if it would end later. @default {480} */
  budgetS?: number;
  /** Profile ringpool's main thread (V8 sampling profiler over the inspector). @default {true} */
  profile?: boolean;
  /** Install wrk and h2load with apt-get when missing; false fails with a message instead. @default {true} */
  installWrk?: boolean;
  /** Progress lines. @default {console.error} */
  log?: (line: string) => void;
}

/** The options every workload sees, with defaults filled in. */
export type HttpBenchConfig = Required<
  Omit<HttpBenchOptions, "log" | "installWrk">
>;

/** Latency percentiles of one route, ms. */
export interface Percentiles {
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** One measurement: one contender, one workload, one round. */
export interface RunRecord {
  round: number;
  contender: string;
  workload: string;
  /** Successful (2xx/3xx) responses per second; for the skew shapes, successful /fast responses per second. */
  rps: number;
  /** Response MiB per second. */
  mibps?: number;
  /** Socket errors plus non-2xx responses. */
  errors: number;
  /** wrk's error counters that were not zero (connect, read, write, status = non-2xx, timeout). */
  errorKinds?: Record<string, number>;
  /** Main-thread CPU time per request, µs. */
  mainCpuUs: number;
  /** CPU time of the whole process tree per request, µs. */
  totalCpuUs: number;
  /** Time the main thread spent runnable but waiting for a core, µs per request. */
  mainWaitUs?: number;
  /** Per-thread-name CPU µs per request (ringpool only). */
  threads?: Record<string, number>;
  /** Share of the machine's CPU time the hypervisor gave to other guests during the run, percent. */
  stealPercent?: number;
  /** Measured a second time because the first run's steal was above STEAL_LIMIT_PERCENT; the run with less steal is kept. */
  remeasured?: boolean;
  /**
   * /fast latency, ms: from each request's intended send time (open loop),
   * or from its actual send (wrk, h2load). `serviceP50` is from the send.
   */
  fast?: Percentiles & { serviceP50?: number };
  /** /slow (or /wait) latency, ms. */
  slow?: { p50: number; p99: number };
  /** Latency of every request of a closed-loop throughput run (wrk), ms. */
  latency?: Percentiles;
  /** The driver's own lateness against its schedule, ms. */
  timerLag?: { p50: number; p99: number };
  /** Requests the driver could not complete (errors, unanswered). */
  failed?: number;
  /** `failed` by cause: socket errors, non-2xx answers, no answer by the end. */
  failedKinds?: { socket: number; non2xx: number; unanswered: number };
  /** A floor's burner: slow jobs scheduled and done, and how late they started. */
  burner?: {
    jobs: number;
    done: number;
    elapsedMs: number;
    startLateP99Ms: number;
  };
}

/** A run's figures, before the harness adds where and when. */
export type Figures = Omit<RunRecord, "round" | "contender" | "workload">;

/** Per workload, per contender: the figure across rounds and the per-round ratio to deno-single. */
export interface SummaryCell {
  value: Spread;
  ratio: Spread;
  p50?: Spread;
  p999?: Spread;
  mainCpuUs: Spread;
  totalCpuUs: Spread;
}

/** A V8 CPU profile of a contender's main thread under one workload. */
export interface ProfileResult {
  contender: string;
  workload: string;
  entries: ProfileEntry[];
  /** Busy time by phase of a request (absent in older results). */
  phases?: ProfilePhase[];
  /** Requests served while the profiler ran. */
  requests?: number;
  error?: string;
}

/** Memory through one server while 100 MiB go up and then down. */
export interface RssResult {
  contender: string;
  available: boolean;
  reason?: string;
  idleMiB?: number;
  uploadGrowthMiB?: number;
  downloadGrowthMiB?: number;
  uploadOk?: boolean;
  downloadOk?: boolean;
  /** How the peak was read: the kernel's VmHWM (reset first) or sampling. */
  method?: string;
}

/** Everything one run of the harness measured. */
export interface HttpBenchResult {
  config: HttpBenchConfig;
  calibration: Calibration;
  contenders: {
    id: string;
    label: string;
    workers: number;
    available: boolean;
    reason?: string;
    idleRss: Spread;
  }[];
  workloads: Workload[];
  runs: RunRecord[];
  /** Workload runs that threw (server crashed, driver failed, ...). */
  failures: {
    round: number;
    contender: string;
    workload: string;
    error: string;
  }[];
  summary: Record<string, Record<string, SummaryCell>>;
  rss: RssResult[];
  /** Where ringpool's main thread spends its time, per profiled workload. */
  profiles: ProfileResult[];
  roundsRun: number;
  elapsedS: number;
}
