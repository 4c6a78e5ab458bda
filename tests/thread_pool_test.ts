import assert from "node:assert/strict";
import {
  PoolClosedError,
  QueueFullError,
  WorkerExitedError,
} from "../src/errors.ts";
import { ThreadPool } from "../src/thread_pool.ts";
import { assertNoLiveWorkers, within } from "./_helpers.ts";

const JOBS = new URL("./fixtures/pool_jobs.ts", import.meta.url);

/** Polls `condition` every few milliseconds until it holds (or fails after `ms`). */
async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) {
      throw new Error(`Condition not met within ${ms} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Lets a `hold` job (see fixtures/pool_jobs.ts) return. */
function release(gate: SharedArrayBuffer): void {
  const words = new Int32Array(gate);
  Atomics.store(words, 1, 1);
  Atomics.notify(words, 1);
}

Deno.test("ThreadPool rejects a size that is not a positive integer", () => {
  for (const size of [0, -1, 1.5, NaN]) {
    assert.throws(
      () => new ThreadPool(JOBS, { size }),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message.includes(`'size' must be a positive integer`) &&
        error.message.includes(`received ${size}`),
    );
  }
  assert.throws(() => new ThreadPool(JOBS, { concurrency: 0 }), RangeError);
  assert.throws(() => new ThreadPool(JOBS, { queueCapacity: -1 }), RangeError);
  assert.throws(() => new ThreadPool(JOBS, { slotSize: 8 }), RangeError);
  assert.throws(() => new ThreadPool(42 as unknown as string), TypeError);
  assertNoLiveWorkers();
});

Deno.test("ThreadPool defaults its size to navigator.hardwareConcurrency", async () => {
  const pool = new ThreadPool(JOBS);
  assert.equal(pool.size, navigator.hardwareConcurrency);
  assert.equal(pool.stats().workers.length, navigator.hardwareConcurrency);
  await pool.ready;
  await pool.close();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool resolves a relative module path against the working directory", async () => {
  const relative = "tests/fixtures/pool_jobs.ts";
  const cwd = Deno.cwd();
  Deno.chdir(new URL("..", import.meta.url));
  try {
    await using pool = new ThreadPool(relative, { size: 1 });
    assert.equal(await pool.run("add", [1, 2]), 3);
  } finally {
    Deno.chdir(cwd);
  }
  assertNoLiveWorkers();
});

Deno.test("ThreadPool.run() returns results and structured-clone values", async () => {
  await using pool = new ThreadPool(JOBS, { size: 2 });
  assert.equal(await pool.run("add", [2, 40]), 42);
  assert.equal(await pool.run("noResult"), undefined);
  const rich = {
    date: new Date(1234),
    map: new Map([["a", 1]]),
    set: new Set([1, 2]),
    bytes: new Uint8Array([1, 2, 3]),
    missing: undefined,
    special: [NaN, -0, Infinity],
    big: 12345678901234567890n,
  };
  assert.deepEqual(await pool.run("echo", [rich]), rich);
  const plain = { a: [1, "two", { three: true }], b: null };
  assert.deepEqual(await pool.run("echo", [plain]), plain);
  await pool.close();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool.run() rejects with the job's error name, message and stack", async () => {
  await using pool = new ThreadPool(JOBS, { size: 1 });
  const error = await pool.run("fail", ["no good"]).then(
    () => assert.fail("the job should throw"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof RangeError);
  assert.equal(error.name, "RangeError");
  assert.equal(error.message, "no good");
  assert.match(
    error.stack ?? "",
    /^RangeError: no good\n\s+at fail \(.*pool_jobs\.ts/,
  );
  // A thrown non-Error value comes back as itself.
  await assert.rejects(pool.run("failWithValue", [{ code: 7 }]), (value) => {
    assert.deepEqual(value, { code: 7 });
    return true;
  });
  // The worker survived both.
  assert.equal(await pool.run("add", [1, 1]), 2);
  await pool.close();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool.run() rejects an unknown export name with a TypeError naming the exports", async () => {
  await using pool = new ThreadPool(JOBS, { size: 1 });
  await assert.rejects(
    pool.run("nope"),
    (error: unknown) =>
      error instanceof TypeError && /'nope'/.test(error.message) &&
      /add/.test(error.message),
  );
  await assert.rejects(
    pool.run("add", 1 as unknown as unknown[]),
    TypeError,
  );
  await pool.close();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool.ready rejects and jobs reject when the module fails to load", async () => {
  const broken = "data:text/javascript,throw new Error('broken module');";
  const pool = new ThreadPool(broken, { size: 2 });
  const job = pool.run("anything");
  await assert.rejects(pool.ready, /failed to load.*broken module/);
  await assert.rejects(job, /broken module/);
  await assert.rejects(pool.run("anything"), /broken module/);
  await pool.close();
  assertNoLiveWorkers();

  const missing = new ThreadPool(
    new URL("./fixtures/does_not_exist.ts", import.meta.url),
    { size: 1 },
  );
  await assert.rejects(missing.ready, /failed to load/);
  await missing.close();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool runs async jobs concurrently on one worker with concurrency > 1", async () => {
  await using pool = new ThreadPool(JOBS, { size: 1, concurrency: 4 });
  const shared = new SharedArrayBuffer(8);
  await Promise.all(
    Array.from({ length: 8 }, () => pool.run("overlap", [shared, 150])),
  );
  // Never more than `concurrency` at once, and that many did overlap.
  assert.equal(new Int32Array(shared)[1], 4, "four jobs should overlap");
  await pool.close();
  assertNoLiveWorkers();

  // With the default concurrency of 1 they do not overlap.
  await using serial = new ThreadPool(JOBS, { size: 1 });
  const once = new SharedArrayBuffer(8);
  await Promise.all(
    Array.from({ length: 3 }, () => serial.run("overlap", [once, 5])),
  );
  assert.equal(new Int32Array(once)[1], 1);
  await serial.close();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool.run() with an aborted signal removes a queued job", async () => {
  await using pool = new ThreadPool(JOBS, { size: 1 });
  await pool.ready;
  const gate = new SharedArrayBuffer(8);
  const running = pool.run("hold", [gate]);
  const controller = new AbortController();
  const queued = pool.run("add", [1, 2], { signal: controller.signal });
  await until(() => Atomics.load(new Int32Array(gate), 0) === 1);
  assert.equal(pool.stats().queued, 1);
  controller.abort(new Error("changed my mind"));
  await assert.rejects(queued, /changed my mind/);
  assert.equal(pool.stats().queued, 0);
  release(gate);
  assert.equal(await running, "released");
  // The worker was not replaced: the job was only dropped.
  assert.equal(pool.stats().workers[0]!.id, 1);
  assert.equal(await pool.run("add", [2, 2]), 4);
  await assert.rejects(
    pool.run("add", [1, 1], { signal: AbortSignal.abort(new Error("early")) }),
    /early/,
  );
  await pool.close();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool.run() with an aborted signal terminates and replaces the worker of a running job", async () => {
  await using pool = new ThreadPool(JOBS, { size: 1 });
  await pool.ready;
  const controller = new AbortController();
  const job = pool.run("spin", [], { signal: controller.signal });
  await until(() => pool.stats().running === 1);
  controller.abort(new Error("too slow"));
  await assert.rejects(job, /too slow/);
  assert.equal(await pool.run("add", [3, 4]), 7);
  assert.equal(pool.stats().workers[0]!.id, 2, "the worker was replaced");
  await pool.close();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool.run() rejects with QueueFullError when the queue is full, or waits with { wait: true }", async () => {
  await using pool = new ThreadPool(JOBS, { size: 1, queueCapacity: 2 });
  await pool.ready;
  const accepted = [
    pool.run("block", [60]),
    pool.run("add", [1, 1]),
    pool.run("add", [2, 2]),
  ];
  await assert.rejects(
    pool.run("add", [3, 3]),
    (error: unknown) => error instanceof QueueFullError && error.capacity === 2,
  );
  const waited = pool.run("add", [4, 4], { wait: true });
  assert.equal(pool.stats().waiting, 1);
  const controller = new AbortController();
  const abandoned = pool.run("add", [5, 5], {
    wait: true,
    signal: controller.signal,
  });
  controller.abort(new Error("stop waiting"));
  await assert.rejects(abandoned, /stop waiting/);
  assert.deepEqual(await Promise.all(accepted), [60, 2, 4]);
  assert.equal(await waited, 8);
  await pool.close();
  assertNoLiveWorkers();
});

for (
  const [kind, job, args] of [
    ["an error thrown in a timer", "throwInTimer", []],
    ["an unhandled rejection", "rejectUnhandled", []],
    ["process.exit()", "exit", [3]],
    ["self.close()", "closeSelf", []],
  ] as const
) {
  Deno.test(`ThreadPool survives a worker killed by ${kind}: only its in-flight job rejects`, async () => {
    await using pool = new ThreadPool(JOBS, { size: 2 });
    await pool.ready;
    // The bystander holds one worker, so the victim runs on the other.
    const gate = new SharedArrayBuffer(8);
    const bystander = pool.run("hold", [gate]);
    await until(() => Atomics.load(new Int32Array(gate), 0) === 1);
    const victim = pool.run(job, [...args]);
    const error = await victim.then(
      () => assert.fail("the job should be lost"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof WorkerExitedError, String(error));
    release(gate);
    assert.equal(await bystander, "released");
    assert.equal(await pool.run("add", [1, 2]), 3);
    assert.equal(await pool.run("add", [2, 3]), 5);
    const ids = pool.stats().workers.map((worker) => worker.id).sort();
    assert.ok(ids.includes(3), `a replacement worker started: ${ids}`);
    await pool.close();
    assertNoLiveWorkers();
  });
}

Deno.test("ThreadPool survives a worker that runs out of memory (resourceLimits)", async () => {
  await using pool = new ThreadPool(JOBS, {
    size: 1,
    resourceLimits: { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 8 },
  });
  await pool.ready;
  await assert.rejects(
    pool.run("exhaustMemory"),
    (error: unknown) => error instanceof WorkerExitedError,
  );
  assert.equal(await pool.run("add", [20, 22]), 42);
  await pool.close();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool.close() lets queued jobs finish", async () => {
  const pool = new ThreadPool(JOBS, { size: 2 });
  const jobs = Array.from({ length: 20 }, (_, i) => pool.run("sleep", [5, i]));
  await pool.close();
  assert.deepEqual(
    await Promise.all(jobs),
    Array.from({ length: 20 }, (_, i) => i),
  );
  await assert.rejects(pool.run("add", [1, 2]), PoolClosedError);
  assertNoLiveWorkers();
});

Deno.test("ThreadPool.close() twice is safe and returns the same promise", async () => {
  const pool = new ThreadPool(JOBS, { size: 1 });
  const job = pool.run("add", [1, 2]);
  const first = pool.close();
  const second = pool.close();
  assert.equal(first, second);
  await first;
  await pool.close();
  assert.equal(await job, 3);
  await pool.terminate();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool.close() refuses callers still waiting for room", async () => {
  const pool = new ThreadPool(JOBS, { size: 1, queueCapacity: 0 });
  const running = pool.run("sleep", [30, "done"]);
  const waiting = pool.run("add", [1, 1], { wait: true });
  const closed = pool.close();
  await assert.rejects(waiting, PoolClosedError);
  assert.equal(await running, "done");
  await closed;
  assertNoLiveWorkers();
});

Deno.test("ThreadPool.terminate() rejects pending jobs with PoolClosedError", async () => {
  const pool = new ThreadPool(JOBS, { size: 1 });
  await pool.ready;
  const running = pool.run("spin");
  const queued = pool.run("add", [1, 2]);
  await until(() => pool.stats().running === 1);
  await pool.terminate();
  await assert.rejects(running, PoolClosedError);
  await assert.rejects(queued, PoolClosedError);
  await assert.rejects(pool.run("add", [1, 2]), PoolClosedError);
  await pool.close();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool closes itself at the end of an await using block", async () => {
  let job: Promise<unknown>;
  {
    await using pool = new ThreadPool(JOBS, { size: 1 });
    job = pool.run("sleep", [10, "kept"]);
  }
  assertNoLiveWorkers();
  assert.equal(await job, "kept");
});

Deno.test("ThreadPool.run() moves large payloads and honours transfer", async () => {
  await using pool = new ThreadPool(JOBS, { size: 1, slotSize: 1024 });
  // Larger than a slot in both directions: the postMessage path.
  const text = await pool.run<string>("repeat", ["xyz", 100_000]);
  assert.equal(text.length, 300_000);
  assert.equal(await pool.run("echo", [text]), text);
  const big = new Uint8Array(1 << 20).fill(7);
  assert.deepEqual(await pool.run("echo", [big]), big);
  // Transferred buffers are detached on the sending side.
  const buffer = new ArrayBuffer(64);
  assert.equal(
    await pool.run("byteLength", [buffer], { transfer: [buffer] }),
    64,
  );
  assert.equal(buffer.byteLength, 0);
  // A value that cannot be cloned rejects that job only.
  await assert.rejects(
    pool.run("echo", [() => 1]),
    /could not be cloned|DataCloneError|clone/i,
  );
  await assert.rejects(pool.run("unclonable"), /could not be cloned|clone/i);
  assert.equal(await pool.run("add", [1, 1]), 2);
  await pool.close();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool.stats() counts queued, running, completed and failed jobs per worker", async () => {
  await using pool = new ThreadPool(JOBS, { size: 2 });
  await pool.ready;
  const initial = pool.stats();
  assert.deepEqual(
    { ...initial, workers: initial.workers.map((w) => w.busy) },
    {
      queued: 0,
      running: 0,
      completed: 0,
      failed: 0,
      waiting: 0,
      workers: [false, false],
    },
  );
  const gates = [new SharedArrayBuffer(8), new SharedArrayBuffer(8)];
  const holders = gates.map((gate) => pool.run("hold", [gate]));
  const queued = pool.run("add", [1, 1]);
  await until(() =>
    gates.every((gate) => Atomics.load(new Int32Array(gate), 0) === 1)
  );
  const busy = pool.stats();
  assert.equal(busy.queued, 1);
  assert.equal(busy.running, 2);
  assert.deepEqual(busy.workers.map((w) => [w.busy, w.inFlight]), [
    [true, 1],
    [true, 1],
  ]);
  gates.forEach(release);
  await Promise.all([...holders, queued]);
  await pool.run("fail", ["x"]).catch(() => {});
  const after = pool.stats();
  assert.equal(after.completed, 3);
  assert.equal(after.failed, 1);
  assert.equal(after.running, 0);
  assert.equal(after.queued, 0);
  assert.equal(
    after.workers.reduce((sum, w) => sum + w.completed + w.failed, 0),
    4,
  );
  await pool.close();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool delivers every result of many pipelined jobs (seeded)", async () => {
  const seed = Number(Deno.env.get("SEED") ?? Date.now() % 1_000_000);
  let state = seed;
  const random = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  try {
    await using pool = new ThreadPool(JOBS, {
      size: 2,
      concurrency: 3,
      queueCapacity: 64,
    });
    const expected: unknown[] = [];
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < 2000; i++) {
      const pick = random();
      if (pick < 0.6) {
        jobs.push(pool.run("add", [i, 1], { wait: true }));
        expected.push(i + 1);
      } else if (pick < 0.8) {
        jobs.push(pool.run("sleep", [0, i], { wait: true }));
        expected.push(i);
      } else {
        const value = { i, when: new Date(i) };
        jobs.push(pool.run("echo", [value], { wait: true }));
        expected.push(value);
      }
    }
    assert.deepEqual(await Promise.all(jobs), expected);
    await pool.close();
  } catch (error) {
    throw new Error(`Failed with SEED=${seed}`, { cause: error });
  }
  assertNoLiveWorkers();
});

Deno.test("ThreadPool keeps the process alive while jobs are pending, and not once it is idle", async () => {
  const script = new URL("./fixtures/pool_forgotten.ts", import.meta.url);
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script.href],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.equal(stdout, "slept\n1\n");
  assert.ok(performance.now() - started < 20_000);
  assertNoLiveWorkers();
});

Deno.test("ThreadPool runs a job whose id a dying worker had popped but not claimed", async () => {
  await using pool = new ThreadPool(JOBS, { size: 1, concurrency: 1 });
  await pool.ready;
  // The one worker pops the next job's id and exits before its claim.
  const dying = pool.run("popNextAndExit", []);
  const next = pool.run("add", [2, 3]);
  await assert.rejects(dying, WorkerExitedError);
  // Before the fix its id was in no ring: the job waited until close().
  assert.equal(await within(20_000, "the popped job running", next), 5);
  const stats = pool.stats();
  assert.equal(stats.queued, 0);
  assert.equal(stats.running, 0);
  await pool.close();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool settles every job when random ones are aborted while queued or running (seeded)", async () => {
  const seed = Number(Deno.env.get("SEED") ?? Date.now() % 1_000_000);
  let state = seed;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
  try {
    await using pool = new ThreadPool(JOBS, {
      size: 2,
      concurrency: 2,
      queueCapacity: 32,
    });
    const outcomes: Promise<void>[] = [];
    const timers: ReturnType<typeof setTimeout>[] = [];
    for (let i = 0; i < 1000; i++) {
      const controller = new AbortController();
      const slow = random() < 0.3;
      const job = slow
        ? pool.run("sleep", [Math.floor(random() * 3), i], {
          signal: controller.signal,
          wait: true,
        })
        : pool.run("add", [i, 0], { signal: controller.signal, wait: true });
      const abort = random() < 0.1;
      if (abort) {
        timers.push(setTimeout(
          () => controller.abort(new Error(`abort ${i}`)),
          Math.floor(random() * 5),
        ));
      }
      outcomes.push(job.then(
        (value) => assert.equal(value, i),
        (error: unknown) => {
          // Aborting a running job replaces its worker, which also loses
          // the other job it was running (concurrency 2).
          if (error instanceof WorkerExitedError) return;
          assert.ok(abort, `job ${i} failed: ${error}`);
          assert.equal((error as Error).message, `abort ${i}`);
        },
      ));
      if (i % 100 === 99) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    // A lost job would hang here: fail instead, naming the seed.
    await within(60_000, "every job settling", Promise.all(outcomes));
    for (const timer of timers) clearTimeout(timer);
    const stats = pool.stats();
    assert.equal(stats.queued, 0);
    assert.equal(stats.running, 0);
    assert.equal(await pool.run("add", [1, 2]), 3);
    await pool.close();
  } catch (error) {
    throw new Error(`Failed with SEED=${seed}`, { cause: error });
  }
  assertNoLiveWorkers();
});

Deno.test("ThreadPool starts its workers when the package is imported over http", async () => {
  const root = new URL("..", import.meta.url);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      try {
        const body = await Deno.readFile(new URL(`.${path}`, root));
        return new Response(body, {
          headers: { "content-type": "application/typescript" },
        });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  try {
    const origin = `http://127.0.0.1:${server.addr.port}`;
    const script = `
      import { ThreadPool } from "${origin}/src/thread_pool.ts";
      await using pool = new ThreadPool(
        "data:text/javascript,export const add = (a, b) => a + b;",
        { size: 1 },
      );
      console.log(await pool.run("add", [40, 2]));
    `;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-lock", "--reload=" + origin, script],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    assert.equal(new TextDecoder().decode(output.stdout), "42\n");
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("ThreadPool.run() with { wait: true } completes 20,000 jobs submitted at once, each with its own result", async () => {
  await using pool = new ThreadPool(JOBS, { size: 2, queueCapacity: 64 });
  const total = 20_000;
  const jobs: Promise<number>[] = [];
  for (let i = 0; i < total; i++) {
    jobs.push(pool.run<number>("add", [i, 1], { wait: true }));
  }
  // All but the 66 slots wait; one more caller leaves the queue by aborting.
  const controller = new AbortController();
  const abandoned = pool.run("add", [0, 0], {
    wait: true,
    signal: controller.signal,
  });
  const last = pool.run<number>("add", [total, 1], { wait: true });
  assert.equal(pool.stats().waiting, total + 2 - 66);
  controller.abort(new Error("stop waiting"));
  await assert.rejects(abandoned, /stop waiting/);
  const values = await Promise.all(jobs);
  const wrong = values.findIndex((value, i) => value !== i + 1);
  assert.equal(wrong, -1, `job ${wrong} returned ${values[wrong]}`);
  assert.equal(await last, total + 1);
  const stats = pool.stats();
  assert.equal(stats.waiting, 0);
  assert.equal(stats.completed, total + 1);
  await pool.close();
  assertNoLiveWorkers();
});

Deno.test("ThreadPool.run() with { wait: true } starts waiting callers in the order they called", async () => {
  // One worker running one job at a time settles jobs in the order they start.
  await using pool = new ThreadPool(JOBS, { size: 1, queueCapacity: 4 });
  const settled: number[] = [];
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < 2000; i++) {
    jobs.push(
      pool.run("add", [i, 0], { wait: true }).then(() => {
        settled.push(i);
      }),
    );
  }
  // A newcomer without { wait: true } does not overtake them.
  await assert.rejects(pool.run("add", [1, 1]), QueueFullError);
  await Promise.all(jobs);
  assert.deepEqual(settled, Array.from({ length: 2000 }, (_, i) => i));
  await pool.close();
  assertNoLiveWorkers();
});
