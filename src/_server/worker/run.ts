// Running the handler for a claimed task: decode the request head from the
// slot, build the Request and info, call fetch, and hand over the response.
import type { WorkerContext } from "./context.ts";
import { fail } from "./finish.ts";
import { requestBody } from "./request_body.ts";
import { respond } from "./respond.ts";
import { Info, type Task, WorkerRequest } from "./task.ts";
import { type RelayedWebSocket, upgradeOf } from "./websocket.ts";
import {
  C_FLAGS,
  C_HANDLER_US,
  C_HEAD_LEN,
  C_RES_HEAD_LEN,
  EV_DETACH,
  EV_UPGRADE,
  F_BODY_STREAM,
  HEAD_AREA,
  RES_AREA,
} from "../wire.ts";

const decoder = new TextDecoder();

/**
 * Starts the handler. A response it returns synchronously is handed over
 * at once, before the caller can start another handler; only a promise
 * waits for a later microtask.
 */
export function run(ctx: WorkerContext, task: Task): void {
  let result: Response | Promise<Response>;
  try {
    const { request, info, flags } = decodeRequest(ctx, task);
    // A body that streams may take long: the request leaves its slot now
    // (its head is read) and goes on over the channel.
    if (flags & F_BODY_STREAM) ctx.channel.detach(task, EV_DETACH);
    const started = performance.now();
    result = ctx.handler.fetch(request, info);
    // How long this call held the worker: main learns long routes from it.
    // (A detached request's slot may already serve another.)
    if (!(flags & F_BODY_STREAM)) {
      ctx.words[task.word + C_HANDLER_US] = (performance.now() - started) *
        1000;
    }
  } catch (error) {
    return fail(ctx, task, error);
  }
  if (result instanceof Response) return deliver(ctx, task, result);
  Promise.resolve(result).then(
    (response) => deliver(ctx, task, response),
    (error) => fail(ctx, task, error),
  );
}

/** The Request and info of the head main wrote into the slot. */
function decodeRequest(
  ctx: WorkerContext,
  task: Task,
): { request: Request; info: Info; flags: number } {
  const { bytes, words } = ctx;
  const flags = Atomics.load(words, task.word + C_FLAGS);
  const start = task.offset + HEAD_AREA;
  const head = decoder.decode(
    bytes.subarray(start, start + words[task.word + C_HEAD_LEN]!),
  ).split("\n");
  // Pairs, not a Headers: Request would copy (and validate) it again.
  const headers: [string, string][] = [];
  for (let i = 4; i + 1 < head.length; i += 2) {
    headers.push([head[i]!, head[i + 1]!]);
  }
  // The method and URL as received, as Deno.serve gives them; anything
  // still thrown is inside run()'s try: a 500, not a stuck slot.
  const request = WorkerRequest.of(head[1]!, {
    method: head[0]!,
    headers,
    body: requestBody(ctx, task, flags),
  }, task);
  return {
    request,
    info: new Info(head[2]!, Number(head[3]), ctx.workerId, task),
    flags,
  };
}

/** Hands the handler's response to main (its synchronous part runs now). */
function deliver(ctx: WorkerContext, task: Task, response: unknown): void {
  if (task.aborted) return;
  if (!(response instanceof Response)) {
    return fail(ctx, task, new TypeError("The handler must return a Response"));
  }
  const socket = upgradeOf(response);
  if (socket !== undefined && task.stream === undefined) {
    return acceptSocket(ctx, task, socket);
  }
  respond(ctx, task, response).catch((error) => fail(ctx, task, error));
}

/**
 * The handler returned its upgrade's response: main upgrades the real
 * socket (the subprotocol and idle timeout go in RES_AREA) and relays it.
 */
function acceptSocket(
  ctx: WorkerContext,
  task: Task,
  socket: RelayedWebSocket,
): void {
  const { protocol = "", idleTimeout } = socket.options;
  const start = task.offset + RES_AREA;
  const { written } = new TextEncoder().encodeInto(
    `${protocol}\n${idleTimeout ?? ""}`,
    ctx.bytes.subarray(start, start + 1024),
  );
  ctx.words[task.word + C_RES_HEAD_LEN] = written;
  task.socket = socket;
  task.state = "finished";
  socket.attach(ctx, task);
  ctx.channel.detach(task, EV_UPGRADE);
}
