// Runs h2load (nghttp2's HTTP/2 load generator, Debian `nghttp2-client`)
// over ONE cleartext HTTP/2 connection (h2c with prior knowledge, which
// Deno.serve and `deno serve` speak on their plain port) with many streams,
// and reads its per-request log.
//
// h2load's `--log-file` keeps, per request, only its start time, status and
// duration: routes are told apart by status (the bench's /slow203 answers
// 203, /fast 200). With `--rps` it submits requests at a fixed rate (up to
// `streams` in flight), so a slow answer does not hold back the requests
// after it, and each duration runs from the request's submission.
import { assertTool, ensureTool, outputWithin } from "./_proc.ts";

/** What to ask h2load to do. */
export interface H2loadOptions {
  port: number;
  /** Paths requested in turn (each request takes the next). */
  paths: string[];
  /** Requests per second (one client: the whole rate). */
  rate: number;
  /** Requests in all. */
  count: number;
  /** Concurrent streams allowed on the connection. */
  streams: number;
}

/** h2load's outcome: durations (ms) per status, and its counters. */
export interface H2loadResult {
  byStatus: Map<number, number[]>;
  started: number;
  done: number;
  /** Streams h2load saw fail (status -1 in its log, or never logged). */
  failed: number;
  elapsedMs: number;
}

/** Fails with a clear message when h2load is missing; installs it if asked. */
export function requireH2load(install: boolean): Promise<void> {
  return (install ? ensureTool : assertTool)("h2load", "nghttp2-client");
}

const tmp = () => {
  const dir = new URL("./.tmp/", import.meta.url).pathname;
  Deno.mkdirSync(dir, { recursive: true });
  return `${dir}h2load_${crypto.randomUUID()}`;
};

/** Runs h2load once; killed if it takes 20 s longer than its schedule. */
export async function runH2load(options: H2loadOptions): Promise<H2loadResult> {
  const base = tmp();
  const uris = `${base}.uris`;
  const log = `${base}.tsv`;
  const origin = `http://127.0.0.1:${options.port}`;
  Deno.writeTextFileSync(
    uris,
    options.paths.map((p) => origin + p).join("\n") + "\n",
  );
  try {
    const began = performance.now();
    const child = new Deno.Command("h2load", {
      args: [
        "-c1",
        "-t1",
        `-m${options.streams}`,
        `--rps=${Math.max(1, Math.round(options.rate))}`,
        `-n${options.count}`,
        "-i",
        uris,
        `--log-file=${log}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const scheduleMs = options.count / options.rate * 1000;
    const out = await outputWithin(child, scheduleMs + 20_000);
    const elapsedMs = performance.now() - began;
    const text = new TextDecoder().decode(out.stdout);
    const counts = /requests: (\d+) total, (\d+) started, (\d+) done/.exec(
      text,
    );
    if (!out.success || counts === null) {
      throw new Error(
        `h2load failed (exit ${out.code}): ${text.slice(-400)}${
          new TextDecoder().decode(out.stderr).slice(-400)
        }`,
      );
    }
    const byStatus = new Map<number, number[]>();
    let logged = 0;
    let failed = 0;
    for (const line of Deno.readTextFileSync(log).split("\n")) {
      const [, status, micros] = line.split("\t");
      if (micros === undefined) continue;
      logged++;
      const code = Number(status);
      if (code < 0) {
        failed++;
        continue;
      }
      const list = byStatus.get(code) ?? [];
      list.push(Number(micros) / 1000);
      byStatus.set(code, list);
    }
    return {
      byStatus,
      started: Number(counts[2]),
      done: Number(counts[3]),
      failed: failed + Math.max(0, options.count - logged),
      elapsedMs,
    };
  } finally {
    for (const file of [uris, log]) {
      try {
        Deno.removeSync(file);
      } catch {
        // Not written.
      }
    }
  }
}
