/**
 * The shapes of the WebSocket benchmark's options and results.
 *
 * @module
 */

/** Which traffic a measurement sends. */
export type WsShapeId = "small" | "64k" | "small-work";

/** One message shape: what each closed loop sends, and what the handler does. */
export interface WsShape {
  id: WsShapeId;
  label: string;
  kind: "text" | "binary";
  bytes: number;
  /** Whether the handler burns ~1 ms of CPU per message first. */
  work: boolean;
}

/** What the echo client saw in one measured window. */
export interface WsFigures {
  /** Echoes that arrived in the window, per second. */
  messagesPerS: number;
  /** Echoes that arrived in the window. */
  echoed: number;
  /** Length of the window (shorter than asked when `maxMessages` ended it). */
  seconds: number;
  /** Round trips of the messages sent in the window, ms. */
  rttMs: { p50: number | null; p99: number | null; max: number | null };
  /** Fewest and most echoes one socket got in the window (fairness). */
  perSocket: { min: number; max: number };
  /** Sockets that opened. */
  opened: number;
  /** Sum of the failure counts below. */
  failures: number;
  openFailed: number;
  /** Echoes whose type, length or bytes differed from what was sent. */
  mismatched: number;
  /** Sockets whose last message was still unanswered after the drain. */
  unanswered: number;
  /** Sockets the server closed before the client did. */
  closedEarly: number;
  /** Error events on the client's sockets. */
  errors: number;
  /** CPU the client process used during the window, in cores. */
  clientCpuCores: number;
  /** CPU the whole server process tree used during the window, in cores. */
  serverCpuCores: number;
}

/** One contender, one shape, one round. */
export interface WsRun {
  contender: string;
  label: string;
  round: number;
  shape: WsShapeId;
  figures?: WsFigures;
  error?: string;
}

/** The medians over rounds of one contender on one shape. */
export interface WsSummary {
  contender: string;
  shape: WsShapeId;
  rounds: number;
  messagesPerS: number;
  rttP50Ms: number;
  rttP99Ms: number;
  /** messages/s over single `deno serve`'s on the same shape (median of per-round ratios). */
  vsSingle: number;
  /** Failures summed over rounds (runs that errored count one each). */
  failures: number;
}

/** One of issue 9's goals, checked against the summary. */
export interface WsGoal {
  shape: WsShapeId;
  contender: string;
  /** The ratio over single `deno serve` the goal asks for (at least). */
  atLeast: number;
  ratio: number;
  met: boolean;
}

/** Everything `benchWs` measured. */
export interface WsBenchResult {
  config: {
    sockets: number;
    seconds: number;
    warmupSeconds: number;
    /** Echoes after which a window ends early. */
    maxMessages: number;
    rounds: number;
    shapes: WsShape[];
    /** Iterations of the integer loop for ~1 ms here, and what they took. */
    workIters: number;
    workMs: number;
    cores: number;
  };
  contenders: { id: string; label: string }[];
  runs: WsRun[];
  summary: WsSummary[];
  goals: WsGoal[];
}

/** Options of `benchWs`. */
export interface WsBenchOptions {
  /** One short round (2 s windows). @default {false} */
  quick?: boolean;
  /** Concurrent sockets, each a closed loop. @default {100} */
  sockets?: number;
  /** Seconds per measured window. @default {5 (2 when quick)} */
  seconds?: number;
  /** Seconds of echo traffic before each window. @default {1 (0.5 when quick)} */
  warmupSeconds?: number;
  /** Echoes after which a window ends early. @default {10_000_000} */
  maxMessages?: number;
  /** Rounds; the contenders' order rotates each round. @default {2 (1 when quick)} */
  rounds?: number;
  /** Shape ids to run. @default {all} */
  shapes?: string[];
  /** Contender ids to run. @default {all} */
  contenders?: string[];
  /** Where progress lines go. @default {console.error} */
  log?: (line: string) => void;
}
