/**
 * WebSocket echo (issue 9): messages per second and round trips over 100
 * sockets against ringpool's `serve()` with its default settings, single
 * `deno serve` and `deno serve --parallel`, all serving
 * `bench/handlers/ws_echo.ts`.
 *
 * For each round, for each contender (the order rotates per round, so drift
 * on a shared machine hits them all alike): start the server, then for each
 * shape — 32 B text, 64 KiB binary, 32 B text with ~1 ms of handler CPU per
 * message — run the echo client (`bench/ws/client.mjs`, Node with the npm
 * `ws` package, in its own process): every socket a closed loop, a warm-up,
 * then a measured window bounded by time and by a message count. Every echo
 * is checked byte for byte; mismatches, unanswered messages, sockets the
 * server closed and socket errors count as failures.
 *
 * Goals: ringpool's small-message throughput ≥ 0.5× single `deno serve`'s
 * (main relays every frame) and, with ~1 ms of work per message, ≥ 1.8×.
 *
 * Run:
 * ```sh
 * deno task bench:ws [--quick] [--sockets 100] [--seconds 5] [--warmup 1]
 *                    [--rounds 2] [--max-messages 10000000]
 *                    [--shapes small,64k,small-work]
 *                    [--contenders ringpool,deno-single,deno-parallel] [--json]
 * ```
 * Markdown goes to stdout (`--json`: the result as JSON instead), progress
 * to stderr.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { spin } from "./handlers/work.mjs";
import { calibrate } from "./http.ts";
import { freePort, ServerProcess, waitForOk } from "./_proc.ts";
import { WS_CONTENDERS, WS_SHAPES, type WsContender } from "./ws/contenders.ts";
import { ensureWsClientDeps } from "./ws/deps.ts";
import { runClient } from "./ws/driver.ts";
import { renderWs } from "./ws/render.ts";
import { checkGoals, summarize } from "./ws/summary.ts";
import type {
  WsBenchOptions,
  WsBenchResult,
  WsRun,
  WsShape,
} from "./ws/types.ts";

export type * from "./ws/types.ts";
export { renderWs };

const DENO = Deno.execPath();

/** Polls `GET /` until 5 answers in a row are 200 (bounded). */
function waitReady(port: number, gone: Promise<unknown>): Promise<void> {
  return waitForOk(`http://127.0.0.1:${port}/`, port, gone, 5);
}

const message = (error: unknown) =>
  error instanceof Error ? error.message : String(error);

/** One contender in one round: one server, every shape against it. */
async function runContender(
  contender: WsContender,
  round: number,
  config: WsBenchResult["config"],
  modulesDir: string,
  log: (line: string) => void,
): Promise<WsRun[]> {
  const port = freePort();
  const { args, env } = contender.command(port);
  const server = new ServerProcess(DENO, args, env);
  const runs: WsRun[] = [];
  const base = { contender: contender.id, label: contender.label, round };
  const serverDetail = () => {
    const tail = server.stderr.trim().split("\n").slice(-3).join(" | ");
    return tail === "" ? "" : ` (server: ${tail})`;
  };
  try {
    await waitReady(port, server.exited);
  } catch (error) {
    await server.stop();
    const text = `${message(error)}${serverDetail()}`;
    log(`  ${contender.id}: failed to start: ${text}`);
    return config.shapes.map((s) => ({ ...base, shape: s.id, error: text }));
  }
  try {
    for (const shape of config.shapes) {
      const query = shape.work ? `?n=${config.workIters}` : "";
      try {
        const figures = await runClient({
          url: `ws://127.0.0.1:${port}/echo${query}`,
          modulesDir,
          sockets: config.sockets,
          shape,
          warmupMs: config.warmupSeconds * 1000,
          seconds: config.seconds,
          maxMessages: config.maxMessages,
        }, server.pid);
        runs.push({ ...base, shape: shape.id, figures });
        log(
          `  ${contender.id} ${shape.id}: ${figures.messagesPerS} msg/s, p99 ${figures.rttMs.p99} ms, ${figures.failures} failures`,
        );
      } catch (error) {
        const text = `${message(error)}${serverDetail()}`;
        runs.push({ ...base, shape: shape.id, error: text });
        log(`  ${contender.id} ${shape.id}: failed: ${text}`);
      }
    }
  } finally {
    await server.stop();
  }
  return runs;
}

function positive(name: string, value: number, integer: boolean): number {
  if (!(value > 0) || (integer && !Number.isInteger(value))) {
    throw new RangeError(
      `Cannot run the WebSocket benchmark as '${name}' must be a positive ${
        integer ? "integer" : "number"
      }: received ${value}`,
    );
  }
  return value;
}

function pick<T extends { id: string }>(
  all: T[],
  ids: string[] | undefined,
  what: string,
): T[] {
  if (ids === undefined) return all;
  const unknown = ids.filter((id) => !all.some((x) => x.id === id));
  if (unknown.length > 0 || ids.length === 0) {
    throw new RangeError(
      `Cannot run the WebSocket benchmark as '${what}' must name some of ${
        all.map((x) => x.id).join(", ")
      }: received ${ids.join(",") || "none"}`,
    );
  }
  return all.filter((x) => ids.includes(x.id));
}

/** Iterations of the integer loop for ~1 ms in this V8, and what they take. */
function calibrateWork(): { workIters: number; workMs: number } {
  const workIters = Math.round(calibrate().itersPerMs);
  const t = performance.now();
  for (let i = 0; i < 10; i++) spin(workIters);
  const workMs = Math.round((performance.now() - t) / 10 * 1000) / 1000;
  return { workIters, workMs };
}

/**
 * Runs the WebSocket echo benchmark.
 *
 * @param options Sizes, durations, shapes and contenders; `quick` is one
 *   short round.
 * @returns Every run, the medians per contender and shape, and the goals.
 * @throws {RangeError} For a non-positive size or duration, or an unknown
 *   shape or contender id.
 * @throws {Error} When the client's `ws` package cannot be installed.
 */
export async function benchWs(
  options: WsBenchOptions = {},
): Promise<WsBenchResult> {
  const quick = options.quick ?? false;
  const log = options.log ?? ((line: string) => console.error(line));
  const shapes: WsShape[] = pick(WS_SHAPES, options.shapes, "shapes");
  const contenders = pick(WS_CONTENDERS, options.contenders, "contenders");
  const config: WsBenchResult["config"] = {
    sockets: positive("sockets", options.sockets ?? 100, true),
    seconds: positive("seconds", options.seconds ?? (quick ? 2 : 5), false),
    warmupSeconds: positive(
      "warmupSeconds",
      options.warmupSeconds ?? (quick ? 0.5 : 1),
      false,
    ),
    maxMessages: positive("maxMessages", options.maxMessages ?? 1e7, true),
    rounds: positive("rounds", options.rounds ?? (quick ? 1 : 2), true),
    shapes,
    ...calibrateWork(),
    cores: navigator.hardwareConcurrency,
  };
  log(
    `ws: ~1 ms work = ${config.workIters} iterations (${config.workMs} ms here)`,
  );
  const modulesDir = await ensureWsClientDeps();
  const runs: WsRun[] = [];
  for (let round = 0; round < config.rounds; round++) {
    log(`ws round ${round + 1}/${config.rounds}`);
    for (let i = 0; i < contenders.length; i++) {
      const contender = contenders[(i + round) % contenders.length]!;
      runs.push(
        ...await runContender(contender, round, config, modulesDir, log),
      );
    }
  }
  const summary = summarize(
    runs,
    contenders.map((c) => c.id),
    shapes.map((s) => s.id),
  );
  return {
    config,
    contenders: contenders.map(({ id, label }) => ({ id, label })),
    runs,
    summary,
    goals: checkGoals(summary),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      sockets: { type: "string" },
      seconds: { type: "string" },
      warmup: { type: "string" },
      rounds: { type: "string" },
      "max-messages": { type: "string" },
      shapes: { type: "string" },
      contenders: { type: "string" },
    },
  });
  const number = (v: string | undefined) =>
    v === undefined ? undefined : Number(v);
  const result = await benchWs({
    quick: values.quick,
    sockets: number(values.sockets),
    seconds: number(values.seconds),
    warmupSeconds: number(values.warmup),
    rounds: number(values.rounds),
    maxMessages: number(values["max-messages"]),
    shapes: values.shapes?.split(","),
    contenders: values.contenders?.split(","),
  });
  console.log(values.json ? JSON.stringify(result) : renderWs(result));
}
