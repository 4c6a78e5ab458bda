import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { liveWorkerCount } from "../src/_workers/live.ts";

/**
 * Fails the test if a worker thread started by ringpool is still alive.
 * Call it at the end of every test that starts a pool or a server.
 */
export function assertNoLiveWorkers(): void {
  assert.equal(
    liveWorkerCount(),
    0,
    `${liveWorkerCount()} ringpool worker(s) still alive after the test`,
  );
}

/** The repository's root, as a URL ending in "/". */
export const REPO: URL = new URL("../", import.meta.url);

/** The .ts files under src/, as paths from the repository root, sorted. */
export function sourceFiles(): string[] {
  return readdirSync(new URL("src/", REPO), { recursive: true })
    .map((path) => `src/${String(path).replaceAll("\\", "/")}`)
    .filter((path) => path.endsWith(".ts"))
    .sort();
}

/** A server running in a subprocess: where it listens, and how to stop it. */
export interface Running {
  base: string;
  child: Deno.ChildProcess;
  stop: () => Promise<void>;
}

/**
 * Starts `deno <args>` (deno serve, or ringpool's CLI) and resolves once it
 * printed "Listening on http://HOST:PORT/"; `stop()` sends SIGINT and waits.
 */
export async function startServerProcess(args: string[]): Promise<Running> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  // Both print "Listening on http://HOST:PORT/" (deno serve on stderr).
  const { promise: listening, resolve, reject } = Promise.withResolvers<
    string
  >();
  const watch = async (stream: ReadableStream<Uint8Array<ArrayBuffer>>) => {
    let seen = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      seen += text;
      const match = /Listening on (http:\/\/[^/\s]+)\//.exec(seen);
      if (match) resolve(match[1]!.replace("0.0.0.0", "127.0.0.1"));
    }
    reject(new Error(`the server exited before listening:\n${seen}`));
  };
  const outputs = Promise.allSettled([
    watch(child.stdout),
    watch(child.stderr),
  ]);
  const base = await listening;
  return {
    base,
    child,
    stop: async () => {
      child.kill("SIGINT");
      // `deno serve` itself may not exit after a server-initiated
      // WebSocket close (seen with Deno 2.9.6): bounded, then SIGKILL.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), 5_000);
      });
      if (await Promise.race([child.status, late]) === "late") {
        child.kill("SIGKILL");
      }
      clearTimeout(timer);
      await child.status;
      await outputs;
    },
  };
}

/**
 * Polls `condition` every 10 ms until it holds; throws naming `what` after
 * `ms` (generous: a loaded 2-core machine must not fail a test by timing).
 */
export async function waitFor(
  condition: () => boolean,
  what: string,
  ms = 20_000,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Settles with `promise`, or rejects saying `what` did not happen in time. */
export async function within<T>(
  ms: number,
  what: string,
  promise: Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not happen within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
