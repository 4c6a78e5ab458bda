// The worker's side of main's inbox events, without threads: a context over
// memory of our own, tasks made by hand, events delivered one at a time.
import assert from "node:assert/strict";
import { RingBuffer } from "../src/ring_buffer.ts";
import { WorkerContext } from "../src/_server/worker/context.ts";
import { onInbox } from "../src/_server/worker/inbox.ts";
import { Pump } from "../src/_server/worker/pump.ts";
import { Task } from "../src/_server/worker/task.ts";
import {
  controlBytes,
  IN_ABORT,
  inboxEvent,
  SLOT_BITS,
} from "../src/_server/wire.ts";

function context(): WorkerContext {
  const slotCount = 4;
  const ctx = new WorkerContext({
    handler: "data:text/javascript,",
    concurrency: 4,
    slotCount,
    control: new SharedArrayBuffer(controlBytes(slotCount)),
    requests: new RingBuffer(8).buffer,
    events: new RingBuffer(32).buffer,
    inbox: new RingBuffer(32).buffer,
    supervision: new SharedArrayBuffer(64),
    index: 0,
    id: 1,
  });
  ctx.pump = new Pump(ctx);
  return ctx;
}

function claimed(ctx: WorkerContext, slot: number, generation: number): Task {
  const task = new Task(ctx, slot, (generation << SLOT_BITS) | slot);
  ctx.claimed(task);
  return task;
}

Deno.test("an ABORT sent for the request a slot held before does not abort the one it holds now", () => {
  const ctx = context();
  // Main aborted generation 1 of slot 2 while the worker, having seen
  // F_ABORTED itself, released it; main reused the slot for generation 2,
  // which the same worker claimed before its inbox loop ran.
  const previous = (1 << SLOT_BITS) | 2;
  const current = claimed(ctx, 2, 2);
  onInbox(ctx, inboxEvent(2, previous, IN_ABORT));
  assert.equal(
    current.state,
    "running",
    "the stale ABORT reached the new request",
  );
  assert.equal(current.released, false);
  onInbox(ctx, inboxEvent(2, current.ticket, IN_ABORT));
  assert.equal(current.state, "aborted");
  assert.equal(current.released, true, "an aborted task lets go of its slot");
});

Deno.test("an inbox event's generation wraps with the ticket's, and other slots are not touched", () => {
  const ctx = context();
  // The largest generation a ticket carries (2^19 - 1) still matches itself.
  const task = claimed(ctx, 3, (1 << (31 - SLOT_BITS)) - 1);
  const other = claimed(ctx, 1, 7);
  onInbox(ctx, inboxEvent(3, task.ticket, IN_ABORT));
  assert.equal(task.state, "aborted");
  assert.equal(other.state, "running");
});
