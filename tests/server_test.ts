import assert from "node:assert/strict";
import { type PoolServer, serve, type ServeOptions } from "../src/server.ts";
import {
  DEFAULT_SPARE_WORKERS,
  defaultWorkers,
} from "../src/_server/settings.ts";
import { assertNoLiveWorkers, waitFor, within } from "./_helpers.ts";
import { COMPAT_CASES } from "./fixtures/handlers/compat_cases.ts";

const BEHAVIOURS = new URL(
  "./fixtures/handlers/behaviours.ts",
  import.meta.url,
);
const COMPAT = new URL("./fixtures/handlers/compat.ts", import.meta.url);

function start(options: Partial<ServeOptions> = {}): Promise<PoolServer> {
  return serve({
    handler: BEHAVIOURS,
    hostname: "127.0.0.1",
    port: 0,
    workers: 1,
    handleSignals: false,
    onListen: () => {},
    ...options,
  });
}

function url(server: PoolServer, path: string): string {
  return `http://127.0.0.1:${server.addr.port}${path}`;
}

async function text(
  server: PoolServer,
  path: string,
  init?: RequestInit,
): Promise<{ status: number; body: string; headers: Headers }> {
  const response = await fetch(url(server, path), init);
  return {
    status: response.status,
    body: await response.text(),
    headers: response.headers,
  };
}

/** A small seeded PRNG (mulberry32) so randomised tests replay. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("serve() answers from a worker and passes remoteAddr and workerId", async () => {
  const server = await start({ workers: 2 });
  try {
    const { status, body } = await text(server, "/who");
    assert.equal(status, 200);
    const who = JSON.parse(body);
    assert.ok(who.workerId === 1 || who.workerId === 2);
    assert.equal(who.remote, "127.0.0.1");
    assert.deepEqual((await text(server, "/hello")).body, "hello");
    assert.equal(server.stats().completed, 2);
    // info.completed resolves once the response is handed over.
    const first = JSON.parse((await text(server, "/completed")).body);
    assert.equal(first.resolved, 0);
    let resolved = 0;
    for (let i = 0; i < 50 && resolved === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      const { body } = await text(server, "/completed");
      const now = JSON.parse(body);
      if (now.workerId === first.workerId) resolved = now.resolved;
    }
    assert.ok(resolved >= 1, "info.completed resolved");
    assert.equal(server.stats().workers.length, 2);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("info.completed resolves only once Deno.serve has sent the response", async () => {
  const server = await start();
  try {
    const answer = fetch(url(server, "/completed-stamp"));
    // Let main hand the request over, then block main while the handler
    // finishes: the response cannot be sent before main runs again.
    await new Promise((r) => setTimeout(r, 30));
    const blockedUntil = Date.now() + 400;
    while (Date.now() < blockedUntil) { /* main is busy */ }
    assert.equal(await (await answer).text(), "stamped");
    let completedAt = 0;
    for (let i = 0; i < 100 && completedAt === 0; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 10));
      const { body } = await text(server, "/completed-at");
      completedAt = JSON.parse(body).completedAt;
    }
    assert.ok(
      completedAt >= blockedUntil,
      `resolved ${blockedUntil - completedAt} ms before main could send`,
    );
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("info.completed of a streamed response resolves in the worker, even when shutdown follows at once", async () => {
  const log = await Deno.makeTempFile();
  const server = await start();
  try {
    const response = await fetch(
      url(server, `/completed-stream?log=${encodeURIComponent(log)}`),
    );
    assert.equal(await response.text(), "chunk\nchunk\nchunk\n");
  } finally {
    await server.shutdown();
  }
  assert.equal(await Deno.readTextFile(log), "completed");
  await Deno.remove(log);
  assertNoLiveWorkers();
});

Deno.test("maxRequests: the last counted request is served, later ones get 503, and the server shuts itself down", async () => {
  const server = await start({ workers: 2, maxRequests: 3 });
  const answers = await Promise.all(
    Array.from({ length: 8 }, () => text(server, "/hello").catch(() => null)),
  );
  await server.finished;
  const served = answers.filter((a) => a?.status === 200);
  assert.equal(served.length, 3);
  for (const answer of answers) {
    if (answer === null || answer.status === 200) continue;
    assert.equal(answer.status, 503);
    assert.equal(answer.headers.get("connection"), "close");
  }
  assert.equal(server.stats().completed, 3);
  await assert.rejects(fetch(url(server, "/hello")));
  assertNoLiveWorkers();
});

Deno.test("concurrent clients never see another request's bytes, and each handler runs once", async () => {
  const seed = Date.now() % 100000;
  const next = random(seed);
  const log = await Deno.makeTempFile();
  const server = await start({ workers: 3, concurrency: 4 });
  try {
    const count = 300;
    const results = await Promise.all(
      Array.from({ length: count }, async (_, id) => {
        // Bodies from empty to two chunks, so inline and streamed both run.
        const size = Math.floor(next() ** 3 * 150_000);
        const body = new Uint8Array(size);
        for (let i = 0; i < size; i += 997) body[i] = (id + i) & 255;
        const response = await fetch(url(server, `/echo?id=${id}`), {
          method: "POST",
          body,
          headers: { "x-id": String(id), "x-log": log },
        });
        const echoed = await response.bytes();
        return response.status === 200 &&
          response.headers.get("x-id") === String(id) &&
          echoed.byteLength === size && echoed.every((b, i) => b === body[i]);
      }),
    );
    const failed = results.flatMap((ok, id) => ok ? [] : [id]);
    assert.deepEqual(failed, [], `mismatched responses (seed ${seed})`);
    const ran = (await Deno.readTextFile(log)).trim().split("\n").sort();
    assert.deepEqual(
      ran,
      Array.from({ length: count }, (_, id) => String(id)).sort(),
      `every handler must run exactly once (seed ${seed})`,
    );
  } finally {
    await server.shutdown();
    await Deno.remove(log);
  }
  assertNoLiveWorkers();
});

Deno.test("a handler module answers the same under ringpool as under Deno.serve", async () => {
  const module = (await import(COMPAT.href)).default;
  const plain = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    module.fetch,
  );
  const server = await start({ handler: COMPAT, workers: 2 });
  const cases = COMPAT_CASES;
  const describe = async (
    base: string,
    [path, init]: [string, RequestInit?],
  ) => {
    const response = await fetch(base + path, { ...init, redirect: "manual" });
    const headers: Record<string, string> = {};
    // Not content-length: a stream that is complete within a few microtask
    // turns is sent with a length instead of chunked; the bytes are the same.
    for (const name of ["content-type", "x-custom", "x-head"]) {
      const value = response.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    const location = response.headers.get("location");
    return {
      status: response.status,
      headers,
      cookies: response.headers.getSetCookie(),
      location: location?.replace(/:\d+\//, ":PORT/"),
      body: [...await response.bytes()],
    };
  };
  try {
    for (const item of cases) {
      const expected = await describe(
        `http://127.0.0.1:${plain.addr.port}`,
        item,
      );
      const actual = await describe(url(server, ""), item);
      assert.deepEqual(
        actual,
        expected,
        `${item[1]?.method ?? "GET"} ${item[0]}`,
      );
    }
  } finally {
    await server.shutdown();
    await plain.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a 100 MiB upload and download stream through with bounded memory", async () => {
  const server = await start({ maxBodySize: 200 * 1024 * 1024 });
  try {
    const roundTrip = async (size: number) => {
      let sent = 0;
      const chunk = new Uint8Array(1024 * 1024).fill(7);
      const upload = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent === size) return controller.close();
          sent += chunk.byteLength;
          controller.enqueue(chunk);
        },
      });
      const counted = await text(server, "/count", {
        method: "POST",
        body: upload,
      });
      assert.equal(counted.status, 200);
      assert.deepEqual(JSON.parse(counted.body), { total: size });

      const response = await fetch(url(server, `/stream?size=${size}`));
      let received = 0;
      for await (const part of response.body!) received += part.byteLength;
      assert.equal(received, size);
    };
    // A first, smaller round grows the heaps of both threads to the size
    // that streaming needs (uncollected garbage included), so the growth
    // measured below is what the big bodies add.
    await roundTrip(32 * 1024 * 1024);
    const size = 100 * 1024 * 1024;
    const before = Deno.memoryUsage().rss;
    await roundTrip(size);
    // Buffering either body whole would grow the process (client and
    // server share it) by at least its size.
    const grown = Deno.memoryUsage().rss - before;
    assert.ok(grown < size, `RSS grew by ${grown} bytes`);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("server-sent events reach the client one by one", async () => {
  const server = await start();
  try {
    const t0 = performance.now();
    const response = await fetch(url(server, "/sse?n=3&gap=400"));
    const reader = response.body!.getReader();
    const first = await reader.read();
    const firstAt = performance.now() - t0;
    assert.equal(new TextDecoder().decode(first.value), "data: 0\n\n");
    assert.ok(firstAt < 350, `the first event took ${firstAt} ms`);
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      rest += new TextDecoder().decode(r.value);
    }
    assert.equal(rest, "data: 1\n\ndata: 2\n\n");
    assert.ok(performance.now() - t0 >= 800);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a slow reader throttles the worker's response stream", async () => {
  const server = await start({ concurrency: 2 });
  try {
    const response = await fetch(url(server, `/stream?size=${1024 ** 3}`));
    const reader = response.body!.getReader();
    await reader.read();
    await new Promise((r) => setTimeout(r, 300));
    const { produced } = JSON.parse((await text(server, "/seen")).body);
    // Socket buffers hold a few MiB; a worker that ignored backpressure
    // would have produced hundreds by now.
    assert.ok(produced < 32 * 1024 * 1024, `produced ${produced} bytes`);
    await reader.cancel();
    await waitFor(() => server.stats().inFlight === 0, "the slot is freed");
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a full queue answers 503 with Retry-After at once and recovers", async () => {
  const server = await start({ concurrency: 1, queueCapacity: 1 });
  try {
    const first = text(server, "/sleep?ms=400");
    await waitFor(
      () => server.stats().inFlight === 1,
      "the first request runs",
    );
    const second = text(server, "/sleep?ms=1");
    await waitFor(() => server.stats().queued === 1, "the second is queued");
    const t0 = performance.now();
    const third = await text(server, "/hello");
    assert.equal(third.status, 503);
    assert.equal(third.headers.get("retry-after"), "1");
    assert.ok(performance.now() - t0 < 200);
    assert.equal((await first).status, 200);
    assert.equal((await second).status, 200);
    assert.equal((await text(server, "/hello")).status, 200);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a body over maxBodySize gets 413 and the worker never sees more than the limit", async () => {
  const server = await start({ maxBodySize: 100_000, concurrency: 2 });
  try {
    const declared = await text(server, "/count", {
      method: "POST",
      body: new Uint8Array(100_001),
    });
    assert.equal(declared.status, 413);
    // Chunked: no Content-Length, so the server must count and stop.
    let sent = 0;
    const chunked = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 1_000_000) return controller.close();
        sent += 30_000;
        controller.enqueue(new Uint8Array(30_000));
      },
    });
    const streamed = await text(server, "/count", {
      method: "POST",
      body: chunked,
    });
    assert.equal(streamed.status, 413);
    await waitFor(() => server.stats().inFlight === 0, "the request ends");
    const { bodySeen } = JSON.parse((await text(server, "/seen")).body);
    assert.ok(bodySeen <= 100_000, `the worker saw ${bodySeen} bytes`);
    assert.ok(bodySeen > 0);
    const ok = await text(server, "/count", {
      method: "POST",
      body: new Uint8Array(100_000),
    });
    assert.deepEqual(JSON.parse(ok.body), { total: 100_000 });
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a handler that throws or rejects gets 500 and its worker keeps serving", async () => {
  const server = await start();
  try {
    const before = JSON.parse((await text(server, "/who")).body).started;
    assert.equal((await text(server, "/throw")).status, 500);
    assert.equal((await text(server, "/reject")).status, 500);
    assert.equal((await text(server, "/not-response")).status, 500);
    const stray = await text(server, "/unhandled");
    assert.equal(stray.body, "still here");
    await new Promise((r) => setTimeout(r, 50));
    const after = JSON.parse((await text(server, "/who")).body).started;
    assert.equal(after, before, "the same worker instance still serves");
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a response whose Content-Length does not match its body becomes 500", async () => {
  const server = await start();
  try {
    const bad = await text(server, "/bad-length");
    assert.equal(bad.status, 500);
    assert.equal((await text(server, "/hello")).body, "hello");
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a never-settling handler gets 504 and the worker stays", async () => {
  const server = await start({ requestTimeout: 300 });
  try {
    const before = JSON.parse((await text(server, "/who")).body).started;
    const t0 = performance.now();
    assert.equal((await text(server, "/never")).status, 504);
    assert.ok(performance.now() - t0 < 1000);
    await waitFor(() => server.stats().inFlight === 0, "the slot is released");
    const after = JSON.parse((await text(server, "/who")).body).started;
    assert.equal(after, before);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("bodies between 64 KiB and 1 MiB travel whole and intact under concurrent load", async () => {
  const seed = Date.now() % 100000;
  const next = random(seed);
  const server = await start({ workers: 2, concurrency: 2 });
  try {
    const results = await Promise.all(
      Array.from({ length: 12 }, async (_, id) => {
        // From just over the slot's 64 KiB up to the 1 MiB bulk limit.
        const size = 65537 + Math.floor(next() * (1024 * 1024 - 65537));
        const body = new Uint8Array(size);
        for (let i = 0; i < size; i += 4096) body[i] = (id * 31 + i) & 255;
        const path = id % 2 === 0 ? "/echo" : "/echo-plain";
        const response = await fetch(url(server, path), {
          method: "POST",
          body,
          headers: { "x-id": String(id) },
        });
        const echoed = await response.bytes();
        return { id, path, status: response.status, body, echoed, response };
      }),
    );
    for (const { id, path, status, body, echoed, response } of results) {
      assert.equal(status, 200, `seed ${seed}, request ${id}`);
      if (path === "/echo") assert.equal(response.headers.get("x-id"), `${id}`);
      assert.equal(
        response.headers.get("content-length"),
        String(body.byteLength),
      );
      assert.deepEqual(echoed, body, `seed ${seed}, request ${id}`);
    }
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a second whole body on a worker already running one arrives intact", async () => {
  // One worker, two slots: both bulk bodies are fetched by the same worker,
  // the second while the first request's handler still sleeps.
  const server = await start({ workers: 1, concurrency: 2 });
  try {
    const sleeping = text(server, "/sleep?ms=400", {
      method: "POST",
      body: new Uint8Array(200 * 1024),
    });
    await waitFor(() => server.stats().inFlight === 1, "the sleep starts");
    const body = new Uint8Array(300 * 1024);
    for (let i = 0; i < body.length; i += 1024) body[i] = i >> 10;
    const echoed = await fetch(url(server, "/echo-plain"), {
      method: "POST",
      body,
    });
    assert.equal(echoed.status, 200);
    assert.deepEqual(await echoed.bytes(), body);
    assert.equal((await sleeping).body, "slept 400");
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a whole body queued behind a worker stuck in a busy loop gets 504, and the replacement echoes bodies", async () => {
  const server = await start({
    workers: 1,
    concurrency: 2,
    requestTimeout: 300,
  });
  try {
    const spinning = text(server, "/spin");
    await waitFor(() => server.stats().inFlight === 1, "the spin starts");
    // The worker never claims it, so its body is never sent.
    const posted = await text(server, "/echo", {
      method: "POST",
      body: new Uint8Array(200 * 1024),
    });
    assert.equal(posted.status, 504);
    assert.equal((await spinning).status, 504);
    assert.equal((await text(server, "/hello")).body, "hello");
    const echoed = await fetch(url(server, "/echo"), {
      method: "POST",
      body: new Uint8Array(200 * 1024).fill(7),
    });
    assert.deepEqual(
      await echoed.bytes(),
      new Uint8Array(200 * 1024).fill(7),
    );
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a busy-looping handler gets 504, its worker is replaced, others keep serving", async () => {
  const server = await start({ workers: 2, requestTimeout: 300 });
  try {
    const spinning = text(server, "/spin");
    await waitFor(() => server.stats().inFlight === 1, "the spin starts");
    for (let i = 0; i < 5; i++) {
      assert.equal((await text(server, "/hello")).status, 200);
    }
    assert.equal((await spinning).status, 504);
    await waitFor(
      () => server.stats().inFlight === 0,
      "the stuck worker is gone",
    );
    await waitFor(
      () => server.stats().restarts.timeout === 1,
      "the stuck worker is counted as a timeout restart",
    );
    assert.equal(server.stats().restarts.crash, 0);
    const workers = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const who = await text(server, "/who");
      assert.equal(who.status, 200);
      workers.add(JSON.parse(who.body).workerId);
    }
    assert.ok(workers.size >= 1);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

for (
  const [path, how] of [["/exit", "process.exit()"], [
    "/close",
    "self.close()",
  ]] as const
) {
  Deno.test(`a worker that dies by ${how} fails its requests with 502 and is replaced`, async () => {
    const log = await Deno.makeTempFile();
    const server = await start({ concurrency: 4 });
    try {
      const before = JSON.parse((await text(server, "/who")).body).started;
      const bystander = text(server, "/sleep?ms=2000");
      await waitFor(() => server.stats().inFlight === 1, "the bystander runs");
      const t0 = performance.now();
      const dying = await text(server, path, {
        headers: { "x-id": "dying", "x-log": log },
      });
      assert.equal(dying.status, 502);
      assert.equal((await bystander).status, 502);
      assert.ok(performance.now() - t0 < 1000);
      const after = JSON.parse((await text(server, "/who")).body).started;
      assert.notEqual(after, before, "a new worker serves");
      assert.equal(await Deno.readTextFile(log), "dying\n", "never run twice");
      // The replacement claims under a new id: info.completed still reaches it.
      let resolved = 0;
      for (let i = 0; i < 200 && resolved === 0; i++) {
        resolved = JSON.parse((await text(server, "/completed")).body).resolved;
        if (resolved === 0) await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(resolved >= 1, "info.completed resolved on the replacement");
    } finally {
      await server.shutdown();
      await Deno.remove(log);
    }
    assertNoLiveWorkers();
  });
}

// The worker starts handlers from a setImmediate callback (see pump() in
// src/_server_worker.ts): that is what lets the heap limit end the worker.
Deno.test("a handler that runs out of memory kills only its worker: 502, then a replacement serves", async () => {
  const server = await start({
    concurrency: 4,
    resourceLimits: { maxOldGenerationSizeMb: 32 },
  });
  try {
    const before = JSON.parse((await text(server, "/who")).body).started;
    const t0 = performance.now();
    assert.equal((await text(server, "/oom")).status, 502);
    // Well before requestTimeout (30 s) would have answered 504.
    assert.ok(performance.now() - t0 < 10_000);
    const after = JSON.parse((await text(server, "/who")).body).started;
    assert.notEqual(after, before, "a new worker serves");
    assert.equal((await text(server, "/hello")).body, "hello");
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a client that disconnects aborts the worker's request.signal and frees the slot", async () => {
  const server = await start({ concurrency: 2 });
  try {
    const controller = new AbortController();
    const pending = fetch(url(server, "/wait-abort"), {
      signal: controller.signal,
    }).catch(() => "aborted");
    await waitFor(() => server.stats().inFlight === 1, "the request runs");
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    assert.equal(await pending, "aborted");
    await waitFor(() => server.stats().inFlight === 0, "the slot is freed");
    const { aborted } = JSON.parse((await text(server, "/seen")).body);
    assert.equal(aborted, 1);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("serve() rejects with a clear error when the handler module fails to load", async () => {
  await assert.rejects(
    start({
      handler: new URL("./fixtures/handlers/broken.ts", import.meta.url),
      workers: 2,
    }),
    /handler module failed to load.*broken on purpose/s,
  );
  await assert.rejects(
    start({
      handler: new URL("./fixtures/handlers/no_fetch.ts", import.meta.url),
    }),
    /export default \{ fetch/,
  );
  assertNoLiveWorkers();
});

Deno.test("serve()'s default pool is one worker per core and one more", async () => {
  // A fixed 4 left most of a bigger machine idle for CPU-bound handlers,
  // and on 2 cores a fourth worker only shared the cores.
  assert.deepEqual(
    [0, 1, 2, 3, 4, 8, 16, 255, 1000].map((cores) => defaultWorkers(cores)),
    [2, 2, 3, 4, 5, 9, 17, 256, 256],
  );
  // And serve() without `workers` starts that many here, and the spare:
  // the newest, held out of the ring while no long request runs.
  const server = await start({ workers: undefined });
  try {
    const { workers } = server.stats();
    assert.equal(
      workers.length,
      defaultWorkers(navigator.hardwareConcurrency) + DEFAULT_SPARE_WORKERS,
    );
    await waitFor(
      () => server.stats().workers.at(-1)!.spare,
      "the newest worker is held as the spare",
    );
    assert.equal(server.stats().workers.filter((w) => w.spare).length, 1);
    assert.equal((await text(server, "/hello")).status, 200);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("serve() answers 502 at once for a request claimed by a thread that has exited", async () => {
  // Deno emits a worker's exit within terminate() and the thread may run on
  // for a moment: a claim it makes then names a thread that is gone. Before
  // claims named positions, that request looked like its replacement's: it
  // waited for requestTimeout, then the replacement was terminated too.
  const server = await start({
    handler: new URL("./fixtures/handlers/late_claim.ts", import.meta.url),
    requestTimeout: 60_000,
  });
  try {
    const steal = text(server, "/steal");
    // Sent once /steal runs, so its ticket is the one the handler pops.
    await waitFor(
      () => server.stats().workers[0]!.inFlight === 1,
      "/steal running",
    );
    const victim = text(server, "/victim");
    assert.equal(
      (await within(20_000, "/steal answering", steal)).body,
      "stole",
    );
    assert.equal(
      (await within(20_000, "/victim answering", victim)).status,
      502,
    );
    const after = await text(server, "/next");
    assert.equal(after.body, "ok");
    assert.equal(server.stats().workers[0]!.state, "ready");
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("serve() validates its options", () => {
  assert.throws(() => serve({ handler: "" }), TypeError);
  assert.throws(
    () => serve({ handler: BEHAVIOURS, workers: 0 }),
    /'workers' must be an integer from 1/,
  );
  assert.throws(
    () => serve({ handler: BEHAVIOURS, concurrency: 1.5 }),
    RangeError,
  );
  assert.throws(
    () => serve({ handler: BEHAVIOURS, spareWorkers: -1 }),
    /'spareWorkers' must be an integer from 0/,
  );
});

Deno.test("the static option serves files on the main thread and passes the rest to workers", async () => {
  const root = await Deno.makeTempDir();
  await Deno.writeTextFile(`${root}/file.txt`, "from disk");
  const server = await start({ static: { root, prefix: "/assets" } });
  try {
    const file = await text(server, "/assets/file.txt");
    assert.equal(file.status, 200);
    assert.equal(file.body, "from disk");
    assert.equal((await text(server, "/hello")).body, "hello");
    // Only the worker request counts as completed by the pool.
    assert.equal(server.stats().completed, 1);
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
  assertNoLiveWorkers();
});

Deno.test("stats() counts queued, in-flight and completed requests per worker", async () => {
  const server = await start({ workers: 2, concurrency: 1, queueCapacity: 8 });
  try {
    const slow = [1, 2, 3].map(() => text(server, "/sleep?ms=300"));
    await waitFor(
      () => server.stats().inFlight === 2 && server.stats().queued === 1,
      "two run, one waits",
    );
    const stats = server.stats();
    assert.deepEqual(
      stats.workers.map(({ id, state, inFlight, streams, sockets }) => ({
        id,
        state,
        inFlight,
        streams,
        sockets,
      })),
      [
        { id: 1, state: "ready", inFlight: 1, streams: 0, sockets: 0 },
        { id: 2, state: "ready", inFlight: 1, streams: 0, sockets: 0 },
      ],
    );
    assert.deepEqual(stats.restarts, {
      reload: 0,
      requests: 0,
      memory: 0,
      timeout: 0,
      crash: 0,
    });
    await Promise.all(slow);
    await waitFor(() => server.stats().completed === 3, "all complete");
    assert.equal(server.stats().queued, 0);
    assert.equal(server.stats().inFlight, 0);
    const after = server.stats().workers;
    assert.equal(after[0]!.completed + after[1]!.completed, 3);
    assert.ok(
      after.every((w) => w.heapMiB > 0),
      "each worker reports its heap",
    );
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a long request on one worker does not delay requests another worker can take", async () => {
  const server = await start({ workers: 2, concurrency: 1 });
  try {
    const long = text(server, "/sleep?ms=1500");
    await waitFor(() => server.stats().inFlight === 1, "the long one runs");
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) {
      assert.equal((await text(server, "/hello")).body, "hello");
    }
    const elapsed = performance.now() - t0;
    assert.ok(elapsed < 1000, `10 short requests took ${elapsed} ms`);
    assert.equal((await long).status, 200);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("readinessPath and metricsPath are answered on the main thread when set", async () => {
  const server = await start({
    readinessPath: "/healthz",
    metricsPath: "/metrics",
  });
  try {
    assert.equal((await text(server, "/hello")).body, "hello");
    const ready = await text(server, "/healthz");
    assert.equal(ready.status, 200);
    assert.equal(ready.body, "ready");
    const metrics = await text(server, "/metrics");
    assert.match(metrics.body, /^ringpool_requests_completed_total 1$/m);
    assert.match(
      metrics.body,
      /^ringpool_worker_restarts_total\{reason="timeout"\} 0$/m,
    );
    assert.match(
      metrics.body,
      /^ringpool_requests_in_flight\{worker="1"\} 0$/m,
    );
    assert.match(metrics.body, /^ringpool_requests_queued 0$/m);
    // Neither reached a worker.
    assert.equal(server.stats().completed, 1);
    // Responses by status and the latency histogram count what workers answered.
    assert.equal((await text(server, "/throw")).status, 500);
    const after = (await text(server, "/metrics")).body;
    assert.match(after, /^ringpool_responses_total\{status="200"\} 1$/m);
    assert.match(after, /^ringpool_responses_total\{status="500"\} 1$/m);
    assert.match(after, /^ringpool_request_duration_seconds_count 2$/m);
    assert.match(
      after,
      /^ringpool_request_duration_seconds_bucket\{le="\+Inf"\} 2$/m,
    );
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("readiness and metrics are off by default", async () => {
  const server = await start();
  try {
    assert.equal((await text(server, "/healthz")).status, 404);
    assert.equal((await text(server, "/metrics")).status, 404);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a request head larger than a slot's head area gets 431", async () => {
  const server = await start();
  try {
    // Deno takes heads up to ~64 KiB; latin1 values take two UTF-8 bytes
    // each in the slot, so 40,000 of them do not fit its 65 KiB area.
    const big = await text(server, "/hello", {
      headers: { "x-big": "\u00e9".repeat(40_000) },
    });
    assert.equal(big.status, 431);
    assert.equal((await text(server, "/hello")).body, "hello");
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a handler can stream the request body back while it arrives", async () => {
  const server = await start();
  try {
    const size = 5 * 1024 * 1024 + 123;
    const body = new Uint8Array(size);
    for (let i = 0; i < size; i++) body[i] = (i * 31) & 255;
    let offset = 0;
    const upload = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= size) return controller.close();
        const end = Math.min(size, offset + 100_000);
        controller.enqueue(body.subarray(offset, end));
        offset = end;
      },
    });
    const response = await fetch(url(server, "/pipe"), {
      method: "POST",
      body: upload,
    });
    const echoed = await response.bytes();
    assert.equal(echoed.byteLength, size);
    assert.ok(echoed.every((b, i) => b === body[i]), "the bytes round-trip");
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("serve() works when ringpool is imported from an http: URL", async () => {
  // Serve the repository as a package host would (JSR serves over https);
  // node workers only start file: and data: URLs, so this pins down that
  // the server's worker entry is started through a data: module.
  const repo = new URL("../", import.meta.url);
  const host = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      try {
        const file = await Deno.readFile(new URL(`.${path}`, repo));
        return new Response(file, {
          headers: { "content-type": "application/typescript" },
        });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  const origin = `http://127.0.0.1:${host.addr.port}/`;
  // Outside the repository and without a lockfile, so nothing of the
  // repository's configuration helps the remote module along.
  const tmp = await Deno.makeTempDir({ prefix: "ringpool_serve_url_" });
  try {
    await Deno.writeTextFile(
      `${tmp}/handler.ts`,
      `export default { fetch: (_r: Request, info: { workerId: number }) =>
        new Response("remote " + info.workerId) };`,
    );
    await Deno.writeTextFile(
      `${tmp}/main.ts`,
      `import { serve } from "${origin}mod.ts";
      const server = await serve({ handler: "./handler.ts", hostname: "127.0.0.1",
        port: 0, workers: 1, handleSignals: false, onListen: () => {} });
      const response = await fetch("http://127.0.0.1:" + server.addr.port + "/");
      console.log(response.status, await response.text());
      await server.shutdown();`,
    );
    // --reload so a module cached from an earlier run on the same port is
    // not reused.
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-lock", `--reload=${origin}`, "main.ts"],
      cwd: tmp,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    assert.equal(new TextDecoder().decode(output.stdout), "200 remote 1\n");
  } finally {
    await host.shutdown();
    await Deno.remove(tmp, { recursive: true });
  }
});
