/**
 * Adaptive pool size (issue 11, section 3): does an idle server at `min`
 * use less memory, and does a burst reach `max` throughput, and how fast?
 *
 * Three pools, each a server process of its own on 127.0.0.1 serving
 * `bench/handlers/handler.ts` with the dashboard on (for its stats):
 * adaptive `workers: { min: 1, max: 4 }`, fixed 4 (the default) and fixed 1.
 * For each, every round:
 *
 * 1. start it, warm it (`/hello`, `/cpu`), leave it idle, read its
 *    process-tree RSS;
 * 2. the burst: wrk, closed loop, on `/cpu` (~2 ms of work, calibrated
 *    here) while `stats.json` is polled: whole-burst and steady req/s, and
 *    for the adaptive pool when it ran 2, 3, 4 workers and when its
 *    throughput reached 90% of fixed 4's (same round);
 * 3. after it: the adaptive pool shrinking back to 1 (with a short
 *    `shrinkAfter`, for the benchmark only) and the RSS then.
 *
 * Run:
 * ```sh
 * deno task bench:adaptive [--quick] [--rounds 3] [--burst-seconds 8]
 *   [--steady-seconds 3] [--idle-seconds 3] [--connections 16]
 *   [--shrink-after 2000] [--contenders adaptive-1-4,fixed-4,fixed-1]
 * ```
 * It prints the markdown section, then the result as one JSON line.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { calibrate } from "./http.ts";
import { ensureWrk } from "./_wrk.ts";
import { ADAPTIVE_CONTENDERS } from "./adaptive/contenders.ts";
import { runOne } from "./adaptive/run_one.ts";
import { renderAdaptive } from "./adaptive/render.ts";
import { growth, summarise } from "./adaptive/summary.ts";
import type {
  AdaptiveConfig,
  AdaptiveOptions,
  AdaptiveResult,
  AdaptiveRun,
} from "./adaptive/types.ts";

export { ADAPTIVE_CONTENDERS } from "./adaptive/contenders.ts";
export { ADAPTIVE_TABLE_HEADER } from "./adaptive/render.ts";
export { renderAdaptive };
export type {
  AdaptiveOptions,
  AdaptiveResult,
  AdaptiveRun,
  ContenderSummary,
  GrowthSummary,
} from "./adaptive/types.ts";

function positive(name: string, value: number, min = 1): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(
      `Cannot run the adaptive benchmark as '${name}' must be an integer >= ${min}: received ${value}`,
    );
  }
  return value;
}

/** `options` with every default filled in (quick mode has its own). */
function adaptiveConfig(options: AdaptiveOptions): AdaptiveConfig {
  const quick = options.quick ?? false;
  const burstSeconds = positive(
    "burstSeconds",
    options.burstSeconds ?? (quick ? 2 : 8),
  );
  const steadySeconds = positive(
    "steadySeconds",
    options.steadySeconds ?? (quick ? 1 : 3),
  );
  if (steadySeconds >= burstSeconds) {
    throw new RangeError(
      `Cannot run the adaptive benchmark as 'steadySeconds' must be below 'burstSeconds' (${burstSeconds}): received ${steadySeconds}`,
    );
  }
  const cal = calibrate();
  return {
    quick,
    rounds: positive("rounds", options.rounds ?? (quick ? 1 : 3)),
    burstSeconds,
    steadySeconds,
    idleSeconds: positive(
      "idleSeconds",
      options.idleSeconds ?? (quick ? 1 : 3),
      0,
    ),
    connections: positive("connections", options.connections ?? 16),
    shrinkAfterMs: positive(
      "shrinkAfterMs",
      options.shrinkAfterMs ?? (quick ? 500 : 2000),
      0,
    ),
    growAfterMs: 100,
    pollMs: 50,
    cpuIters: cal.cpuIters,
    cpuMs: cal.cpuMs,
    cores: navigator.hardwareConcurrency,
  };
}

/**
 * Runs the adaptive-pool benchmark.
 *
 * @param options Durations, rounds and contenders; `quick` is one short round.
 * @returns Every run, each pool's figures and the adaptive pool against fixed 4.
 * @throws {RangeError} If a duration or count is not a positive integer.
 */
export async function benchAdaptive(
  options: AdaptiveOptions = {},
): Promise<AdaptiveResult> {
  const log = options.log ?? ((line: string) => console.error(line));
  const known = ADAPTIVE_CONTENDERS.map((c) => c.id);
  const unknown = options.contenders?.find((id) => !known.includes(id));
  if (unknown !== undefined) {
    throw new RangeError(
      `Cannot run the adaptive benchmark as '${unknown}' is not a contender (${
        known.join(", ")
      }): received ${unknown}`,
    );
  }
  const config = adaptiveConfig(options);
  await ensureWrk();
  const contenders = ADAPTIVE_CONTENDERS.filter((c) =>
    options.contenders === undefined || options.contenders.includes(c.id)
  );
  const runs: AdaptiveRun[] = [];
  for (let round = 0; round < config.rounds; round++) {
    log(`adaptive round ${round + 1}/${config.rounds}`);
    // Rotated, so no pool always runs first (or last) on a busy machine.
    const order = contenders.map((_, i) =>
      contenders[(i + round) % contenders.length]!
    );
    for (const contender of order) {
      runs.push(await runOne(contender, round, config, log));
    }
  }
  return {
    config,
    runs,
    contenders: contenders.map((c) => summarise(c, runs)),
    growth: growth(runs),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      rounds: { type: "string" },
      "burst-seconds": { type: "string" },
      "steady-seconds": { type: "string" },
      "idle-seconds": { type: "string" },
      connections: { type: "string" },
      "shrink-after": { type: "string" },
      contenders: { type: "string" },
    },
  });
  const number = (v: string | undefined) =>
    v === undefined ? undefined : Number(v);
  const result = await benchAdaptive({
    quick: values.quick,
    rounds: number(values.rounds),
    burstSeconds: number(values["burst-seconds"]),
    steadySeconds: number(values["steady-seconds"]),
    idleSeconds: number(values["idle-seconds"]),
    connections: number(values.connections),
    shrinkAfterMs: number(values["shrink-after"]),
    contenders: values.contenders?.split(","),
  });
  console.log(renderAdaptive(result));
  console.log(JSON.stringify(result));
}
