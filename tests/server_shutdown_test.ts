import assert from "node:assert/strict";
import { type PoolServer, serve, type ServeOptions } from "../src/server.ts";
import { assertNoLiveWorkers, waitFor } from "./_helpers.ts";

const BEHAVIOURS = new URL(
  "./fixtures/handlers/behaviours.ts",
  import.meta.url,
);

function start(options: Partial<ServeOptions> = {}): Promise<PoolServer> {
  return serve({
    handler: BEHAVIOURS,
    hostname: "127.0.0.1",
    port: 0,
    workers: 2,
    handleSignals: false,
    onListen: () => {},
    ...options,
  });
}

function url(server: PoolServer, path: string): string {
  return `http://127.0.0.1:${server.addr.port}${path}`;
}

Deno.test("shutdown() lets in-flight requests finish with Connection: close, refuses new ones and joins every worker", async () => {
  const events: string[] = [];
  const server = await start({
    onDrain: () => events.push("drain"),
    onWorkerExit: (id) => events.push(`exit ${id}`),
  });
  const slow = fetch(url(server, "/sleep?ms=400"));
  const streaming = fetch(url(server, "/sse?n=3&gap=100"));
  // The sleep holds a slot; the stream left its slot with its first chunk.
  await waitFor(() => {
    const stats = server.stats();
    return stats.inFlight === 1 &&
      stats.workers.reduce((sum, w) => sum + w.streams, 0) === 1;
  }, "both requests run");
  const t0 = performance.now();
  const done = server.shutdown();
  assert.equal(server.shutdown(), done, "shutdown twice is the same");
  await new Promise((r) => setTimeout(r, 50));
  await assert.rejects(fetch(url(server, "/hello")), "new connections refused");
  assert.ok(performance.now() - t0 < 1000);
  const response = await slow;
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("connection"), "close");
  assert.equal(await response.text(), "slept 400");
  assert.equal(
    await (await streaming).text(),
    "data: 0\n\ndata: 1\n\ndata: 2\n\n",
  );
  await done;
  await server.finished;
  assert.deepEqual(events.sort(), ["drain", "exit 1", "exit 2"]);
  assertNoLiveWorkers();
});

Deno.test("shutdown() cuts off what still runs at the drain timeout", async () => {
  const server = await start({ drainTimeout: 200 });
  const stuck = fetch(url(server, "/never"));
  await waitFor(() => server.stats().inFlight === 1, "the request runs");
  const t0 = performance.now();
  await server.shutdown();
  const elapsed = performance.now() - t0;
  assert.ok(elapsed < 1500, `shutdown took ${elapsed} ms`);
  const response = await stuck;
  assert.equal(response.status, 503);
  await response.body?.cancel();
  assertNoLiveWorkers();
});

Deno.test("shutdown() joins a worker stuck in a busy loop by terminating it", async () => {
  const server = await start({ drainTimeout: 100, workers: 1 });
  const stuck = fetch(url(server, "/spin"));
  await waitFor(() => server.stats().inFlight === 1, "the spin runs");
  await server.shutdown({ timeout: 100 });
  const response = await stuck;
  assert.equal(response.status, 503);
  await response.body?.cancel();
  assertNoLiveWorkers();
});

Deno.test("aborting the signal option shuts the server down", async () => {
  const controller = new AbortController();
  const server = await start({ signal: controller.signal, workers: 1 });
  const response = await fetch(url(server, "/hello"));
  assert.equal(await response.text(), "hello");
  controller.abort();
  await server.finished;
  assertNoLiveWorkers();
});

Deno.test("[Symbol.asyncDispose] shuts the server down", async () => {
  let port: number;
  {
    await using server = await start({ workers: 1 });
    port = server.addr.port;
    const response = await fetch(url(server, "/hello"));
    assert.equal(await response.text(), "hello");
  }
  await assert.rejects(fetch(`http://127.0.0.1:${port}/hello`));
  assertNoLiveWorkers();
});

Deno.test("the handleSignals listeners are removed on shutdown", async () => {
  // The resource sanitizer fails this test if a signal listener is left.
  const server = await start({ handleSignals: true, workers: 1 });
  await server.shutdown();
  assertNoLiveWorkers();
});

async function spawnServer(): Promise<{
  child: Deno.ChildProcess;
  port: number;
  until: (pattern: RegExp) => Promise<void>;
  output: () => Promise<{ code: number; stdout: string }>;
}> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./fixtures/handlers/serve_main.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  let seen = "";
  const until = async (pattern: RegExp) => {
    while (!pattern.test(seen)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`no ${pattern} in: ${seen}`);
      seen += new TextDecoder().decode(value);
    }
  };
  await until(/port (\d+)/);
  const port = Number(/port (\d+)/.exec(seen)![1]);
  const output = async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    const { code } = await child.status;
    return { code, stdout: seen };
  };
  return { child, port, until, output };
}

Deno.test("SIGTERM drains in-flight requests and the process exits 0 by itself", async () => {
  const { child, port, output } = await spawnServer();
  const slow = fetch(`http://127.0.0.1:${port}/sleep?ms=300`);
  await new Promise((r) => setTimeout(r, 100));
  child.kill("SIGTERM");
  const response = await slow;
  assert.equal(await response.text(), "slept 300");
  const { code, stdout } = await output();
  assert.equal(code, 0);
  assert.match(stdout, /draining/);
  assert.match(stdout, /worker 1 joined/);
  assert.match(stdout, /worker 2 joined/);
  assert.match(stdout, /finished/);
});

Deno.test("a second SIGINT exits at once", async () => {
  const { child, port, until, output } = await spawnServer();
  const stuck = fetch(`http://127.0.0.1:${port}/never`).catch(() => null);
  await new Promise((r) => setTimeout(r, 100));
  const t0 = performance.now();
  child.kill("SIGINT");
  await until(/draining/); // the first signal started the drain
  child.kill("SIGINT");
  const { code, stdout } = await output();
  assert.notEqual(code, 0);
  assert.doesNotMatch(stdout, /finished/);
  assert.ok(performance.now() - t0 < 2000);
  const response = await stuck;
  await response?.body?.cancel();
});

Deno.test("shutdown() closes idle keep-alive connections", async () => {
  const server = await start({ workers: 1 });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  try {
    await conn.write(
      new TextEncoder().encode("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"),
    );
    const buffer = new Uint8Array(4096);
    const read = await conn.read(buffer);
    assert.match(
      new TextDecoder().decode(buffer.subarray(0, read ?? 0)),
      /^HTTP\/1.1 200[^]*hello$/,
    );
    const t0 = performance.now();
    await server.shutdown();
    // The server closed our idle connection: the next read sees EOF.
    assert.equal(await conn.read(buffer), null);
    assert.ok(performance.now() - t0 < 1000);
  } finally {
    conn.close();
  }
  assertNoLiveWorkers();
});

Deno.test("readinessDelay: readiness answers 503 at once while other requests are served until the delay ends", async () => {
  const server = await start({
    workers: 1,
    readinessPath: "/healthz",
    readinessDelay: 400,
  });
  const get = async (path: string) => {
    const response = await fetch(url(server, path));
    return { status: response.status, body: await response.text() };
  };
  assert.deepEqual(await get("/healthz"), { status: 200, body: "ready" });
  const t0 = performance.now();
  const done = server.shutdown();
  assert.deepEqual(await get("/healthz"), { status: 503, body: "draining" });
  assert.deepEqual(await get("/hello"), { status: 200, body: "hello" });
  assert.ok(performance.now() - t0 < 400, "both answered within the delay");
  await done;
  assert.ok(performance.now() - t0 >= 390, "accepting stopped after the delay");
  await assert.rejects(fetch(url(server, "/hello")), "then refused");
  assertNoLiveWorkers();
});
