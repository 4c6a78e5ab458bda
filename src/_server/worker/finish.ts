// How a task ends: its response finished or failed, or main aborted it; and
// letting go: the slot's RELEASE event, or for a task off its slot the
// channel's "done" item.
import type { WorkerContext } from "./context.ts";
import { abortReason, type Task } from "./task.ts";
import { EV_ERROR, EV_RELEASE } from "../wire.ts";

/** Sends `lastEvent` with the release of the slot (or the stream's end items). */
export function release(ctx: WorkerContext, task: Task, lastEvent = 0): void {
  if (task.stream !== undefined) {
    if (lastEvent === EV_ERROR) {
      ctx.channel.send({ k: "fail", s: task.stream });
    }
    return ctx.channel.done(task);
  }
  if (task.released) return;
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

/** Main gave up on the request (IN_ABORT, F_ABORTED, "abort"): stop, let go. */
export function abort(ctx: WorkerContext, task: Task): void {
  if (task.state === "aborted") return;
  task.state = "aborted";
  task.controller?.abort(abortReason());
  const bodyWaiter = task.bodyWaiter;
  task.bodyWaiter = undefined;
  bodyWaiter?.(undefined);
  const creditWaiter = task.creditWaiter;
  task.creditWaiter = undefined;
  creditWaiter?.();
  task.reader?.cancel().catch(() => {});
  release(ctx, task);
}

/** The handler (or its body) failed: main answers 500 or cuts the body. */
export function fail(ctx: WorkerContext, task: Task, error: unknown): void {
  if (task.released && task.stream === undefined) return;
  if (task.done) return;
  if (task.state !== "aborted") {
    console.error(
      `ringpool worker ${ctx.workerId}: the handler failed:`,
      error,
    );
  }
  task.reader?.cancel().catch(() => {});
  finish(ctx, task, EV_ERROR);
}
