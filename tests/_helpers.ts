import assert from "node:assert/strict";
import { liveWorkerCount } from "../src/_live_workers.ts";

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
