// Keeps the adaptive-pool benchmark from rotting: one quick round (2 s
// burst) of every pool, and its report. Asserts that every pool answers
// with no errors and that the adaptive one grew, never on speed.
// Needs wrk (the benchmark installs it with apt-get when missing).
import assert from "node:assert/strict";
import {
  ADAPTIVE_TABLE_HEADER,
  benchAdaptive,
  renderAdaptive,
} from "../bench/adaptive.ts";

Deno.test("the adaptive benchmark serves on every pool with no errors, grows the adaptive pool, and renders its table", async () => {
  const result = await benchAdaptive({ quick: true, log: () => {} });
  assert.equal(result.runs.length, 3);
  for (const run of result.runs) {
    assert.equal(run.error, undefined, `${run.contender}: ${run.error}`);
    assert.ok(run.burst!.requests > 0, `${run.contender}: no requests`);
    assert.equal(run.burst!.errors, 0, `${run.contender}: errors`);
  }
  const adaptive = result.runs.find((r) => r.contender === "adaptive-1-4")!;
  assert.equal(adaptive.idle!.workers, 1);
  assert.ok(
    adaptive.burst!.peakWorkers > 1,
    `never grew: ${JSON.stringify(adaptive.burst!.samples.slice(0, 5))}`,
  );
  assert.ok(result.growth !== undefined);
  const markdown = renderAdaptive(result);
  assert.ok(markdown.includes(ADAPTIVE_TABLE_HEADER), markdown);
});

Deno.test("the adaptive benchmark rejects bad durations and unknown pools up front", async () => {
  await assert.rejects(benchAdaptive({ burstSeconds: 0 }), RangeError);
  await assert.rejects(
    benchAdaptive({ burstSeconds: 2, steadySeconds: 2 }),
    RangeError,
  );
  await assert.rejects(benchAdaptive({ contenders: ["huge"] }), RangeError);
});
