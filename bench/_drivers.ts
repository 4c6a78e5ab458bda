// The load processes beside wrk: the open-loop driver (_open_loop.mjs, Node)
// and the floor's burner (_burn.ts), each started as a child with a
// deadline, so a stuck one can never hang the benchmark.
import { outputWithin } from "./_proc.ts";

const here = (path: string) => new URL(path, import.meta.url).pathname;
const decoder = new TextDecoder();

/** One stream of the open-loop driver's config (see _open_loop.mjs). */
export interface StreamSpec {
  name: string;
  path?: string;
  routes?: { name: string; path: string; weight: number }[];
  rate: number;
  burst?: number;
  maxConns?: number;
  preconnect?: number;
  pick?: "mru" | "lru" | "pinned";
}

/** What the driver reports for one route. */
export interface RouteResult {
  intended: number;
  sent: number;
  completed: number;
  errors: number;
  non2xx: number;
  unfinished: number;
  latencyMs: DriverSummary;
  serviceMs: DriverSummary;
  timerLagMs: DriverSummary;
}

/** A latency summary as the driver prints it (null: no values). */
export interface DriverSummary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** The driver's output. */
export interface OpenLoopResult {
  elapsedMs: number;
  streams: Record<string, RouteResult>;
}

/** Runs the open-loop driver to the end and returns its figures. */
export async function openLoop(config: {
  port: number;
  durationMs: number;
  drainMs?: number;
  streams: StreamSpec[];
}): Promise<OpenLoopResult> {
  const child = new Deno.Command("node", {
    args: [here("./_open_loop.mjs"), JSON.stringify(config)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const limitMs = config.durationMs + (config.drainMs ?? 2000) + 20_000;
  const out = await outputWithin(child, limitMs);
  const text = decoder.decode(out.stdout).trim();
  if (!out.success || text === "") {
    throw new Error(`open-loop driver failed: ${decoder.decode(out.stderr)}`);
  }
  return JSON.parse(text);
}

/** The slow CPU load of a floor (see _burn.ts). */
export interface BurnSpec {
  iters: number;
  rate: number;
  burst?: number;
  durationMs: number;
  threads: number;
}

/** What the burner reports. */
export interface BurnResult {
  jobs: number;
  done: number;
  elapsedMs: number;
  startLateP99Ms: number;
}

/**
 * Starts the burner and waits until its threads are up; `finished`
 * resolves with its report once its schedule has run.
 */
export async function startBurner(
  spec: BurnSpec,
): Promise<{ finished: Promise<BurnResult> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", here("./_burn.ts"), JSON.stringify(spec)],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  const killer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone.
    }
  }, spec.durationMs + 20_000);
  // Read until "ready", then the rest in the background.
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) {
      clearTimeout(killer);
      const status = await child.status;
      throw new Error(`burner exited (${status.code}) before it was ready`);
    }
    text += value;
  }
  const finished = (async () => {
    try {
      for (;;) {
        const { value, done } = await lines.read();
        if (done) break;
        text += value;
      }
      await child.status;
      const last = text.trim().split("\n").pop() ?? "";
      if (!last.startsWith("{")) throw new Error("burner printed no report");
      return JSON.parse(last) as BurnResult;
    } finally {
      clearTimeout(killer);
    }
  })();
  return { finished };
}
