// Worker entry of the HTTP server: loads the user's handler module, then
// claims request slots from the shared request ring (./pump.ts), runs the
// handler (./run.ts) and writes the response back into the slot
// (./respond.ts). The wire layout is drawn in ../wire.ts.
import { parentPort } from "node:worker_threads";
import { reportLoadError, reportReady } from "../../_workers/child.ts";
import type { Batch, MainItem } from "../channel.ts";
import type { BodyMessage } from "../wire.ts";
import { type Handler, WorkerContext } from "./context.ts";
import { inboxLoop } from "./inbox.ts";
import { Pump } from "./pump.ts";

const ctx = new WorkerContext();
ctx.pump = new Pump(ctx);
const port = parentPort!;

// Atomics.waitAsync does not keep the event loop alive; this timer does,
// until the request ring is closed and every request released.
const keepAlive = setInterval(() => {}, 1 << 30);

// A handler's stray rejection must not kill the worker and its other requests.
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  console.error(
    `ringpool worker ${ctx.workerId}: unhandled rejection:`,
    event.reason,
  );
});

async function loadHandler(url: string): Promise<Handler | undefined> {
  try {
    const handler = (await import(url)).default;
    if (typeof handler?.fetch !== "function") {
      throw new TypeError(
        `The handler module must export default { fetch(request, info) }: ${url}`,
      );
    }
    return handler;
  } catch (error) {
    reportLoadError(error);
    return undefined;
  }
}

const handler = await loadHandler(ctx.data.handler);
if (handler === undefined) {
  clearInterval(keepAlive);
} else {
  ctx.handler = handler;
  const inboxDone = inboxLoop(ctx);
  const onMessage = (message: BodyMessage | Batch<MainItem>) => {
    if (message?.type === "batch") ctx.channel.onBatch(message);
    else if (message?.type === "body") ctx.pump.bodyArrived(message);
  };
  port.on("message", onMessage);
  reportReady();
  ctx.pump.schedule();
  await ctx.drained;
  ctx.inbox.close();
  await inboxDone;
  // A listening port would keep the thread alive.
  port.off("message", onMessage);
  clearInterval(keepAlive);
}
