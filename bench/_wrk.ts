// Runs wrk (closed loop, one thread) and reads its summary through a Lua
// `done` hook that prints one JSON line, instead of scraping the text report.

import { outputWithin } from "./_proc.ts";

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
}

const REPORT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout))
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
  return lines.join("\n") + REPORT;
}

/** Fails with a clear message when wrk is not installed. */
export async function assertWrk(): Promise<void> {
  try {
    await new Deno.Command("wrk", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
  } catch {
    throw new Error(
      "wrk is not installed: run `apt-get install -y wrk` (Debian) and retry",
    );
  }
}

/** Installs wrk with apt-get when it is missing (the bench needs it). */
export async function ensureWrk(): Promise<void> {
  try {
    await assertWrk();
    return;
  } catch {
    console.error("wrk missing: apt-get install -y wrk ...");
  }
  const install = await new Deno.Command("sh", {
    args: [
      "-c",
      "apt-get install -y -qq wrk || (apt-get update -qq && apt-get install -y -qq wrk)",
    ],
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (!install.success) {
    throw new Error("could not install wrk with apt-get; install it and retry");
  }
  await assertWrk();
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
