// Worker entry of the HTTP server: loads the user's handler module, then
// claims request slots from the shared request ring (./pump.ts), runs the
// handler (./run.ts) and writes the response back into the slot
// (./respond.ts). The wire layout is drawn in ../wire.ts.
import process from "node:process";
import { setTimeout } from "node:timers";
import { parentPort } from "node:worker_threads";
import {
  reportHeap,
  reportLoadError,
  reportReady,
} from "../../_workers/child.ts";
import type { Batch, MainItem } from "../channel.ts";
import type { BodyMessage, DirectRequest } from "../wire.ts";
import { WorkerRequest } from "./task.ts";
import { installUpgrade } from "./websocket.ts";
import { type Handler, WorkerContext } from "./context.ts";
import { inboxLoop } from "./inbox.ts";
import { Pump } from "./pump.ts";

/**
 * How long a drained worker waits for the handler module's own handles
 * (timers, a BroadcastChannel, sockets) before it exits anyway: shutdown
 * joins us.
 */
const EXIT_GRACE_MS = 200;

const ctx = new WorkerContext();
ctx.pump = new Pump(ctx);
// Before the handler module loads: it may keep a reference to the function.
installUpgrade((request) => request instanceof WorkerRequest);
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
  const onMessage = (
    message: BodyMessage | Batch<MainItem> | DirectRequest,
  ) => {
    if (message?.type === "batch") ctx.channel.onBatch(message);
    else if (message?.type === "body") ctx.pump.bodyArrived(message);
    else if (message?.type === "request") ctx.pump.directed(message);
  };
  port.on("message", onMessage);
  reportReady();
  reportHeap();
  ctx.pump.schedule();
  await ctx.drained;
  ctx.inbox.close();
  await inboxDone;
  // A listening port would keep the thread alive.
  port.off("message", onMessage);
  clearInterval(keepAlive);
  setTimeout(() => process.exit(0), EXIT_GRACE_MS).unref();
}
