// The handler's request body: inline bytes from the slot, a whole body that
// came by message, or a stream that asks main for one chunk at a time
// (PULL -> REQ_CHUNK / REQ_END / REQ_ERROR through REQ_AREA).
import { copyOut } from "../../_common/bytes.ts";
import type { WorkerContext } from "./context.ts";
import { release } from "./finish.ts";
import type { Task } from "./task.ts";
import {
  C_REQ_LEN,
  EV_PULL,
  F_BODY_INLINE,
  F_BODY_MESSAGE,
  F_BODY_STREAM,
  IN_REQ_CHUNK,
  IN_REQ_END,
  REQ_AREA,
} from "../wire.ts";

/** The body to build the handler's Request with, for the slot's F_BODY_* flags. */
export function requestBody(
  ctx: WorkerContext,
  task: Task,
  flags: number,
): BodyInit | null {
  if (flags & F_BODY_MESSAGE) {
    const body = task.bulkBody!;
    task.bulkBody = undefined;
    return body;
  }
  if (flags & F_BODY_INLINE) {
    const start = task.offset + REQ_AREA;
    return copyOut(ctx.bytes, start, start + ctx.words[task.word + C_REQ_LEN]!);
  }
  if (!(flags & F_BODY_STREAM)) return null;
  let finished = false;
  return new ReadableStream<Uint8Array>({
    pull: (controller) => {
      if (finished) return;
      if (task.aborted) {
        finished = true;
        controller.error(task.signal.reason);
        return;
      }
      return new Promise<void>((resolve) => {
        task.bodyWaiter = (type) => {
          if (type === IN_REQ_CHUNK) {
            const start = task.offset + REQ_AREA;
            controller.enqueue(
              copyOut(
                ctx.bytes,
                start,
                start + ctx.words[task.word + C_REQ_LEN]!,
              ),
            );
          } else if (type === IN_REQ_END) {
            finished = true;
            controller.close();
          } else {
            finished = true;
            controller.error(
              task.aborted
                ? task.signal.reason
                : new Error("The request body could not be read in full"),
            );
          }
          if (task.state !== "running" && !task.pullOutstanding) {
            release(ctx, task);
          }
          resolve();
        };
        task.pullOutstanding = true;
        ctx.send(task, EV_PULL);
      });
    },
  }, { highWaterMark: 0 });
}
