// The handler's request body: inline bytes from the slot, a whole body that
// came by message, or a stream that asks main over the channel for one
// chunk at a time ("pull" -> "body" / "body-end" / "body-fail"); a request
// with such a body has left its slot before its handler runs.
import { copyOut } from "../../_common/bytes.ts";
import type { WorkerContext } from "./context.ts";
import type { Task } from "./task.ts";
import {
  C_REQ_LEN,
  F_BODY_INLINE,
  F_BODY_MESSAGE,
  F_BODY_STREAM,
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
        task.bodyWaiter = (item) => {
          if (item?.k === "body") {
            controller.enqueue(new Uint8Array(item.body));
          } else if (item?.k === "body-end") {
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
          resolve();
        };
        ctx.channel.send({ k: "pull", s: task.stream! });
      });
    },
  }, { highWaterMark: 0 });
}
