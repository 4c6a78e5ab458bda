// Events from main to this worker through its inbox ring: body chunks
// (answers to PULL), credits for response chunks, aborts, and reports that
// a response reached the client (info.completed).
import type { WorkerContext } from "./context.ts";
import { abort, release } from "./finish.ts";
import {
  eventIsFor,
  eventSlot,
  IN_ABORT,
  IN_COMPLETED,
  IN_COMPLETED_FAILED,
  IN_CREDIT,
} from "../wire.ts";

/** Takes inbox events until the inbox is closed. */
export async function inboxLoop(ctx: WorkerContext): Promise<void> {
  const { inbox } = ctx;
  for (;;) {
    const event = await inbox.popAsync();
    if (event === undefined) return;
    onInbox(ctx, event);
    for (let more = inbox.tryPop(); more !== undefined; more = inbox.tryPop()) {
      onInbox(ctx, more);
    }
  }
}

function onInbox(ctx: WorkerContext, event: number): void {
  const type = event & 7;
  const slot = eventSlot(event);
  if (type === IN_COMPLETED || type === IN_COMPLETED_FAILED) {
    const queue = ctx.awaitingCompletion.get(slot);
    const settle = queue?.shift();
    if (queue?.length === 0) ctx.awaitingCompletion.delete(slot);
    return settle?.(type === IN_COMPLETED);
  }
  const task = ctx.tasks.get(slot);
  // Sent for a request we released meanwhile: not for this one.
  if (task === undefined || !eventIsFor(event, task.ticket)) return;
  if (type === IN_ABORT) return abort(ctx, task);
  if (type === IN_CREDIT) {
    const waiter = task.creditWaiter;
    task.creditWaiter = undefined;
    // The credit may arrive before we wait for it (the body is still
    // producing its next chunk): keep it.
    if (waiter === undefined) task.hasCredit = true;
    else waiter(type);
    return;
  }
  // A reply to our pull: main no longer writes REQ_AREA until the next pull.
  task.pullOutstanding = false;
  const waiter = task.bodyWaiter;
  task.bodyWaiter = undefined;
  if (waiter !== undefined) waiter(type);
  else if (task.state !== "running") release(ctx, task);
}
