// Worker side of the postMessage pool contender: rebuild the Request, call
// the handler module, send the buffered response back.
import { parentPort, workerData } from "node:worker_threads";
import type { WireRequest, WireResponse } from "./postmessage_pool.ts";

type Handler = { fetch(request: Request): Response | Promise<Response> };
const { handlerUrl } = workerData as { handlerUrl: string };
const handler = (await import(handlerUrl)).default as Handler;

parentPort!.on("message", async (message: WireRequest) => {
  let reply: WireResponse;
  try {
    const response = await handler.fetch(
      new Request(message.url, {
        method: message.method,
        headers: message.headers,
        body: message.body,
      }),
    );
    reply = {
      id: message.id,
      status: response.status,
      headers: [...response.headers],
      body: response.body === null ? null : await response.arrayBuffer(),
    };
  } catch (error) {
    reply = {
      id: message.id,
      status: 500,
      headers: [],
      body: null,
      error: String(error),
    };
  }
  parentPort!.postMessage(reply, reply.body ? [reply.body] : []);
});
