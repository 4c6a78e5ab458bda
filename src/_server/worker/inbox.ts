// Events from main to this worker through its inbox ring, about requests
// in slots: aborts, and reports that a response reached the client
// (info.completed). What concerns requests off their slot comes over the
// channel instead (./channel.ts).
import type { WorkerContext } from "./context.ts";
import { abort } from "./finish.ts";
import {
  eventIsFor,
  eventSlot,
  IN_ABORT,
  IN_COMPLETED,
  IN_COMPLETED_FAILED,
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

/** Handles one inbox event (exported for tests). */
export function onInbox(ctx: WorkerContext, event: number): void {
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
  if (type === IN_ABORT) abort(ctx, task);
}
