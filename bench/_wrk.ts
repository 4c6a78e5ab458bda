// Runs wrk (closed loop, one thread) and reads its summary through a Lua
// `done` hook that prints one JSON line, instead of scraping the text report.

import { assertTool, ensureTool, outputWithin } from "./_proc.ts";

/** What to ask wrk to do. */
export interface WrkOptions {
  url: string;
  /** Open connections. */
  connections: number;
  /** Whole seconds (wrk does not take fractions). */
  durationS: number;
  method?: "GET" | "POST";
  /** Size of a generated request body ("x" bytes). */
  bodyBytes?: number;
  /** Send `Connection: close`: one TCP connection per request. */
  close?: boolean;
  /**
   * Request these paths in turn (one Lua state: one sequence shared by all
   * connections) instead of the URL's own path.
   */
  paths?: string[];
}

/** wrk's own counters for one run. */
export interface WrkResult {
  requests: number;
  durationUs: number;
  bytes: number;
  errors: {
    connect: number;
    read: number;
    write: number;
    status: number;
    timeout: number;
  };
  /** Requests per second (all requests, including error statuses). */
  rps: number;
  /**
   * wrk's latency distribution over every request, µs, measured from each
   * request's actual send (closed loop: a stall delays the next sends).
   */
  latency: { p50: number; p99: number; p999: number; max: number };
}

const REPORT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency":{"p50":%d,"p99":%d,"p999":%d,"max":%d}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    latency.max))
end
`;

let tmpDir: string | null = null;

function script(options: WrkOptions): string {
  const lines = [`wrk.method = "${options.method ?? "GET"}"`];
  if ((options.bodyBytes ?? 0) > 0) {
    lines.push(`wrk.body = string.rep("x", ${options.bodyBytes})`);
    lines.push(`wrk.headers["Content-Type"] = "application/octet-stream"`);
  }
  if (options.close) lines.push(`wrk.headers["Connection"] = "close"`);
  if (options.paths !== undefined && options.paths.length > 0) {
    // Requests built once, in init() (after wrk set the Host header);
    // request() hands them out in turn.
    lines.push(
      "local built = {}",
      "init = function(args)",
      ...options.paths.map((p, i) =>
        `  built[${i + 1}] = wrk.format(nil, ${JSON.stringify(p)})`
      ),
      "end",
      "local turn = 0",
      "request = function()",
      "  turn = turn % #built + 1",
      "  return built[turn]",
      "end",
    );
  }
  return lines.join("\n") + REPORT;
}

/** Fails with a clear message when wrk is not installed. */
export function assertWrk(): Promise<void> {
  return assertTool("wrk", "wrk");
}

/** Installs wrk with apt-get when it is missing (the bench needs it). */
export function ensureWrk(): Promise<void> {
  return ensureTool("wrk", "wrk");
}

/** Runs wrk once; killed if it overruns its duration by 15 s. */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  tmpDir ??= (() => {
    const dir = new URL("./.tmp/", import.meta.url);
    Deno.mkdirSync(dir, { recursive: true });
    return dir;
  })().pathname;
  const lua = `${tmpDir}wrk_${crypto.randomUUID()}.lua`;
  Deno.writeTextFileSync(lua, script(options));
  try {
    const child = new Deno.Command("wrk", {
      args: [
        "-t1",
        `-c${options.connections}`,
        `-d${options.durationS}s`,
        "--timeout",
        "5s",
        "-s",
        lua,
        options.url,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = await outputWithin(child, (options.durationS + 15) * 1000);
    const text = new TextDecoder().decode(out.stdout);
    const line = text.split("\n").find((l) => l.startsWith("WRK_JSON "));
    if (line === undefined) {
      throw new Error(
        `wrk printed no summary (exit ${out.code}): ${text}${
          new TextDecoder().decode(out.stderr)
        }`,
      );
    }
    const raw = JSON.parse(line.slice("WRK_JSON ".length));
    return { ...raw, rps: raw.requests / (raw.durationUs / 1e6) };
  } finally {
    Deno.removeSync(lua);
  }
}
