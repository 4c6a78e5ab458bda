// How a task ends: its response finished or failed, or main aborted it; and
// the release of its slot, once main can no longer be writing into it.
import type { WorkerContext } from "./context.ts";
import { abortReason, type Task } from "./task.ts";
import { EV_ERROR, EV_RELEASE, IN_ABORT, IN_REQ_ERROR } from "../wire.ts";

/**
 * Sends `lastEvent` and releases the slot, unless a PULL is unanswered:
 * then the release waits for main's answer (see ./inbox.ts).
 */
export function release(ctx: WorkerContext, task: Task, lastEvent = 0): void {
  if (task.released) return;
  if (task.pullOutstanding) {
    if (lastEvent !== 0) ctx.send(task, lastEvent);
    return;
  }
  ctx.send(task, lastEvent | EV_RELEASE);
}

/** The response is written: `finished`, then `lastEvent` with the release. */
export function finish(
  ctx: WorkerContext,
  task: Task,
  lastEvent: number,
): void {
  if (task.state === "running") task.state = "finished";
  release(ctx, task, lastEvent);
}

/** Main gave up on the request (IN_ABORT or F_ABORTED): stop and let go. */
export function abort(ctx: WorkerContext, task: Task): void {
  if (task.state === "aborted") return;
  task.state = "aborted";
  // After an abort main never writes the slot again, so an outstanding pull
  // will not be answered and need not be waited for.
  task.pullOutstanding = false;
  task.controller?.abort(abortReason());
  task.bodyWaiter?.(IN_REQ_ERROR);
  task.creditWaiter?.(IN_ABORT);
  task.reader?.cancel().catch(() => {});
  release(ctx, task);
}

/** The handler (or its body) failed: main answers 500 or cuts the body. */
export function fail(ctx: WorkerContext, task: Task, error: unknown): void {
  if (task.released) return;
  if (task.state !== "aborted") {
    console.error(
      `ringpool worker ${ctx.workerId}: the handler failed:`,
      error,
    );
  }
  task.reader?.cancel().catch(() => {});
  finish(ctx, task, EV_ERROR);
}
