/**
 * The soak with chaos (issue 10): ≥ 10^6 requests of mixed sizes over
 * ≥ 5 minutes against ringpool's `serve()` while a worker is killed every
 * few seconds, in rotating ways, through the kill routes of
 * `bench/handlers/soak.ts`: `process.exit()`, a busy loop that runs into
 * `requestTimeout` (main then terminates the worker), the `resourceLimits`
 * heap exhausted by synchronous code, and the heap exhausted after an
 * `await` (measured on Deno 2.9.6: answered 504 at the timeout; the worker
 * usually carries on, sometimes exits). `--kinds` picks the ways.
 *
 * Found with it on Deno 2.9.6: `worker.terminate()` of a worker in a busy
 * loop reports the exit but leaves the thread spinning (a Web Worker too),
 * so every busy-loop kill leaves a thread that burns a core; the "no worker
 * left behind" check counts those threads and their idle CPU.
 *
 * The server is ringpool with its default settings (cores + 1 workers ×
 * concurrency 16, and 1 spare) except: `resourceLimits: { maxOldGenerationSizeMb: 64 }` (so the heap
 * route can exhaust it), `requestTimeout: 5000` (so a busy worker is
 * recovered within seconds rather than 30 s; the soak still kills every few
 * seconds), and `metricsPath: "/metrics"` (its status counters are checked
 * against what the clients saw). It runs in its own process.
 *
 * The load runs in this process: `--connections` closed loops (32) with
 * `fetch`, each picking the next route from a seeded mix (85% `GET /small`,
 * 8% `GET /64k`, 5% `GET /stream` of 256 KiB, 2% `POST /echo` of 1 MiB) and
 * checking every body. Not wrk: to tell a victim of a kill from any other
 * failure the soak needs each failed request's send and answer times, which
 * wrk's Lua hooks cannot see. The killer is a separate loop here too.
 *
 * What it asserts (and reports):
 * - every load request answers 200 with the right body, except victims: a
 *   502, 504 or cut body that was in flight when a killed worker died (the
 *   kill request's answer, or for the busy and hanging kinds the terminate
 *   that follows it within the timeout's grace) — a 504 only after the full
 *   `requestTimeout`; any other failure is "unexplained" and fails the soak;
 * - the kill requests themselves answer 502 or 504 (how many answered as
 *   their kind predicts — exit and heap 502, spin 504 — is reported);
 * - the server's own 502/504 counters equal what the clients saw;
 * - RSS after the soak within 10% of RSS after the warm-up (both after 3 s
 *   without load);
 * - no worker left behind: `worker-N` threads and the metrics' workers equal
 *   the configured 4 (and the threads use no CPU without load), and SIGTERM
 *   ends the process within 20 s;
 * - full mode only: ≥ 10^6 requests and ≥ 5 minutes.
 *
 * Run:
 * ```sh
 * deno task bench:soak                  # ≥ 5 min and ≥ 10^6 requests (JSON on stdout)
 * deno task bench:soak --quick          # 20 s, for smoke purposes
 * deno task bench:soak --seconds 600 --requests 2000000 --connections 32 --kill-every 3000 --seed 7
 * deno task bench:soak --quick --kinds exit,heap --mix small=0.9,echo=0.1
 * ```
 * Exits 1 if a check fails.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  type KillKind,
  type Route,
  soakConfig,
  type SoakOptions,
} from "./soak/config.ts";
import { Killer } from "./soak/kills.ts";
import { Load } from "./soak/load.ts";
import {
  quietFigures,
  sigterm,
  type Soak,
  soakProper,
  startLine,
  warmUp,
} from "./soak/phases.ts";
import { waitReady } from "./soak/probes.ts";
import { serveSoak, startSoakServer } from "./soak/server.ts";
import { summarize } from "./soak/summary.ts";
import type { SoakResult } from "./soak/types.ts";

export { MIX, type SoakOptions } from "./soak/config.ts";
export type { KillRecord, SoakCheck, SoakResult } from "./soak/types.ts";

/**
 * Runs the soak against a fresh ringpool server process.
 *
 * @param options Durations and load; `quick` runs for 20 s.
 * @returns The figures and the checks (`passed` is false if any failed).
 */
export async function runSoak(options: SoakOptions = {}): Promise<SoakResult> {
  const config = soakConfig(options);
  const graceMs = Math.min(Math.max(config.requestTimeout / 2, 100), 1000);
  const server = startSoakServer(config);
  // A fetch that gets no answer at all is bounded by this.
  const fetchTimeout = config.requestTimeout + 10_000;
  const soak: Soak = {
    config,
    log: options.log ?? ((line: string) => console.error(line)),
    server,
    load: new Load(
      server.base,
      config.seed,
      fetchTimeout,
      (Object.entries(config.mix) as [Route, number][]).filter(([, w]) =>
        w > 0
      ),
    ),
    killer: new Killer(
      server.base,
      config.killEveryMs,
      fetchTimeout,
      config.kinds,
    ),
  };
  const { load, killer } = soak;
  try {
    await waitReady(server.base, server.port, server.process.exited);
    soak.log(startLine(config));
    const rssWarm = await warmUp(soak);
    const window = await soakProper(soak);
    const quiet = await quietFigures(soak);
    const exit = await sigterm(soak);
    return summarize({
      config,
      graceMs,
      load,
      kills: killer.kills,
      soakKills: killer.kills.slice(window.killsBefore),
      soakStart: window.start,
      soakEnd: window.end,
      rssWarm,
      ...quiet,
      exit,
    });
  } finally {
    load.close();
    killer.close();
    await server.process.stop();
  }
}

/** `--mix small=0.9,echo=0.1` as shares by route. */
function parseMix(mix: string): Partial<Record<Route, number>> {
  return Object.fromEntries(
    mix.split(",").map((part) => {
      const [route, share] = part.split("=");
      return [route, Number(share)];
    }),
  );
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      serve: { type: "string" },
      quick: { type: "boolean", default: false },
      seconds: { type: "string" },
      requests: { type: "string" },
      "max-seconds": { type: "string" },
      connections: { type: "string" },
      "kill-every": { type: "string" },
      seed: { type: "string" },
      kinds: { type: "string" },
      mix: { type: "string" },
    },
    allowPositionals: true,
  });
  if (values.serve !== undefined) {
    await serveSoak(
      Number(values.serve),
      Number(positionals[0]),
      Number(positionals[1]),
    );
  } else {
    const number = (v: string | undefined) =>
      v === undefined ? undefined : Number(v);
    const result = await runSoak({
      quick: values.quick,
      seconds: number(values.seconds),
      requests: number(values.requests),
      maxSeconds: number(values["max-seconds"]),
      connections: number(values.connections),
      killEveryMs: number(values["kill-every"]),
      seed: number(values.seed),
      kinds: values.kinds?.split(",") as KillKind[] | undefined,
      mix: values.mix === undefined ? undefined : parseMix(values.mix),
    });
    const { renderSoak } = await import("./_report_extra.ts");
    console.error(renderSoak(result));
    console.log(JSON.stringify(result, null, 2));
    Deno.exit(result.passed ? 0 : 1);
  }
}
