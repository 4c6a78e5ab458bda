// Keeps the WebSocket benchmark from rotting: one tiny round (4 sockets,
// 1 s windows) of every shape against every contender, and its report.
// Asserts that every contender echoes and nothing fails, never on speed.
// Needs Node and the npm registry (or bench/.tmp/ws-node) for `ws`.
import assert from "node:assert/strict";
import { benchWs, renderWs } from "../bench/ws.ts";
import { WS_TABLE_HEADER } from "../bench/ws/render.ts";

Deno.test("the WebSocket benchmark echoes on every contender and shape with no failures, and renders its table", async () => {
  const result = await benchWs({
    quick: true,
    sockets: 4,
    seconds: 1,
    warmupSeconds: 0.2,
    rounds: 1,
    log: () => {},
  });
  assert.equal(result.runs.length, 3 * 3);
  for (const run of result.runs) {
    const what = `${run.contender} ${run.shape}`;
    assert.equal(run.error, undefined, `${what}: ${run.error}`);
    assert.ok(run.figures!.echoed > 0, `${what}: no echoes`);
    assert.equal(run.figures!.opened, 4, `${what}: sockets did not open`);
    assert.equal(
      run.figures!.failures,
      0,
      `${what}: ${JSON.stringify(run.figures)}`,
    );
  }
  const single = result.summary.find((s) =>
    s.contender === "deno-single" && s.shape === "small"
  );
  assert.equal(single?.vsSingle, 1);
  assert.deepEqual(result.goals.map((g) => g.shape), ["small", "small-work"]);
  const markdown = renderWs(result);
  assert.ok(markdown.includes(WS_TABLE_HEADER), markdown);
  assert.match(markdown, /Goals \(issue 9\)/);
});

Deno.test("the WebSocket benchmark rejects unknown shapes and bad sizes up front", async () => {
  await assert.rejects(
    benchWs({ shapes: ["huge"], log: () => {} }),
    RangeError,
  );
  await assert.rejects(benchWs({ sockets: 0, log: () => {} }), RangeError);
});
