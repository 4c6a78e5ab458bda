// What every workload runner gets: the contender and its running process,
// the calibration and the run's options.
import type { Running } from "../_server.ts";
import type { Calibration, Contender, HttpBenchConfig } from "../_types.ts";

/** The context of one workload run. */
export interface WorkloadContext {
  contender: Contender;
  running: Running;
  cal: Calibration;
  config: HttpBenchConfig;
  /** May install missing load generators (h2load) with apt-get. */
  install: boolean;
}

/** The contender every floor runs on: ringpool as a new user gets it. */
export const FLOOR_CONTENDER = "ringpool-default";

/** The contenders issue 12 names for the skew shapes. */
export const SKEW_CONTENDERS: string[] = [
  "deno-single",
  "deno-parallel",
  "node-cluster",
  FLOOR_CONTENDER,
];

/** ms, rounded to µs. */
export const ms = (x: number): number => Math.round(x * 1000) / 1000;
