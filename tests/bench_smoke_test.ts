// Keeps the benchmark harness from rotting: one short run of one workload
// against one contender, the open-loop driver against an in-test server, and
// the report renderers. Asserts that things run and report, never on speed.
// Needs wrk (`apt-get install -y wrk`; the CI script installs it).
import assert from "node:assert/strict";
import { runHttpBench } from "../bench/http.ts";
import {
  checkTargets,
  renderHttpMarkdown,
  renderSvg,
} from "../bench/_report.ts";
import { parseTarget, spin } from "../bench/handlers/work.mjs";
import { percentile, spread } from "../bench/_stats.ts";

Deno.test("bench harness measures single Deno.serve on Hello and renders the report", async () => {
  const result = await runHttpBench({
    contenders: ["deno-single"],
    workloads: ["hello-ka"],
    rounds: 1,
    durationS: 1,
    rss: false,
    installWrk: false,
    log: () => {},
  });
  assert.equal(
    result.contenders[0]?.available,
    true,
    result.contenders[0]?.reason,
  );
  assert.deepEqual(result.failures, []);
  assert.equal(result.runs.length, 1);
  const run = result.runs[0]!;
  assert.ok(run.rps > 0, `expected some requests per second, got ${run.rps}`);
  assert.equal(run.errors, 0);
  assert.ok(run.totalCpuUs > 0, "CPU time per request was not measured");
  assert.equal(result.summary["hello-ka"]?.["deno-single"]?.ratio.median, 1);
  const markdown = renderHttpMarkdown(result);
  assert.match(markdown, /### Hello, keep-alive/);
  assert.match(markdown, /Deno\.serve \(1 isolate\) \| [\d,]+ \(/);
  const svg = renderSvg(result);
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /1\.00×/);
  // Targets involving ringpool were not measured in this run, and say so.
  assert.ok(checkTargets(result).every((t) => t.met === null));
});

/** Runs the open-loop driver (Node) and returns its "fast" stream's figures. */
async function openLoop(config: object) {
  const out = await new Deno.Command("node", {
    args: [
      new URL("../bench/_open_loop.mjs", import.meta.url).pathname,
      JSON.stringify(config),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout)).streams.fast;
}

Deno.test("open-loop driver measures from the intended send time and completes every request", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("ok"),
  );
  const config = {
    port: server.addr.port,
    durationMs: 500,
    drainMs: 1000,
    streams: [{ name: "fast", path: "/", rate: 200, preconnect: 2 }],
  };
  const fast = await openLoop(config);
  assert.equal(fast.intended, 100);
  assert.equal(fast.completed, 100);
  assert.equal(fast.errors + fast.non2xx + fast.unfinished, 0);
  // Latency from the intended time includes the driver's lateness, so it
  // can never be below the service time measured from the actual send.
  assert.ok(fast.latencyMs.p50 >= fast.serviceMs.p50);
  assert.ok(fast.latencyMs.p99 <= fast.latencyMs.max);
});

Deno.test("open-loop driver counts error statuses as failures, not as fast answers", async () => {
  let n = 0;
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("busy", { status: n++ % 2 ? 503 : 200 }),
  );
  const config = {
    port: server.addr.port,
    durationMs: 300,
    drainMs: 1000,
    streams: [{ name: "fast", path: "/", rate: 100, preconnect: 1 }],
  };
  const fast = await openLoop(config);
  assert.equal(fast.completed + fast.non2xx, 30);
  assert.ok(fast.non2xx >= 14, `expected about half 503s, got ${fast.non2xx}`);
  // Failed requests count as having waited until the end of the run, so
  // the tail shows them although every answer came back quickly.
  assert.ok(
    fast.latencyMs.p99 > 10 * fast.serviceMs.p50,
    `p99 ${fast.latencyMs.p99} ms should reflect the failures`,
  );
});

Deno.test("bench handlers parse targets the same way for Deno and Node URLs", () => {
  assert.deepEqual(parseTarget("http://127.0.0.1:8000/cpu?n=1200"), {
    path: "/cpu",
    n: 1200,
  });
  assert.deepEqual(parseTarget("/cpu?n=1200"), { path: "/cpu", n: 1200 });
  assert.deepEqual(parseTarget("/hello"), { path: "/hello", n: 0 });
  assert.deepEqual(parseTarget("/x?a=1&n=7"), { path: "/x", n: 7 });
  assert.equal(spin(1000), spin(1000));
});

Deno.test("bench statistics give the median, range and nearest-rank percentile", () => {
  assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3 });
  assert.deepEqual(spread([4, 1, 2, 3]), { median: 2.5, min: 1, max: 4 });
  assert.ok(Number.isNaN(spread([]).median));
  const sorted = Array.from({ length: 1000 }, (_, i) => i + 1);
  assert.equal(percentile(sorted, 50), 500);
  assert.equal(percentile(sorted, 99.9), 999);
  assert.equal(percentile(sorted, 100), 1000);
});
