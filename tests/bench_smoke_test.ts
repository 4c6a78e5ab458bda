// Keeps the benchmark harness from rotting: short runs of a throughput
// workload, one skew shape with its floor and the SSR workload in --quick
// mode, the open-loop driver against an in-test server, and the report
// renderers. Asserts that things run and report, never on speed.
// Needs wrk (`apt-get install -y wrk`; the CI script installs it) and the
// npm registry (or Deno's cache) for the SSR workload's preact.
import assert from "node:assert/strict";
import { runHttpBench } from "../bench/http.ts";
import { DEFAULTS_LABEL } from "../bench/_defaults.ts";
import {
  checkTargets,
  quickOptions,
  renderHttpMarkdown,
  renderSvg,
} from "../bench/_report.ts";
import { parseTarget, spin } from "../bench/handlers/work.mjs";
import { percentile, spread } from "../bench/_stats.ts";
import { renderSteal } from "../bench/_report_steal.ts";
import { machineTicks } from "../bench/_proc.ts";
import type { HttpBenchResult } from "../bench/_types.ts";
import {
  createContext,
  h,
  renderToString,
  useContext,
} from "../bench/handlers/ssr_deps.ts";
import { createSsr } from "../bench/handlers/ssr_page.mjs";
import {
  nodeEntry,
  pinnedPackages,
} from "../bench/contenders/node_ssr_deps.ts";

Deno.test("bench harness measures single Deno.serve on Hello and renders the report", async () => {
  const result = await runHttpBench({
    contenders: ["deno-single"],
    workloads: ["hello-ka"],
    rounds: 1,
    durationS: 1,
    settleS: 1,
    warmS: 1,
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
  assert.ok(
    run.stealPercent !== undefined && run.stealPercent >= 0 &&
      run.stealPercent <= 100,
    `steal was not measured as a share: ${run.stealPercent}`,
  );
  assert.equal(result.summary["hello-ka"]?.["deno-single"]?.ratio.median, 1);
  const markdown = renderHttpMarkdown(result);
  assert.match(markdown, /### Hello, keep-alive/);
  assert.match(
    markdown,
    /### CPU taken by the hypervisor during the runs[\s\S]*\| Deno\.serve \(1 isolate\) \| 1 \|/,
  );
  assert.match(markdown, /Deno\.serve \(1 isolate\) \| [\d,]+ \(/);
  const svg = renderSvg(result);
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /1\.00×/);
  // Targets involving ringpool were not measured in this run, and say so.
  assert.ok(checkTargets(result).every((t) => t.met === null));
});

Deno.test("bench harness runs a skew shape and its floor on ringpool's defaults in quick mode", async () => {
  const result = await runHttpBench({
    ...quickOptions(),
    contenders: ["ringpool-default"],
    workloads: ["skew-shared", "skew-shared-floor"],
    rss: false,
    profile: false,
    installWrk: false,
    log: () => {},
  });
  assert.deepEqual(result.failures, []);
  const shape = result.runs.find((r) => r.workload === "skew-shared");
  const floor = result.runs.find((r) => r.workload === "skew-shared-floor");
  assert.ok(shape?.fast && Number.isFinite(shape.fast.p99), "no /fast p99");
  assert.ok(shape.slow && Number.isFinite(shape.slow.p50), "no /slow figures");
  assert.ok(shape.mainCpuUs > 0, "main-thread CPU was not measured");
  // The floor's slow load ran in the burner, every job of its schedule.
  assert.ok(floor?.fast && Number.isFinite(floor.fast.p99), "no floor p99");
  assert.equal(floor.slow, undefined);
  assert.ok(floor.burner && floor.burner.jobs > 0);
  assert.equal(floor.burner.done, floor.burner.jobs);
  const markdown = renderHttpMarkdown(result);
  assert.match(markdown, /### Shared keep-alive connections/);
  assert.ok(
    markdown.includes(
      `| floor: ringpool (defaults: ${DEFAULTS_LABEL}) |`,
    ),
    "no floor row for ringpool's defaults",
  );
  assert.match(
    markdown,
    /Goals for ringpool \(defaults\): p99 ≤ 1\.5× floor: [\d.]+×/,
  );
  assert.match(markdown, /main waiting/);
  // The checklist has the shape's goals; single and --parallel did not run.
  const target = checkTargets(result).find((t) =>
    t.target.startsWith("ringpool defaults, Shared keep-alive")
  );
  assert.match(target?.measured ?? "", /^p99 [\d.]+× floor, p99 –× single/);
  assert.notEqual(target?.met, true);
});

Deno.test("bench harness runs the SSR workload with ringpool's static option in quick mode", async () => {
  const result = await runHttpBench({
    ...quickOptions(),
    contenders: ["ringpool-default"],
    workloads: ["ssr"],
    rss: false,
    profile: false,
    installWrk: false,
    log: () => {},
  });
  assert.deepEqual(result.failures, []);
  const run = result.runs[0]!;
  assert.equal(run.workload, "ssr");
  assert.ok(run.rps > 0, `expected some requests per second, got ${run.rps}`);
  assert.equal(run.errors, 0, JSON.stringify(run.errorKinds));
  assert.ok(run.latency && Number.isFinite(run.latency.p99), "no p99");
  const markdown = renderHttpMarkdown(result);
  assert.match(markdown, /### Server-side rendering/);
  assert.match(
    markdown,
    /Goals for ringpool \(defaults\): req\/s ≥ 1\.8× single/,
  );
});

Deno.test("the SSR page is ~50 KiB of HTML rendered from data, and Node gets the same pinned library", () => {
  const ssr = createSsr({ h, createContext, useContext, renderToString });
  for (const n of [0, 1, 7]) {
    const page = ssr.page(n);
    assert.ok(page.startsWith('<!doctype html><html lang="en">'));
    assert.ok(
      page.length > 45_000 && page.length < 60_000,
      `page ${n} is ${page.length} bytes`,
    );
  }
  assert.notEqual(ssr.page(0), ssr.page(1));
  assert.deepEqual(JSON.parse(ssr.product(3)).id, 4);
  const source = Deno.readTextFileSync(
    new URL("../bench/handlers/ssr_deps.ts", import.meta.url),
  );
  assert.deepEqual(pinnedPackages(source), [
    "preact-render-to-string@6.8.2",
    "preact@11.2.0",
  ]);
  const entry = nodeEntry(source);
  assert.match(entry, /from "preact\/hooks"/);
  assert.match(entry, /from "preact-render-to-string"/);
  assert.doesNotMatch(entry, /npm:/);
});

/** Runs the open-loop driver (Node) and returns its figures by route. */
async function openLoopRoutes(config: object) {
  const out = await new Deno.Command("node", {
    args: [
      new URL("../bench/_open_loop.mjs", import.meta.url).pathname,
      JSON.stringify(config),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout)).streams;
}

Deno.test("open-loop driver interleaves routes by weight and sends only on idle connections", async () => {
  const open = new Set<string>();
  let busy = 0;
  let overlapped = 0;
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request, info) => {
      // Two requests at once on one connection would mean pipelining.
      const key = `${info.remoteAddr.port}`;
      if (open.has(key)) overlapped++;
      open.add(key);
      busy++;
      if (new URL(request.url).pathname === "/slow") {
        await new Promise((r) => setTimeout(r, 30));
      }
      busy--;
      open.delete(key);
      return new Response("ok");
    },
  );
  const streams = await openLoopRoutes({
    port: server.addr.port,
    durationMs: 500,
    drainMs: 1000,
    streams: [{
      name: "mix",
      routes: [
        { name: "fast", path: "/fast", weight: 9 },
        { name: "slow", path: "/slow", weight: 1 },
      ],
      rate: 200,
      maxConns: 4,
      preconnect: 4,
      pick: "lru",
    }],
  });
  assert.equal(streams.fast.intended, 90);
  assert.equal(streams.slow.intended, 10);
  assert.equal(streams.fast.completed, 90);
  assert.equal(streams.slow.completed, 10);
  assert.equal(overlapped, 0);
  assert.equal(busy, 0);
  // A fast request never waited for a slow one's connection.
  assert.ok(streams.slow.latencyMs.p50 >= 30);
});

Deno.test("open-loop driver's pinned mode makes fast requests wait behind a slow one on their connection", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      if (new URL(request.url).pathname === "/slow") {
        await new Promise((r) => setTimeout(r, 50));
      }
      return new Response("ok");
    },
  );
  const streams = await openLoopRoutes({
    port: server.addr.port,
    durationMs: 400,
    drainMs: 1000,
    streams: [{
      name: "mix",
      routes: [
        { name: "fast", path: "/fast", weight: 3 },
        { name: "slow", path: "/slow", weight: 1 },
      ],
      rate: 200,
      maxConns: 3,
      pick: "pinned",
    }],
  });
  assert.equal(streams.fast.completed, 60);
  assert.equal(streams.slow.completed, 20);
  // Every 4th request is slow and lands on each of the 3 connections in
  // turn: the fast ones queued behind it wait for its 50 ms.
  assert.ok(
    streams.fast.latencyMs.max >= 25,
    `fast max ${streams.fast.latencyMs.max} ms`,
  );
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

Deno.test("bench report counts the runs measured again for steal and those still above the limit", () => {
  const base = {
    round: 0,
    workload: "hello-ka",
    rps: 1,
    errors: 0,
    mainCpuUs: 1,
    totalCpuUs: 1,
  };
  const text = renderSteal({
    contenders: [{ id: "a", label: "A" }, { id: "b", label: "B" }],
    runs: [
      { ...base, contender: "a", stealPercent: 2 },
      { ...base, contender: "a", stealPercent: 4, remeasured: true },
      { ...base, contender: "a", stealPercent: 30, remeasured: true },
      { ...base, contender: "b", stealPercent: 0 },
    ],
  } as unknown as HttpBenchResult);
  assert.match(text, /\| A +\| 3 +\| 4\.0 +\| 30\.0 +\| 2 +\| 1 +\|/);
  assert.match(text, /\| B +\| 1 +\| 0\.0 +\| 0\.0 +\| 0 +\| 0 +\|/);
});

Deno.test("machineTicks reads steal as a part of the machine's CPU time", () => {
  const ticks = machineTicks();
  assert.ok(ticks.total > 0, "no CPU time read from /proc/stat");
  assert.ok(ticks.steal >= 0 && ticks.steal <= ticks.total);
});
