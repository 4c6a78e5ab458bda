// The soak's vocabulary and settings: its routes and kinds of kill, the
// options `runSoak` takes and the settings they resolve to, defaults in one
// place.

import { DEFAULT_THREADS } from "../_defaults.ts";

export const MiB = 1024 * 1024;
/** serve()'s default number of workers, which the soak's server keeps. */
export const WORKERS: number = DEFAULT_THREADS;

/** A route of `bench/handlers/soak.ts` the load clients request. */
export type Route = "small" | "64k" | "stream" | "echo";
/** A way of killing a worker: a `/kill/<kind>` route of the handler. */
export type KillKind = "exit" | "spin" | "heap" | "heap-async";

export const KILLS: KillKind[] = ["exit", "spin", "heap", "heap-async"];
// How each kind ends its request: exit and heap with 502 (the worker dies),
// spin with 504 (the timeout; then the terminate). heap-async, measured on
// Deno 2.9.6: usually 504 (V8 ends the runaway promise job and the worker
// serves on), sometimes 502 (it exits). A kill request can also fall victim
// to another kill (a worker may claim it between its handlers' promise jobs
// and then die): 502 or 504 is what every kill request must get.
export const EXPECTED_KILL_STATUS: Record<KillKind, number[]> = {
  exit: [502],
  spin: [504],
  heap: [502],
  "heap-async": [504, 502],
};

/** The default mix of routes, by share of requests. */
export const MIX: [Route, number][] = [
  ["small", 0.85],
  ["64k", 0.08],
  ["stream", 0.05],
  ["echo", 0.02],
];

/** Options of {@linkcode runSoak}. */
export interface SoakOptions {
  /** 20 s, no minimum request count. */
  quick?: boolean;
  /** Minimum length of the soak proper (after the warm-up). @default {300} */
  seconds?: number;
  /** Minimum requests in the soak proper. @default {1000000} */
  requests?: number;
  /** Stop at this many seconds even if `requests` was not reached. @default {900} */
  maxSeconds?: number;
  /** Closed-loop clients. @default {32} */
  connections?: number;
  /** A kill starts this often. @default {3000} */
  killEveryMs?: number;
  seed?: number;
  /** The ways of killing, in rotation. @default {["exit", "spin", "heap", "heap-async"]} */
  kinds?: KillKind[];
  /** Share of requests per route. @default {MIX} */
  mix?: Partial<Record<Route, number>>;
  log?: (line: string) => void;
}

/** The settings a soak ran with: the options resolved, and the server's. */
export type SoakConfig = Required<Omit<SoakOptions, "log" | "mix">> & {
  mix: Partial<Record<Route, number>>;
  warmupS: number;
  requestTimeout: number;
  heapMb: number;
  workers: number;
};

/** `options` with every default filled in (quick mode has its own). */
export function soakConfig(options: SoakOptions): SoakConfig {
  const quick = options.quick ?? false;
  return {
    quick,
    seconds: options.seconds ?? (quick ? 20 : 300),
    requests: options.requests ?? (quick ? 0 : 1_000_000),
    maxSeconds: options.maxSeconds ?? (quick ? 20 : 900),
    connections: options.connections ?? 32,
    killEveryMs: options.killEveryMs ?? (quick ? 2000 : 3000),
    seed: options.seed ?? Date.now() % 1_000_000,
    mix: options.mix ?? Object.fromEntries(MIX),
    kinds: options.kinds ?? KILLS,
    warmupS: quick ? 5 : 60,
    requestTimeout: 5000,
    heapMb: 64,
    workers: WORKERS,
  };
}
