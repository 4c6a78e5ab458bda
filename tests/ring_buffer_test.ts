import assert from "node:assert/strict";
import type { Worker } from "node:worker_threads";
import { RING_VALUE_MAX, RingBuffer, RingClosedError } from "../mod.ts";
import { spawnWorker } from "../src/_workers/live.ts";
import { assertNoLiveWorkers, within } from "./_helpers.ts";
import type { RingWorkerJob, RingWorkerResult } from "./fixtures/ring_jobs.ts";
import { ITEM_SPAN, SLOT_WORDS } from "./fixtures/ring_jobs.ts";

const WORKER_URL = new URL("./fixtures/ring_worker.ts", import.meta.url);

// ---------------------------------------------------------------------------
// Single-thread behaviour

Deno.test("new RingBuffer() rejects a capacity that is not a power of two from 2 to 2^24", () => {
  for (const capacity of [0, 1, 3, 6, 2.5, -2, NaN, Infinity, 2 ** 25]) {
    assert.throws(
      () => new RingBuffer(capacity),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message.includes("'capacity' must be a power of two") &&
        error.message.endsWith(`received ${capacity}`),
      `capacity ${capacity}`,
    );
  }
  for (const capacity of [2, 4, 1024]) {
    assert.equal(new RingBuffer(capacity).capacity, capacity);
  }
});

Deno.test("new RingBuffer() rejects a startIndex that is not a safe integer", () => {
  for (const startIndex of [1.5, NaN, 2 ** 53]) {
    assert.throws(() => new RingBuffer(2, { startIndex }), RangeError);
  }
});

Deno.test("tryPush() rejects values outside 0 to 2^31 - 1 and keeps the ring unchanged", () => {
  const ring = new RingBuffer(4);
  for (const value of [-1, 2 ** 31, 1.5, NaN, Infinity, -0.5, 2 ** 32]) {
    assert.throws(
      () => ring.tryPush(value),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message.includes(`from 0 to ${RING_VALUE_MAX}`),
      `value ${value}`,
    );
  }
  assert.equal(ring.length, 0);
  assert.equal(RING_VALUE_MAX, 2 ** 31 - 1);
  assert.equal(ring.tryPush(0), true);
  assert.equal(ring.tryPush(RING_VALUE_MAX), true);
  assert.equal(ring.tryPop(), 0);
  assert.equal(ring.tryPop(), RING_VALUE_MAX);
});

Deno.test("RingBuffer is FIFO on one thread across many laps", () => {
  const ring = new RingBuffer(4);
  let next = 0;
  let expected = 0;
  for (let lap = 0; lap < 100; lap++) {
    const burst = 1 + (lap % 4);
    for (let i = 0; i < burst; i++) assert.equal(ring.tryPush(next++), true);
    for (let i = 0; i < burst; i++) assert.equal(ring.tryPop(), expected++);
  }
  assert.equal(ring.tryPop(), undefined);
});

Deno.test("tryPush() reports full and tryPop() empty, and length follows", () => {
  const ring = new RingBuffer(2);
  assert.equal(ring.length, 0);
  assert.equal(ring.tryPop(), undefined);
  assert.equal(ring.tryPush(10), true);
  assert.equal(ring.length, 1);
  assert.equal(ring.tryPush(11), true);
  assert.equal(ring.length, 2);
  assert.equal(ring.tryPush(12), false);
  assert.equal(ring.length, 2);
  assert.equal(ring.tryPop(), 10);
  assert.equal(ring.length, 1);
  assert.equal(ring.tryPush(12), true);
  assert.equal(ring.tryPop(), 11);
  assert.equal(ring.tryPop(), 12);
  assert.equal(ring.tryPop(), undefined);
  assert.equal(ring.length, 0);
});

Deno.test("RingBuffer position counters wrap around 2^31 and 2^32", () => {
  for (const start of [2 ** 31 - 3, 2 ** 32 - 3, -3]) {
    const ring = new RingBuffer(4, { startIndex: start });
    for (let i = 0; i < 20; i++) {
      assert.equal(ring.tryPush(i), true, `start ${start}, push ${i}`);
      assert.equal(ring.tryPush(i + 100), true);
      assert.equal(ring.length, 2);
      assert.equal(ring.tryPop(), i, `start ${start}, pop ${i}`);
      assert.equal(ring.tryPop(), i + 100);
      assert.equal(ring.length, 0);
    }
    for (let i = 0; i < 4; i++) ring.tryPush(i);
    assert.equal(ring.tryPush(4), false, `start ${start}: full at capacity`);
  }
});

Deno.test("RingBuffer.from() wraps the same memory", () => {
  const ring = new RingBuffer(8);
  const same = RingBuffer.from(ring.buffer);
  assert.equal(same.buffer, ring.buffer);
  assert.equal(same.capacity, 8);
  ring.tryPush(1);
  same.tryPush(2);
  assert.equal(same.length, 2);
  assert.equal(same.tryPop(), 1);
  assert.equal(ring.tryPop(), 2);
  same.close();
  assert.equal(ring.closed, true);
});

Deno.test("RingBuffer.from() rejects buffers that are not a RingBuffer's", () => {
  const real = new RingBuffer(4).buffer;
  const wrongSize = new SharedArrayBuffer(real.byteLength + 8);
  new Int32Array(wrongSize).set(new Int32Array(real));
  const badCapacity = new SharedArrayBuffer(real.byteLength);
  new Int32Array(badCapacity).set(new Int32Array(real));
  // Overwrite the CAPACITY word (found as the word holding 4 right before
  // the MAGIC word) with 3, which is not a power of two.
  const words = new Int32Array(badCapacity);
  const magicAt = words.indexOf(0x52494e47);
  assert.ok(magicAt > 0 && words[magicAt - 1] === 4);
  words[magicAt - 1] = 3;
  const foreign = [
    new ArrayBuffer(real.byteLength) as unknown as SharedArrayBuffer,
    new SharedArrayBuffer(8),
    new SharedArrayBuffer(real.byteLength), // zeroes: no magic
    wrongSize,
    badCapacity,
    {} as SharedArrayBuffer,
    undefined as unknown as SharedArrayBuffer,
  ];
  for (const buffer of foreign) {
    assert.throws(
      () => RingBuffer.from(buffer),
      (error: unknown) =>
        error instanceof TypeError && error.message.includes("'buffer'"),
    );
  }
});

Deno.test("RingBuffer.close() refuses pushes, lets the ring drain, and is idempotent", async () => {
  const ring = new RingBuffer(2);
  ring.tryPush(1);
  ring.tryPush(2);
  assert.equal(ring.closed, false);
  ring.close();
  assert.equal(ring.closed, true);
  // Full and closed: still reported as closed, not as full.
  assert.throws(() => ring.tryPush(3), RingClosedError);
  assert.equal(ring.tryPop(), 1);
  assert.throws(() => ring.tryPush(3), RingClosedError);
  assert.equal(await ring.popAsync(), 2);
  assert.equal(ring.tryPop(), undefined);
  assert.equal(await ring.popAsync(), undefined);
  assert.equal(await ring.popAsync({ timeoutMs: 10_000 }), undefined);
  ring.close();
  assert.equal(ring.closed, true);
  assert.throws(() => ring.tryPush(3), RingClosedError);
  assert.equal(ring.length, 0);
});

Deno.test("push() and pop() throw a clear Error on the main thread", () => {
  const ring = new RingBuffer(2);
  assert.throws(() => ring.push(1), {
    name: "Error",
    message: /RingBuffer\.push\(\) on the main thread.*tryPush\(\)/,
  });
  assert.throws(() => ring.pop(), {
    name: "Error",
    message: /RingBuffer\.pop\(\) on the main thread.*tryPop\(\)/,
  });
  assert.equal(ring.length, 0, "push() must not have added the value");
});

Deno.test("popAsync() with an already-aborted signal rejects with its reason and takes nothing", async () => {
  const ring = new RingBuffer(2);
  ring.tryPush(7);
  const reason = new Error("stop");
  await assert.rejects(
    ring.popAsync({ signal: AbortSignal.abort(reason) }),
    (error: unknown) => error === reason,
  );
  assert.equal(ring.tryPop(), 7);
});

Deno.test("popAsync() aborted while waiting rejects with the reason and leaves a later item in the ring", async () => {
  const ring = new RingBuffer(2);
  const controller = new AbortController();
  const pending = ring.popAsync({ signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort("gone");
  await assert.rejects(pending, (error: unknown) => error === "gone");
  ring.tryPush(8);
  assert.equal(ring.tryPop(), 8);
});

Deno.test("popAsync() aborted right after a push woke it takes no item", async () => {
  const ring = new RingBuffer(2);
  const controller = new AbortController();
  const pending = ring.popAsync({ signal: controller.signal });
  // The push notifies the waiter, but the wake-up is delivered as a task;
  // the abort lands first, so the item must stay in the ring.
  ring.tryPush(9);
  controller.abort("late");
  await assert.rejects(pending, (error: unknown) => error === "late");
  assert.equal(ring.tryPop(), 9);
});

Deno.test("popAsync() resolves undefined after its timeout on an empty ring", async () => {
  const ring = new RingBuffer(2);
  const started = performance.now();
  assert.equal(await ring.popAsync({ timeoutMs: 30 }), undefined);
  assert.ok(performance.now() - started >= 25);
  assert.equal(await ring.popAsync({ timeoutMs: 0 }), undefined);
});

Deno.test("popAsync() resolves with a value pushed later on the same thread", async () => {
  const ring = new RingBuffer(2);
  const pending = ring.popAsync({ timeoutMs: 10_000 });
  setTimeout(() => ring.tryPush(3), 5);
  assert.equal(await pending, 3);
  assert.equal(ring.length, 0);
});

Deno.test("waitForValueAsync() resolves true once a value is there and takes none", async () => {
  const ring = new RingBuffer(2);
  const pending = ring.waitForValueAsync({ timeoutMs: 10_000 });
  setTimeout(() => ring.tryPush(4), 5);
  assert.equal(await pending, true);
  assert.equal(await ring.waitForValueAsync(), true, "already there");
  assert.equal(ring.tryPop(), 4);
  assert.equal(await ring.waitForValueAsync({ timeoutMs: 0 }), false);
  assert.equal(await ring.waitForValueAsync({ timeoutMs: 20 }), false);
  // close() must wake it: well before its own timeout could end it.
  const closing = ring.waitForValueAsync({ timeoutMs: 60_000 });
  ring.close();
  assert.equal(
    await within(20_000, "close() waking the wait", closing),
    false,
    "closed and drained",
  );
  await assert.rejects(
    ring.waitForValueAsync({ signal: AbortSignal.abort("no") }),
    (error: unknown) => error === "no",
  );
  await assert.rejects(
    ring.waitForValueAsync({ timeoutMs: -1 }),
    RangeError,
  );
});

Deno.test("waitForValueAsync() aborted while waiting leaves a later value for another waiter", async () => {
  const ring = new RingBuffer(2);
  const controller = new AbortController();
  const aborted = ring.waitForValueAsync({ signal: controller.signal });
  const other = ring.popAsync({ timeoutMs: 10_000 });
  controller.abort("gone");
  await assert.rejects(aborted, (error: unknown) => error === "gone");
  ring.tryPush(6);
  assert.equal(await other, 6);
});

Deno.test("popAsync() is woken by close() and resolves undefined", async () => {
  const ring = new RingBuffer(2);
  const pending = ring.popAsync({ timeoutMs: 10_000 });
  setTimeout(() => ring.close(), 5);
  assert.equal(await pending, undefined);
});

Deno.test("popAsync() rejects a negative or NaN timeout", async () => {
  const ring = new RingBuffer(2);
  for (const timeoutMs of [-1, NaN]) {
    await assert.rejects(ring.popAsync({ timeoutMs }), RangeError);
  }
});

// A small seeded generator, so a failing run can be repeated exactly.
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function withSeed(seed: number, body: (random: () => number) => void): void {
  try {
    body(mulberry32(seed));
  } catch (error) {
    throw new Error(
      `failed with seed ${seed}; repeat with RING_TEST_SEED=${seed}`,
      { cause: error },
    );
  }
}

const SEED = Number(Deno.env.get("RING_TEST_SEED") ?? Date.now() % 1e9);

Deno.test("random operation sequences match a reference queue (seeded)", () => {
  withSeed(SEED, (random) => {
    for (let run = 0; run < 200; run++) {
      const capacity = 2 ** (1 + Math.floor(random() * 4));
      const starts = [0, 2 ** 31 - 5, 2 ** 32 - 5, Math.floor(random() * 1e9)];
      const startIndex = starts[Math.floor(random() * starts.length)]!;
      const ring = new RingBuffer(capacity, { startIndex });
      const view = RingBuffer.from(ring.buffer);
      const reference: number[] = [];
      let closed = false;
      for (let op = 0; op < 200; op++) {
        const which = random();
        const actor = random() < 0.5 ? ring : view;
        if (which < 0.45) {
          const value = Math.floor(random() * (RING_VALUE_MAX + 1));
          if (closed) {
            assert.throws(() => actor.tryPush(value), RingClosedError);
          } else {
            const pushed = actor.tryPush(value);
            assert.equal(pushed, reference.length < capacity);
            if (pushed) reference.push(value);
          }
        } else if (which < 0.9) {
          assert.equal(actor.tryPop(), reference.shift());
        } else if (which < 0.99) {
          assert.equal(actor.length, reference.length);
        } else {
          actor.close();
          closed = true;
        }
      }
      while (reference.length > 0) {
        assert.equal(ring.tryPop(), reference.shift());
      }
      assert.equal(view.tryPop(), undefined);
    }
  });
});

// ---------------------------------------------------------------------------
// Real worker threads

interface Started {
  worker: Worker;
  result: Promise<RingWorkerResult>;
  exited: Promise<number>;
}

function start(job: RingWorkerJob): Started {
  const worker = spawnWorker(WORKER_URL, { workerData: job });
  const exited = new Promise<number>((resolve) => worker.once("exit", resolve));
  const result = new Promise<RingWorkerResult>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
    worker.once(
      "exit",
      (code) =>
        reject(
          new Error(
            `worker (${job.role}) exited with code ${code} before reporting`,
          ),
        ),
    );
  });
  // Whoever awaits `result` sees the failure; do not also report it as unhandled.
  result.catch(() => {});
  return { worker, result, exited };
}

/**
 * Awaits every worker's result; if they are not all in by `deadlineMs`,
 * closes the rings (which wakes every sleeper), terminates the workers and
 * fails. Always waits for every worker to exit, so no test leaks one.
 */
async function settle(
  started: Started[],
  rings: RingBuffer[],
  deadlineMs: number,
  what: string,
): Promise<RingWorkerResult[]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new Error(
          `${what}: workers still busy after ${deadlineMs} ms (lost wake-up or deadlock?)`,
        ),
      );
    }, deadlineMs);
  });
  try {
    return await Promise.race([
      Promise.all(started.map((s) => s.result)),
      watchdog,
    ]);
  } catch (error) {
    // Closing wakes every thread parked in Atomics.wait, which terminate()
    // alone cannot stop.
    for (const ring of rings) ring.close();
    for (const { worker } of started) worker.terminate();
    throw error;
  } finally {
    clearTimeout(timer);
    await allExited(started, what);
  }
}

/** Waits (finitely) for every worker to exit, then checks none is left. */
async function allExited(started: Started[], what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exited = await Promise.race([
    Promise.all(started.map((s) => s.exited)).then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), 10_000);
    }),
  ]);
  clearTimeout(timer);
  assert.ok(exited, `${what}: a worker did not exit within 10 s of the end`);
  assertNoLiveWorkers();
}

interface StressCase {
  producers: number;
  consumers: number;
  capacity: number;
  perProducer: number;
  startIndex?: number;
}

async function stress(c: StressCase): Promise<number> {
  const ring = new RingBuffer(c.capacity, { startIndex: c.startIndex ?? 0 });
  const seen = new SharedArrayBuffer(c.producers * c.perProducer);
  const consumers = Array.from({ length: c.consumers }, () =>
    start({
      role: "consume",
      buffer: ring.buffer,
      seen,
      producers: c.producers,
      count: c.perProducer,
    }));
  const producers = Array.from(
    { length: c.producers },
    (_, producerId) =>
      start({
        role: "produce",
        buffer: ring.buffer,
        producerId,
        count: c.perProducer,
      }),
  );
  const what = `${c.producers}x${c.consumers} capacity ${c.capacity}`;
  // Once every producer is done, closing lets the consumers drain and exit.
  Promise.all(producers.map((p) => p.result)).finally(() => ring.close())
    .catch(() => {});
  const results = await settle(
    [...producers, ...consumers],
    [ring],
    30_000,
    what,
  );
  const made = results.slice(0, c.producers);
  const got = results.slice(c.producers);
  const errors = got.flatMap((r) => r.errors);
  assert.deepEqual(errors, [], `${what}: consumer errors`);
  const total = c.producers * c.perProducer;
  assert.equal(made.reduce((sum, r) => sum + r.count, 0), total);
  assert.equal(
    got.reduce((sum, r) => sum + r.count, 0),
    total,
    `${what}: consumed`,
  );
  const marks = new Uint8Array(seen);
  const missing = marks.indexOf(0);
  assert.equal(
    missing,
    -1,
    `${what}: item ${Math.floor(missing / c.perProducer)}:${
      missing % c.perProducer
    } never consumed`,
  );
  assert.ok(marks.every((m) => m === 1), `${what}: an item was consumed twice`);
  assert.equal(ring.length, 0);
  return total;
}

// 1.03 * 10^6 items through rings of 2-8 cells (plus the payload, close
// and ping-pong tests below), sized to take about 10 s together on a loaded
// 2-core machine. The 1x1 ring of 2 is the slowest: nearly every hand-off
// sleeps and wakes.
const STRESS: StressCase[] = [
  { producers: 1, consumers: 1, capacity: 2, perProducer: 100_000 },
  { producers: 1, consumers: 4, capacity: 4, perProducer: 250_000 },
  { producers: 4, consumers: 4, capacity: 8, perProducer: 60_000 },
  { producers: 4, consumers: 1, capacity: 2, perProducer: 50_000 },
];
const WRAP_PER_PRODUCER = 60_000; // 2 x 2 x 60_000 more, below

for (const c of STRESS) {
  Deno.test(`RingBuffer ${c.producers}x${c.consumers} workers, capacity ${c.capacity}: every item popped exactly once, per-producer order kept`, async () => {
    await stress(c);
  });
}

for (const startIndex of [2 ** 31 - 1000, 2 ** 32 - 1000]) {
  Deno.test(`RingBuffer 2x2 workers starting at position ${startIndex}: exactly once while the counters wrap`, async () => {
    await stress({
      producers: 2,
      consumers: 2,
      capacity: 4,
      perProducer: WRAP_PER_PRODUCER,
      startIndex,
    });
  });
}

Deno.test("RingBuffer publishes plain payload stores made before the push", async () => {
  const slotsCount = 8;
  const work = new RingBuffer(8);
  const free = new RingBuffer(8);
  for (let i = 0; i < slotsCount; i++) free.tryPush(i);
  const slots = new SharedArrayBuffer(slotsCount * SLOT_WORDS * 4);
  const producers = 2;
  const perProducer = 40_000;
  const job = { work: work.buffer, free: free.buffer, slots };
  const consumers = [0, 1].map(() =>
    start({ role: "payload-consume", ...job })
  );
  const makers = Array.from(
    { length: producers },
    (_, producerId) =>
      start({
        role: "payload-produce",
        ...job,
        producerId,
        count: perProducer,
      }),
  );
  Promise.all(makers.map((m) => m.result)).finally(() => work.close())
    .catch(() => {});
  const results = await settle(
    [...makers, ...consumers],
    [work, free],
    30_000,
    "payload",
  );
  const got = results.slice(producers);
  assert.deepEqual(got.flatMap((r) => r.errors), []);
  assert.equal(
    got.reduce((sum, r) => sum + r.count, 0),
    producers * perProducer,
  );
});

Deno.test("RingBuffer.close() racing producers and sleeping consumers: accepted == consumed, everyone exits", async () => {
  await withSeedAsync(SEED, async (random) => {
    for (let run = 0; run < 4; run++) {
      const ring = new RingBuffer(4);
      const producers = 3;
      const seen = new SharedArrayBuffer(producers * ITEM_SPAN);
      const consumers = [0, 1, 2].map(() =>
        start({
          role: "consume",
          buffer: ring.buffer,
          seen,
          producers,
          count: ITEM_SPAN,
        })
      );
      const makers = Array.from(
        { length: producers },
        (_, producerId) =>
          start({
            role: "produce-until-closed",
            buffer: ring.buffer,
            producerId,
            pauseEvery: 50 + Math.floor(random() * 500),
          }),
      );
      // Close at a random moment; sometimes before anything was pushed.
      await new Promise((resolve) => setTimeout(resolve, random() * 60));
      ring.close();
      const results = await settle(
        [...makers, ...consumers],
        [ring],
        20_000,
        "close race",
      );
      const made = results.slice(0, producers);
      const got = results.slice(producers);
      assert.deepEqual([...made, ...got].flatMap((r) => r.errors), []);
      const accepted = made.reduce((sum, r) => sum + r.count, 0);
      const consumed = got.reduce((sum, r) => sum + r.count, 0);
      assert.equal(consumed, accepted, `run ${run}: accepted ${accepted}`);
      const marks = new Uint8Array(seen);
      for (let p = 0; p < producers; p++) {
        const prefix = made[p]!.count;
        for (let i = 0; i < prefix; i++) {
          assert.equal(marks[p * ITEM_SPAN + i], 1, `item ${p}:${i}`);
        }
        assert.equal(
          marks[p * ITEM_SPAN + prefix],
          0,
          `refused item ${p}:${prefix}`,
        );
      }
    }
  });
});

async function withSeedAsync(
  seed: number,
  body: (random: () => number) => Promise<void>,
): Promise<void> {
  try {
    await body(mulberry32(seed));
  } catch (error) {
    throw new Error(
      `failed with seed ${seed}; repeat with RING_TEST_SEED=${seed}`,
      { cause: error },
    );
  }
}

Deno.test("RingBuffer ping-pong where both sides sleep never loses a wake-up", async () => {
  // Many short runs, each with fresh rings. A lost wake-up needs the
  // answer to land in the few nanoseconds between a failed tryPop and the
  // sleep announcement; the ping side pauses a different time every round
  // (up to ~25 µs) so that moment sweeps across the pong side's wake-up
  // latency, and the pong side dawdles a varying amount per run.
  for (let run = 0; run < 20; run++) {
    const there = new RingBuffer(2);
    const back = new RingBuffer(2);
    const rounds = 2_000;
    const ping = start({
      role: "ping",
      there: there.buffer,
      back: back.buffer,
      rounds,
      dawdle: 500 + run * 400,
    });
    const pong = start({
      role: "pong",
      there: there.buffer,
      back: back.buffer,
      dawdle: (run * 53) % 300,
    });
    const results = await settle(
      [ping, pong],
      [there, back],
      10_000,
      `ping-pong run ${run}`,
    );
    assert.deepEqual(results.flatMap((r) => r.errors), []);
    assert.deepEqual(results.map((r) => r.count), [rounds, rounds]);
  }
});
