// Replacing workers while serving: rolling reloads, recycling and the
// adaptive pool. None of them may fail a request.
import assert from "node:assert/strict";
import { type PoolServer, serve, type ServeOptions } from "../src/server.ts";
import {
  assertNoLiveWorkers,
  startServerProcess,
  waitFor,
} from "./_helpers.ts";

/** A handler module that answers with its version; its file can be rewritten. */
function handlerSource(version: string): string {
  return `
const isolate = crypto.randomUUID();
const hoard = [];
export default {
  async fetch(request, info) {
    const path = new URL(request.url).pathname;
    if (path === "/slow") await new Promise((r) => setTimeout(r, 300));
    if (path === "/grow") hoard.push(new Array(4 * 1024 * 1024).fill(hoard.length));
    const body = request.method === "POST" ? await request.text() : "";
    return new Response(${
    JSON.stringify(version)
  } + " " + isolate + " " + info.workerId + " " + body.length);
  },
};
`;
}

async function handlerFile(version: string): Promise<URL> {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/handler.mjs`;
  await Deno.writeTextFile(file, handlerSource(version));
  return new URL(`file://${file}`);
}

function start(
  handler: URL,
  options: Partial<ServeOptions> = {},
): Promise<PoolServer> {
  return serve({
    handler,
    hostname: "127.0.0.1",
    port: 0,
    workers: 2,
    handleSignals: false,
    onListen: () => {},
    ...options,
  });
}

/** Clients that keep sending GET, POST (30%) and slow requests until stopped. */
function load(server: PoolServer, clients: number) {
  const base = `http://127.0.0.1:${server.addr.port}`;
  const answers: { status: number; body: string; at: number }[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async (_, client) => {
    for (let i = 0; running; i++) {
      const kind = (i + client) % 10;
      const response = await fetch(
        base + (kind === 0 ? "/slow" : "/"),
        kind < 3 ? { method: "POST", body: "x".repeat(1000 + i) } : undefined,
      );
      answers.push({
        status: response.status,
        body: await response.text(),
        at: performance.now(),
      });
    }
  });
  return {
    answers,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

Deno.test("reload() under load: no request fails, each is served by the old or the new code", async () => {
  const handler = await handlerFile("v1");
  const joined: number[] = [];
  const server = await start(handler, {
    onWorkerExit: (id) => joined.push(id),
  });
  const traffic = load(server, 8);
  try {
    await waitFor(() => traffic.answers.length > 50, "the load is under way");
    await Deno.writeTextFile(handler, handlerSource("v2"));
    await server.reload();
    const reloaded = performance.now();
    await waitFor(
      () => traffic.answers.filter((a) => a.at > reloaded).length > 50,
      "the load goes on after the reload",
    );
    await traffic.stop();
    const failed = traffic.answers.filter((a) => a.status !== 200);
    assert.deepEqual(failed, [], "every request was answered 200");
    for (const { body } of traffic.answers) assert.match(body, /^v[12] /);
    const after = traffic.answers.filter((a) => a.at > reloaded + 100);
    assert.ok(
      after.every((a) => a.body.startsWith("v2 ")),
      "the new code serves",
    );
    const stats = server.stats();
    assert.equal(stats.restarts.reload, 2);
    assert.equal(stats.workers.length, 2);
    assert.ok(stats.workers.every((w) => w.state === "ready"));
    assert.equal(joined.length, 2, "each retired worker was joined");
  } finally {
    await traffic.stop();
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a reload whose new code does not load rejects, and the old workers keep serving", async () => {
  const handler = await handlerFile("v1");
  const server = await start(handler);
  try {
    await Deno.writeTextFile(handler, "export default { fetch( ;");
    await assert.rejects(server.reload(), /failed to load/);
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.match(await response.text(), /^v1 /);
    const stats = server.stats();
    assert.equal(stats.restarts.reload, 0);
    await waitFor(
      () => server.stats().workers.length === 2,
      "no new worker is left behind",
    );
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("SIGHUP reloads the CLI's handler module", async () => {
  const handler = await handlerFile("v1");
  const running = await startServerProcess([
    "run",
    "-A",
    new URL("../mod.ts", import.meta.url).pathname,
    handler.pathname,
    "--hostname",
    "127.0.0.1",
    "--port",
    "0",
    "--workers",
    "2",
  ]);
  try {
    assert.match(await (await fetch(running.base + "/")).text(), /^v1 /);
    await Deno.writeTextFile(handler, handlerSource("v2"));
    running.child.kill("SIGHUP");
    const deadline = performance.now() + 20_000;
    for (;;) {
      const body = await (await fetch(running.base + "/")).text();
      if (body.startsWith("v2 ")) break;
      if (performance.now() > deadline) assert.fail("still serving v1");
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await running.stop();
  }
});

Deno.test("maxRequestsPerWorker: a worker past it is replaced, and no request fails", async () => {
  const server = await start(await handlerFile("v1"), {
    workers: 1,
    maxRequestsPerWorker: 20,
  });
  try {
    const isolates = new Set<string>();
    for (let i = 0; i < 80; i++) {
      const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
      assert.equal(response.status, 200);
      isolates.add((await response.text()).split(" ")[1]!);
      // Give the sweep (250 ms) a chance to notice between bursts.
      if (i % 20 === 19) {
        await waitFor(
          () => server.stats().restarts.requests >= (i + 1) / 20,
          `replacement ${(i + 1) / 20}`,
        );
      }
    }
    assert.ok(isolates.size >= 4, `${isolates.size} workers answered`);
    // The count rises once the new worker is ready; the old one then drains.
    await waitFor(
      () => server.stats().workers.length === 1,
      "the last replaced worker is joined",
    );
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("maxWorkerMemory: a worker whose heap passes it is replaced", async () => {
  const server = await start(await handlerFile("v1"), {
    workers: 1,
    maxWorkerMemory: 64,
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    // Each call keeps ~32 MiB alive in the worker's module scope.
    for (let i = 0; i < 3; i++) {
      const response = await fetch(base + "/grow");
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }
    await waitFor(
      () => server.stats().restarts.memory === 1,
      "the worker is replaced",
    );
    const after = await fetch(base + "/");
    assert.equal(after.status, 200);
    await after.body?.cancel();
    await waitFor(
      () =>
        server.stats().workers.length === 1 &&
        server.stats().workers[0]!.heapMiB < 64,
      "a fresh worker serves",
    );
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("an adaptive pool grows while requests wait, and shrinks back to min when idle", async () => {
  const server = await start(await handlerFile("v1"), {
    workers: { min: 1, max: 3, growAfter: 50, shrinkAfter: 500 },
    concurrency: 1,
  });
  try {
    assert.equal(server.stats().workers.length, 1);
    const base = `http://127.0.0.1:${server.addr.port}`;
    const slow = Array.from(
      { length: 15 },
      () => fetch(base + "/slow").then((r) => r.text().then(() => r.status)),
    );
    await waitFor(
      () =>
        server.stats().workers.filter((w) => w.state === "ready").length === 3,
      "it grows to max",
    );
    assert.deepEqual(new Set(await Promise.all(slow)), new Set([200]));
    await waitFor(
      () => server.stats().workers.length === 1,
      "it shrinks back to min",
    );
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("the command line sets the adaptive pool and recycling", async () => {
  const { parseCliArgs } = await import("../src/cli.ts");
  const { toServeOptions } = await import("../src/_cli/serve_options.ts");
  const cli = parseCliArgs([
    "app.ts",
    "--workers",
    "2",
    "--max-workers",
    "6",
    "--max-requests-per-worker",
    "1000",
    "--max-worker-memory",
    "256",
  ]);
  const options = await toServeOptions(cli, "/srv");
  assert.deepEqual(options.workers, { min: 2, max: 6 });
  assert.equal(options.maxRequestsPerWorker, 1000);
  assert.equal(options.maxWorkerMemory, 256);
  assert.throws(
    () => parseCliArgs(["app.ts", "--max-worker-memory", "0"]),
    /max-worker-memory/,
  );
});
