// One latency measurement: `GET /` at a fixed rate through the open-loop
// driver (bench/_open_loop.mjs, a Node process).
import { outputWithin } from "../_proc.ts";
import type { Latency } from "./types.ts";

const DRIVER = new URL("../_open_loop.mjs", import.meta.url).pathname;

/** `GET /` at `rate` for `seconds` through the open-loop driver. */
export async function openLoop(
  port: number,
  rate: number,
  seconds: number,
): Promise<Latency> {
  const config = {
    port,
    durationMs: seconds * 1000,
    drainMs: 2000,
    streams: [{ name: "root", path: "/", rate, maxConns: 64, preconnect: 8 }],
  };
  const child = new Deno.Command("node", {
    args: [DRIVER, JSON.stringify(config)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = await outputWithin(child, (seconds + 20) * 1000);
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || text === "") {
    throw new Error(
      `open-loop driver failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const root = JSON.parse(text).streams.root;
  return {
    p50: root.latencyMs.p50,
    p99: root.latencyMs.p99,
    p999: root.latencyMs.p999,
    max: root.latencyMs.max,
    completed: root.completed,
    failed: root.errors + root.non2xx + root.unfinished,
    timerLagP99: root.timerLagMs.p99,
  };
}
