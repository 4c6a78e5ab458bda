// The live dashboard (dashboardPath): its page, its JSON and its event
// stream are answered on the main thread and hold no slot; a stream stops
// when its client leaves and ends when a drain starts; and in a real
// headless Chromium the page shows live, changing numbers under load.
//
// The browser test skips (with a message) only if Chromium is missing
// (Debian: `apt-get install chromium`; $CHROMIUM names another binary).
// RINGPOOL_SCREENSHOT=docs/dashboard.png deno test -A tests/dashboard_test.ts
// writes the page's screenshot there.
import assert from "node:assert/strict";
import { parseCliArgs } from "../src/cli.ts";
import { toServeOptions } from "../src/_cli/serve_options.ts";
import { UsageError } from "../src/errors.ts";
import { type PoolServer, serve, type ServeOptions } from "../src/server.ts";
import { serveStatic } from "../src/static_files.ts";
import { assertNoLiveWorkers, REPO, within } from "./_helpers.ts";
import {
  Browser,
  CHROMIUM,
  chromiumPresent,
  type Page,
} from "./fixtures/cdp.ts";

const APP = new URL("./fixtures/dashboard_app.ts", import.meta.url);

function start(options: Partial<ServeOptions> = {}): Promise<PoolServer> {
  return serve({
    handler: APP,
    hostname: "127.0.0.1",
    port: 0,
    workers: 1,
    onListen: () => {},
    ...options,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The event frames of a server-sent event stream, parsed. */
class EventReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(body: ReadableStream<Uint8Array<ArrayBuffer>>) {
    this.#reader = body.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next `data:` frame's JSON; undefined once the stream ended. */
  async next(ms = 3000): Promise<Snapshot | undefined> {
    while (true) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const frame = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const data = /^data: (.*)$/m.exec(frame);
        if (data) return JSON.parse(data[1]!);
        continue; // "retry:" and the like
      }
      const { value, done } = await within(
        ms,
        "an event",
        this.#reader.read(),
      );
      if (done) return undefined;
      this.#buffer += value;
    }
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

/** The part of the dashboard's snapshot the tests read. */
interface Snapshot {
  time: number;
  completed: number;
  listeners: number;
  workers: { id: number; state: string; completed: number; heapMiB: number }[];
  slots: { busy: number; total: number };
  ring: { length: number; capacity: number };
  restarts: Record<string, number>;
  responses: {
    byStatus: Record<string, number>;
    bounds: number[];
    counts: number[];
    count: number;
  };
}

async function json(base: string): Promise<Snapshot> {
  const response = await fetch(`${base}/dash/stats.json`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("cache-control"), "no-store");
  return await response.json();
}

async function events(base: string): Promise<EventReader> {
  const response = await fetch(`${base}/dash/events`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  return new EventReader(response.body!);
}

Deno.test("dashboardPath answers its page, stats.json and an event stream on the main thread, holding no slot", async () => {
  // One worker with one slot: were a stream to hold it, nothing else ran.
  const server = await start({ concurrency: 1, dashboardPath: "/dash" });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const streams: EventReader[] = [];
  try {
    const page = await fetch(`${base}/dash`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(
      page.headers.get("content-security-policy")!,
      /default-src 'none'/,
    );
    const html = await page.text();
    assert.match(html, /<title>ringpool · dashboard<\/title>/);
    // Self-contained: nothing from another origin.
    assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i);
    assert.doesNotMatch(html, /url\(\s*["']?(https?:)?\/\/|@import/i);
    const head = await fetch(`${base}/dash`, { method: "HEAD" });
    assert.equal(head.status, 200);
    await head.body?.cancel();
    const post = await fetch(`${base}/dash`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    await post.body?.cancel();

    const first = await json(base);
    assert.equal(first.workers.length, 1);
    assert.equal(first.workers[0]!.state, "ready");
    assert.deepEqual(first.slots, { busy: 0, total: 1 });
    assert.equal(typeof first.ring.capacity, "number");
    assert.deepEqual(Object.keys(first.restarts).sort(), [
      "crash",
      "memory",
      "reload",
      "requests",
      "timeout",
    ]);
    assert.equal(first.responses.count, 0);
    assert.equal(
      first.responses.counts.length,
      first.responses.bounds.length + 1,
    );

    for (let i = 0; i < 3; i++) {
      const stream = await events(base);
      streams.push(stream);
      assert.ok(await stream.next(), "a first event at once");
    }
    // The streams are answered by main: the one slot is free for this.
    assert.equal(await (await fetch(`${base}/`)).text(), "hello\n");
    const missing = await fetch(`${base}/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const a = (await streams[0]!.next())!;
    const b = (await streams[0]!.next())!;
    assert.ok(b.time > a.time, "events keep coming");
    const now = await json(base);
    assert.equal(now.listeners, 3);
    // Neither the page nor its JSON or events reached a worker or a count.
    assert.equal(now.completed, 2);
    assert.equal(server.stats().completed, 2);
    assert.deepEqual(now.responses.byStatus, { 200: 1, 404: 1 });
    assert.equal(now.responses.count, 2);

    // A page that goes away stops being fed (the timer stops with the last).
    for (const stream of streams.splice(0)) await stream.cancel();
    const deadline = performance.now() + 3000;
    while ((await json(base)).listeners > 0) {
      assert.ok(performance.now() < deadline, "the listeners were not dropped");
      await sleep(50);
    }
  } finally {
    for (const stream of streams) await stream.cancel();
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a drain ends the dashboard's event streams instead of waiting for them", async () => {
  const server = await start({ dashboardPath: "/dash/", drainTimeout: 10_000 });
  const base = `http://127.0.0.1:${server.addr.port}`;
  // A trailing slash in the option: the routes are below it all the same.
  const page = await fetch(`${base}/dash/`);
  assert.equal(page.status, 200);
  await page.body?.cancel();
  const stream = await events(base);
  assert.ok(await stream.next());
  const started = performance.now();
  const shutdown = server.shutdown();
  // Events until the stream ends, which it must, long before drainTimeout.
  while (await stream.next(3000) !== undefined) {
    assert.ok(performance.now() - started < 3000, "the stream did not end");
  }
  await within(5000, "the shutdown", shutdown);
  const took = performance.now() - started;
  assert.ok(took < 3000, `the drain waited ${took.toFixed(0)} ms for it`);
  assertNoLiveWorkers();
});

Deno.test("without dashboardPath its paths reach the handler; the CLI flag sets it", async () => {
  const server = await start();
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    for (const path of ["/dashboard", "/dashboard/stats.json"]) {
      const response = await fetch(base + path);
      assert.equal(response.status, 404);
      assert.equal(await response.text(), "not found\n");
    }
    assert.equal(server.stats().completed, 2);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
  const cli = parseCliArgs(["app.ts", "--dashboard-path", "/dashboard"]);
  assert.equal(cli.dashboardPath, "/dashboard");
  assert.equal((await toServeOptions(cli)).dashboardPath, "/dashboard");
  assert.throws(
    () => parseCliArgs(["--dashboard-path", "dashboard"]),
    (error) =>
      error instanceof UsageError &&
      /--dashboard-path: expected a path starting with "\/"/.test(
        error.message,
      ),
  );
  await assert.rejects(
    async () => await start({ dashboardPath: "dashboard" }),
    /Cannot serve as 'dashboardPath' must be a path starting with "\/"/,
  );
});

Deno.test("the dashboard page loads when the package is imported from an http: URL", async () => {
  // Serve the repository over HTTP, as a package host would.
  const host = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) =>
      await serveStatic(request, { root: REPO }) ??
        new Response("unreachable", { status: 500 }),
  );
  const origin = `http://127.0.0.1:${host.addr.port}/`;
  const tmp = await Deno.makeTempDir({ prefix: "ringpool_dashboard_url_" });
  // Outside the repository and without a lockfile, as in cli_test.ts.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-lock",
      `--reload=${origin}`,
      `${origin}mod.ts`,
      "--port",
      "0",
      "--dashboard-path",
      "/dashboard",
    ],
    cwd: tmp,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    let seen = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    while (!/Listening on (http:\/\/\S+)\//.test(seen)) {
      const { value, done } = await within(30_000, "listening", reader.read());
      assert.ok(!done, `the CLI exited before listening:\n${seen}`);
      seen += value;
    }
    const base = /Listening on (http:\/\/\S+)\//.exec(seen)![1]!;
    const page = await fetch(`${base}/dashboard`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>ringpool · dashboard<\/title>/);
    child.kill("SIGINT");
    // Read the rest (the demo's log lines) so the process can end.
    while (!(await reader.read()).done) { /* drain */ }
    assert.equal((await child.status).code, 0);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await host.shutdown();
    await Deno.remove(tmp, { recursive: true });
  }
});

/** Requests from `loops` concurrent loops until stopped (at most `maxMs`). */
function load(base: string, loops: number, maxMs: number) {
  let stopped = false;
  const stopAt = performance.now() + maxMs;
  const statuses = new Map<number, number>();
  // A fixed mix: mostly fast, some slow, a few 404s, POSTs and 500s.
  const mix = [..."ffffffffffffsssnpx"];
  const run = async (loop: number) => {
    for (let i = loop; !stopped && performance.now() < stopAt; i++) {
      const kind = mix[i % mix.length];
      const response = kind === "p"
        ? await fetch(`${base}/echo`, { method: "POST", body: "ping" })
        : await fetch(
          base +
            (kind === "s"
              ? "/slow"
              : kind === "n"
              ? "/missing"
              : kind === "x"
              ? "/fail"
              : "/"),
        );
      await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
  };
  const done = Promise.all(Array.from({ length: loops }, (_, i) => run(i)));
  return {
    statuses,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** What the page shows, read from its DOM. */
interface Shown {
  conn: string;
  completed: number;
  rps: number;
  updated: string;
  workers: { id: string; state: string; completed: number; heap: string }[];
  statuses: Record<string, number>;
  bars: number;
  p50: string;
}

const READ_PAGE = `(() => {
  const text = (id) => document.getElementById(id).textContent.trim();
  const number = (s) => Number(s.replace(/[^0-9.]/g, "")) || 0;
  return {
    conn: text("conn"),
    completed: number(text("completed")),
    rps: number(text("rps")),
    updated: text("updated"),
    workers: [...document.querySelectorAll("#workers tbody tr")].map((row) => ({
      id: row.dataset.worker,
      state: row.cells[1].textContent.trim(),
      completed: number(row.cells[5].textContent),
      heap: row.cells[7].textContent.trim(),
    })),
    statuses: Object.fromEntries([...document.querySelectorAll("#statuses tbody tr[data-status]")]
      .map((row) => [row.dataset.status, number(row.cells[1].textContent)])),
    bars: [...document.querySelectorAll("#histogram .n")].filter((n) => n.textContent !== "").length,
    p50: text("lat-p50"),
  };
})()`;

/** Reads the page until `ready` holds; fails after 10 s saying `what`. */
async function shown(
  page: Page,
  ready: (now: Shown) => boolean,
  what: string,
): Promise<Shown> {
  const deadline = performance.now() + 10_000;
  let now: Shown;
  do {
    now = await page.evaluate<Shown>(READ_PAGE);
    if (ready(now)) return now;
    await sleep(100);
  } while (performance.now() < deadline);
  throw new Error(`Timed out waiting for ${what}: ${JSON.stringify(now)}`);
}

const browserTest = chromiumPresent()
  ? "the dashboard page shows live, changing numbers in headless Chromium while load runs"
  : `the dashboard in headless Chromium (skipped: no Chromium at ${CHROMIUM}; on Debian: apt-get install chromium)`;

Deno.test({
  name: browserTest,
  ignore: !chromiumPresent(),
  async fn() {
    const server = await start({
      workers: 3,
      concurrency: 8,
      dashboardPath: "/dashboard",
      drainTimeout: 10_000,
    });
    const base = `http://127.0.0.1:${server.addr.port}`;
    const traffic = load(base, 6, 30_000);
    let browser: Browser | undefined;
    try {
      browser = await Browser.launch();
      const page = await browser.newPage(1280, 800);
      await page.navigate(`${base}/dashboard`);
      await shown(
        page,
        (now) =>
          now.conn === "live" && now.workers.length === 3 &&
          Object.keys(now.statuses).length >= 3,
        "the page to go live with 3 workers and 3 statuses",
      );
      await sleep(1500); // a few snapshots: the sparkline and the rate fill in
      const before = await page.evaluate<Shown>(READ_PAGE);
      await sleep(1500);
      const after = await page.evaluate<Shown>(READ_PAGE);
      const context = JSON.stringify({ before, after });
      assert.equal(after.conn, "live", context);
      assert.ok(
        after.completed > before.completed,
        `completed grows: ${context}`,
      );
      assert.ok(after.completed <= server.stats().completed, context);
      assert.notEqual(after.updated, before.updated, context);
      assert.ok(after.rps > 0, `a request rate: ${context}`);
      assert.deepEqual(after.workers.map((w) => w.id), ["1", "2", "3"]);
      for (const worker of after.workers) {
        assert.equal(worker.state, "ready", context);
        assert.match(worker.heap, /^\d+(\.\d)? MiB$/, context);
      }
      assert.ok(
        after.workers.some((w, i) =>
          w.completed > before.workers[i]!.completed
        ),
        `a worker's count grows: ${context}`,
      );
      assert.ok(after.statuses["200"]! > before.statuses["200"]!, context);
      for (const status of ["404", "500"]) {
        assert.ok(after.statuses[status]! > 0, `${status} shown: ${context}`);
      }
      assert.ok(after.bars >= 2, `histogram bars: ${context}`);
      assert.match(after.p50, /^≤ \d/, context);
      assert.deepEqual(page.errors, [], "the page reported errors");
      const png = await page.screenshot();
      assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
      const path = Deno.env.get("RINGPOOL_SCREENSHOT");
      if (path) await Deno.writeFile(path, png);

      // With the page still listening, the drain does not wait for it, and
      // the page notices the server went away.
      await traffic.stop();
      const started = performance.now();
      await within(5000, "the shutdown", server.shutdown());
      const took = performance.now() - started;
      assert.ok(took < 3000, `the drain waited ${took.toFixed(0)} ms`);
      await page.waitFor(
        `document.getElementById("conn").textContent !== "live"`,
        "the page to show it lost the server",
        5000,
      );
    } catch (error) {
      if (browser !== undefined) {
        console.error(`Chromium's log:\n${browser.log}`);
      }
      throw error;
    } finally {
      await traffic.stop();
      await browser?.close();
      await server.shutdown();
    }
    assertNoLiveWorkers();
  },
});
