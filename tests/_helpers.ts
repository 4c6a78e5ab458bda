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
