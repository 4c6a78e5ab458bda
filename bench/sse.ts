/**
 * 1,000 server-sent-event subscribers (issue 10): does a server keep
 * answering short requests while many long-lived streams are open?
 *
 * For each contender — ringpool's `serve()` with its default settings
 * (cores + 1 workers × concurrency 16: 48 request slots on 2 cores), single-isolate
 * `deno serve` and `deno serve --parallel` (2 isolates), all serving
 * `bench/handlers/sse.ts` — the run:
 *
 * 1. starts the server and warms it up;
 * 2. measures `GET /` with the open-loop driver (`bench/_open_loop.mjs`) at a
 *    moderate fixed rate: the **idle** figure;
 * 3. opens the subscribers from a separate Node process (raw sockets: Deno's
 *    in-process fetch keeps aborted connections open), each holding
 *    `GET /events` open and receiving one event a second, and waits until
 *    every one has its first bytes;
 * 4. measures `GET /` the same way: the **loaded** figure; counts the events
 *    the subscribers received meanwhile (they must keep flowing) and, for
 *    ringpool, reads `stats()`: the streams hold no request slot;
 * 5. closes the subscribers and stops the server.
 *
 * The goal is ringpool's loaded `GET /` p99 within 2× its idle p99.
 *
 * Run:
 * ```sh
 * deno task bench:sse [--quick] [--subscribers 1000] [--rate 1000] [--seconds 10]
 *                     [--rounds 2] [--contenders ringpool,deno-single,deno-parallel]
 * ```
 * The subscribers need `ulimit -n` above their number (the server needs as
 * many descriptors too); the run checks and says so.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { SSE_CONTENDERS } from "./sse/contenders.ts";
import { openFilesLimit } from "./sse/probes.ts";
import { runOne } from "./sse/run_one.ts";
import { serveRingpool } from "./sse/server.ts";
import type {
  SseBenchOptions,
  SseBenchResult,
  SseConfig,
  SseRun,
} from "./sse/types.ts";

export { SSE_CONTENDERS } from "./sse/contenders.ts";
export { openFilesLimit } from "./sse/probes.ts";
export type {
  Latency,
  SseBenchOptions,
  SseBenchResult,
  SseRun,
  SubscriberFigures,
} from "./sse/types.ts";

/** `options` with every default filled in (quick mode has its own). */
function sseConfig(options: SseBenchOptions): SseConfig {
  const quick = options.quick ?? false;
  return {
    subscribers: options.subscribers ?? 1000,
    rate: options.rate ?? 1000,
    seconds: options.seconds ?? (quick ? 3 : 10),
    eventEveryMs: 1000,
    rampMs: options.rampMs ?? 1000,
    rounds: options.rounds ?? (quick ? 1 : 2),
    openFilesLimit: openFilesLimit(),
  };
}

/**
 * Runs the SSE benchmark.
 *
 * @param options Sizes and durations; `quick` is one short round.
 * @returns Every run, per contender and round.
 */
export async function benchSse(
  options: SseBenchOptions = {},
): Promise<SseBenchResult> {
  const log = options.log ?? ((line: string) => console.error(line));
  const config = sseConfig(options);
  // The subscriber process holds one descriptor per stream and the server
  // one per connection, plus the driver's and their own.
  const needed = config.subscribers + 256;
  if (config.openFilesLimit < needed) {
    throw new Error(
      `Cannot open ${config.subscribers} subscribers as the open-file limit is ${config.openFilesLimit}: run \`ulimit -n ${needed}\` (or more) first`,
    );
  }
  const contenders = SSE_CONTENDERS.filter((c) =>
    options.contenders === undefined || options.contenders.includes(c.id)
  );
  const runs: SseRun[] = [];
  for (let round = 0; round < config.rounds; round++) {
    log(`sse round ${round + 1}/${config.rounds}`);
    const order = contenders.map((_, i) =>
      contenders[(i + round) % contenders.length]!
    );
    for (const contender of order) {
      runs.push(await runOne(contender, round, config, log));
    }
  }
  return { config, runs };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      serve: { type: "string" },
      quick: { type: "boolean", default: false },
      subscribers: { type: "string" },
      rate: { type: "string" },
      seconds: { type: "string" },
      rounds: { type: "string" },
      "ramp-ms": { type: "string" },
      contenders: { type: "string" },
    },
    allowPositionals: true,
  });
  if (values.serve !== undefined) {
    await serveRingpool(Number(values.serve), Deno.args.at(-1)!);
  } else {
    const number = (v: string | undefined) =>
      v === undefined ? undefined : Number(v);
    const result = await benchSse({
      quick: values.quick,
      subscribers: number(values.subscribers),
      rate: number(values.rate),
      seconds: number(values.seconds),
      rounds: number(values.rounds),
      rampMs: number(values["ramp-ms"]),
      contenders: values.contenders?.split(","),
    });
    const { renderSse } = await import("./_report_extra.ts");
    console.log(renderSse(result));
    console.log(JSON.stringify(result));
  }
}
