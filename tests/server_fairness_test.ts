// Per-request fairness: a response whose handler has returned reaches the
// client while the same worker computes the next request, a worker claims
// only the request it starts now, and a burst of long requests leaves a
// worker for the short ones.
import assert from "node:assert/strict";
import { type PoolServer, serve, type ServeOptions } from "../src/server.ts";
import { assertNoLiveWorkers, waitFor, within } from "./_helpers.ts";

const FAIRNESS = new URL("./fixtures/handlers/fairness.ts", import.meta.url);
/** How long the slow request computes; the fast ones must not wait for it. */
const SLOW_MS = 800;

function start(options: Partial<ServeOptions>): Promise<PoolServer> {
  return serve({
    handler: FAIRNESS,
    hostname: "127.0.0.1",
    port: 0,
    handleSignals: false,
    onListen: () => {},
    ...options,
  });
}

/** GETs `path` and resolves with the moment its whole body had arrived. */
async function arrival(server: PoolServer, path: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${server.addr.port}${path}`);
  await response.text();
  assert.equal(response.status, 200, `${path} answered ${response.status}`);
  return performance.now();
}

/**
 * Holds every worker in a synchronous handler (a gate each), queues `paths`
 * in that order behind them, then `release`s the gates; resolves with each
 * path's arrival time.
 */
async function queuedBehindGates(
  server: PoolServer,
  workers: number,
  paths: string[],
  release: (open: (gate: number) => Promise<void>) => Promise<void> = (
    open,
  ) => Promise.all(Array.from({ length: workers }, (_, i) => open(i))).then(),
): Promise<number[]> {
  const dir = await Deno.makeTempDir();
  try {
    const gates: Promise<number>[] = [];
    for (let i = 0; i < workers; i++) {
      const file = encodeURIComponent(`${dir}/gate-${i}`);
      gates.push(arrival(server, `/gate?file=${file}`));
      await waitFor(
        () => server.stats().inFlight === i + 1 && server.stats().queued === 0,
        `gate ${i} is claimed by a worker`,
      );
    }
    const arrivals: Promise<number>[] = [];
    for (const [i, path] of paths.entries()) {
      arrivals.push(arrival(server, path));
      // One at a time, so the ring holds them in this order.
      await waitFor(
        () => server.stats().queued === i + 1,
        `${path} is queued behind the gates`,
      );
    }
    await release((gate) => Deno.writeTextFile(`${dir}/gate-${gate}`, "open"));
    await Promise.all(gates);
    return await Promise.all(arrivals);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (
  const fast of ["/fast", "/fast-headers", "/fast-async"] as const
) {
  Deno.test(`a ${fast} response reaches the client while its worker computes the next, slow request`, async () => {
    const server = await start({ workers: 1, concurrency: 16 });
    try {
      const [fastAt, slowAt] = await queuedBehindGates(server, 1, [
        fast,
        `/busy?ms=${SLOW_MS}`,
      ]);
      const lead = slowAt! - fastAt!;
      assert.ok(
        lead > SLOW_MS / 2,
        `${fast} arrived only ${
          lead.toFixed(0)
        } ms before the ${SLOW_MS} ms request claimed after it: it waited for it`,
      );
    } finally {
      await server.shutdown();
    }
    assertNoLiveWorkers();
  });
}

Deno.test("fast requests queued around a slow one on two workers all arrive while it computes", async () => {
  const server = await start({ workers: 2, concurrency: 16 });
  try {
    const paths = ["/fast", `/busy?ms=${SLOW_MS}`, "/fast-headers", "/fast"];
    // The first worker to leave its gate finds the fast request and the
    // slow one next to it; the second leaves once both are taken.
    const times = await queuedBehindGates(server, 2, paths, async (open) => {
      await open(0);
      await waitFor(
        () => server.stats().queued <= 2,
        "the first worker takes the first two requests",
      );
      await open(1);
    });
    const slowAt = times[1]!;
    for (const [i, at] of times.entries()) {
      if (i === 1) continue;
      assert.ok(
        slowAt - at > SLOW_MS / 2,
        `${paths[i]} (#${i}) arrived only ${
          (slowAt - at).toFixed(0)
        } ms before the slow request: it waited for it`,
      );
    }
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("async handlers on one worker still overlap up to its concurrency", async () => {
  const server = await start({ workers: 1, concurrency: 4 });
  try {
    const sleeping = Array.from(
      { length: 4 },
      () => arrival(server, "/sleep?ms=3000"),
    );
    await waitFor(
      () => server.stats().inFlight === 4,
      "four sleeping requests in flight on one worker at once",
    );
    assert.equal(server.stats().queued, 0);
    await Promise.all(sleeping);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

/** The path of a /gate request that computes until `dir/name` exists. */
function gatePath(dir: string, name: string): string {
  return `/gate?file=${encodeURIComponent(`${dir}/${name}`)}`;
}

/**
 * Teaches main that /gate is long: one gate computes until its file is
 * there, at least 100 ms (one request of 40 ms or more is enough); then a
 * short request, so main knows short ones are coming.
 */
async function teachLongGate(server: PoolServer, dir: string): Promise<void> {
  const taught = arrival(server, gatePath(dir, "teach"));
  await waitFor(() => server.stats().inFlight === 1, "the first gate runs");
  await new Promise((resolve) => setTimeout(resolve, 100));
  await Deno.writeTextFile(`${dir}/teach`, "open");
  await taught;
  await arrival(server, "/fast");
}

/**
 * Three long requests at once on two workers: waits until one runs and two
 * are held back; they compute until `dir/burst` exists.
 */
async function heldBurst(
  server: PoolServer,
  dir: string,
): Promise<Promise<number>[]> {
  const burst = [1, 2, 3].map(() => arrival(server, gatePath(dir, "burst")));
  // Handled now: a failure below must not surface as an uncaught one.
  for (const long of burst) long.catch(() => {});
  await waitFor(
    () => server.stats().inFlight === 1 && server.stats().queued === 2,
    "one long request runs and two wait",
  );
  return burst;
}

Deno.test("a burst of long requests leaves a worker free for short ones", async () => {
  const server = await start({ workers: 2, concurrency: 16 });
  const dir = await Deno.makeTempDir();
  let burst: Promise<number>[] = [];
  try {
    await teachLongGate(server, dir);
    burst = await heldBurst(server, dir);
    // Without the reserve both workers would be computing, and this one
    // would wait in the ring behind the third until the gate opens.
    await within(
      20_000,
      "a short request answered while the long ones wait for their gate",
      arrival(server, "/fast"),
    );
    assert.equal(server.stats().queued, 2, "the held ones are still held");
    await Deno.writeTextFile(`${dir}/burst`, "open");
    await Promise.all(burst);
  } finally {
    await Deno.writeTextFile(`${dir}/burst`, "open");
    await Promise.allSettled(burst);
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
  assertNoLiveWorkers();
});

Deno.test("a long request held back past requestTimeout gets 504 and the server serves on", async () => {
  const server = await start({
    workers: 2,
    concurrency: 16,
    requestTimeout: 1500,
  });
  const dir = await Deno.makeTempDir();
  const gate = (name: string) => gatePath(dir, name);
  const get = (path: string) =>
    fetch(`http://127.0.0.1:${server.addr.port}${path}`).then(async (r) => {
      await r.body?.cancel();
      return r.status;
    });
  try {
    await teachLongGate(server, dir);
    // The gate never opens: one runs into the timeout, one is held.
    const running = get(gate("never"));
    await waitFor(() => server.stats().inFlight === 1, "one long one runs");
    const held = get(gate("never"));
    await waitFor(() => server.stats().queued === 1, "the other is held");
    assert.equal(await within(20_000, "the held request's answer", held), 504);
    assert.equal(
      await within(20_000, "the running one's answer", running),
      504,
    );
    // Answered, so not counted as waiting (admission compares the count
    // with queueCapacity).
    assert.equal(server.stats().queued, 0);
    assert.equal(await get("/fast"), 200);
  } finally {
    await Deno.writeTextFile(`${dir}/never`, "open");
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
  assertNoLiveWorkers();
});

Deno.test("shutdown() lets held long requests run and answers them all", async () => {
  const server = await start({ workers: 2, concurrency: 16 });
  const dir = await Deno.makeTempDir();
  let burst: Promise<number>[] = [];
  try {
    await teachLongGate(server, dir);
    burst = await heldBurst(server, dir);
    const stopped = server.shutdown();
    await Deno.writeTextFile(`${dir}/burst`, "open");
    // arrival() asserts each one's 200.
    await within(20_000, "every held request answered", Promise.all(burst));
    await stopped;
  } finally {
    await Deno.writeTextFile(`${dir}/burst`, "open");
    await Promise.allSettled(burst);
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
  assertNoLiveWorkers();
});

Deno.test("a spare worker takes no request while no long one runs", async () => {
  const server = await start({ workers: 2, spareWorkers: 1, concurrency: 16 });
  try {
    await waitFor(
      () => server.stats().workers.at(-1)!.spare,
      "the newest worker is held as the spare",
    );
    // Enough at once that every worker taking tickets gets some.
    await Promise.all(
      Array.from({ length: 60 }, () => arrival(server, "/busy?ms=2")),
    );
    const [first, second, spare] = server.stats().workers;
    assert.equal(spare!.completed, 0, "the spare answered none");
    assert.equal(first!.completed + second!.completed, 60);
    assert.ok(spare!.spare);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a spare worker serves short requests while a long one holds the only other worker", async () => {
  const server = await start({ workers: 1, spareWorkers: 1, concurrency: 16 });
  const dir = await Deno.makeTempDir();
  let long: Promise<number> | undefined;
  try {
    await teachLongGate(server, dir);
    long = arrival(server, gatePath(dir, "long"));
    long.catch(() => {});
    await waitFor(() => server.stats().inFlight === 1, "the long one runs");
    // Its gate open, the spare takes this one (or the long one, leaving
    // the regular worker free); gated for good, it would wait for the long.
    await within(
      20_000,
      "a short request answered while the long one computes",
      arrival(server, "/fast"),
    );
    assert.equal(server.stats().inFlight, 1, "the long one still computes");
    assert.ok(!server.stats().workers.some((w) => w.spare), "the gate is open");
    await Deno.writeTextFile(`${dir}/long`, "open");
    await long;
    await waitFor(
      () => server.stats().workers.some((w) => w.spare),
      "the spare's gate closes once no long request runs",
    );
  } finally {
    await Deno.writeTextFile(`${dir}/long`, "open");
    await long?.catch(() => {});
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
  assertNoLiveWorkers();
});

Deno.test("streamed responses arrive whole while the spare's gate opens and closes under them", async () => {
  const server = await start({ workers: 2, spareWorkers: 1, concurrency: 16 });
  const base = `http://127.0.0.1:${server.addr.port}`;
  let streaming = true;
  const broken: string[] = [];
  let whole = 0;
  const stream = async () => {
    while (streaming) {
      const response = await fetch(`${base}/chunks`);
      const body = new Uint8Array(await response.arrayBuffer());
      if (
        response.status === 200 && body.length === 8 * 32 * 1024 &&
        body.at(-1) === 7
      ) {
        whole++;
      } else broken.push(`${response.status}, ${body.length} bytes`);
    }
  };
  const loops = Array.from({ length: 8 }, stream);
  try {
    // /busy is learnt as long first (one of 40 ms or more is enough).
    await arrival(server, "/busy?ms=100");
    for (let i = 0; i < 4; i++) {
      const long = arrival(server, "/busy?ms=300");
      await waitFor(
        () => !server.stats().workers.some((w) => w.spare),
        `the gate opens while long request ${i} runs`,
      );
      await long;
      await waitFor(
        () => server.stats().workers.some((w) => w.spare),
        `the gate closes after long request ${i}`,
      );
    }
  } finally {
    streaming = false;
    await Promise.all(loops);
    await server.shutdown();
  }
  assert.deepEqual(broken, [], "every streamed response arrived whole");
  assert.ok(whole > 0, "streams ran");
  assertNoLiveWorkers();
});
