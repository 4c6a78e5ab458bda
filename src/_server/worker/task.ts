// A worker's record of one request it claimed, and the Request and info
// its handler gets (their signal and completed promise made on first use).
//
// A task's response, as the worker sees it (TaskState):
//
//   claim ──▶ running ──the response is written (whole, end, bulk)──▶ finished
//                │        or the handler failed                          │
//                └── IN_ABORT / F_ABORTED / "abort" ──▶ aborted           │
//
//   …and, separately, where it talks to main: through its slot until
//   `released` (the RELEASE bit, or a BulkResponse); a task whose response
//   streams, or whose body does, leaves the slot early (`stream` is then
//   its channel id, ../channel.ts) and is `done` once it sent its last
//   item, forgotten once main also reported info.completed.
import type { WorkerContext } from "./context.ts";
import { C_WANTS_COMPLETED, slotOffset } from "../wire.ts";

/** Where the task's response is; see the drawing above. */
export type TaskState = "running" | "finished" | "aborted";

import type { MainItem } from "../channel.ts";
import type { RelayedWebSocket } from "./websocket.ts";

/** One claimed request. */
export class Task {
  readonly slot: number;
  readonly ticket: number;
  readonly offset: number;
  readonly word: number;
  readonly #ctx: WorkerContext;
  state: TaskState = "running";
  /** Main owns the slot again. */
  released = false;
  /** Its id on the channel, once it left its slot. */
  stream: number | undefined = undefined;
  /** Chunks sent over the channel that main has not credited yet. */
  unacked = 0;
  /** Its last channel item ("done") went to main. */
  done = false;
  /** What main reported of info.completed, once it did (channel only). */
  completedResult: boolean | undefined = undefined;
  /** Waits for the next request body item (undefined: aborted). */
  bodyWaiter: ((item: MainItem | undefined) => void) | undefined = undefined;
  /** Waits for a credit. */
  creditWaiter: (() => void) | undefined = undefined;
  /** The WebSocket its handler accepted, once the upgrade is under way. */
  socket: RelayedWebSocket | undefined = undefined;
  reader: ReadableStreamDefaultReader<Uint8Array> | undefined = undefined;
  /** The whole request body, when it came by message. */
  bulkBody: ArrayBuffer | undefined = undefined;
  /** Created on first use of `request.signal`: most handlers never look. */
  controller: AbortController | undefined = undefined;
  /** Created on first use of `info.completed`. */
  completedPromise: Promise<void> | undefined = undefined;
  settleCompleted: ((delivered: boolean) => void) | undefined = undefined;

  constructor(ctx: WorkerContext, slot: number, ticket: number) {
    this.#ctx = ctx;
    this.slot = slot;
    this.ticket = ticket;
    this.offset = slotOffset(slot);
    this.word = this.offset >> 2;
  }

  get aborted(): boolean {
    return this.state === "aborted";
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(abortReason());
    }
    return this.controller.signal;
  }

  get completed(): Promise<void> {
    if (this.completedPromise !== undefined) return this.completedPromise;
    if (this.completedResult !== undefined) {
      this.completedPromise = this.completedResult
        ? Promise.resolve()
        : Promise.reject(notDelivered());
      this.completedPromise.catch(() => {});
      return this.completedPromise;
    }
    if (this.released && this.stream === undefined) {
      // Too late to ask main: the response was handed over already.
      this.completedPromise = Promise.resolve();
      return this.completedPromise;
    }
    this.completedPromise = new Promise((resolve, reject) => {
      this.settleCompleted = (delivered) =>
        delivered ? resolve() : reject(notDelivered());
    });
    // Like Deno.serve's, a rejection nobody awaits is not an error.
    this.completedPromise.catch(() => {});
    // Read by main when we release the slot (the event orders it); a task
    // off its slot hears of it over the channel instead.
    if (this.stream === undefined) {
      this.#ctx.words[this.word + C_WANTS_COMPLETED] = 1;
    }
    return this.completedPromise;
  }
}

function notDelivered(): Error {
  return new Error("The response was not delivered to the client");
}

/** The reason of an aborted request's signal. */
export function abortReason(): DOMException {
  return new DOMException("The request was aborted", "AbortError");
}

/**
 * The handler's request. Passing `signal` to `new Request` costs Deno a
 * dependent AbortSignal per request (measured ~2.8 µs, a third of building
 * the request); this one creates its signal only when the handler asks.
 */
export class WorkerRequest extends Request {
  readonly #task: Task;

  constructor(url: string, init: RequestInit, task: Task) {
    super(url, init);
    this.#task = task;
  }

  override get signal(): AbortSignal {
    return this.#task.signal;
  }
}

/** The handler's `info`, with `completed` created on first use. */
export class Info {
  readonly remoteAddr: { transport: "tcp"; hostname: string; port: number };
  readonly workerId: number;
  readonly #task: Task;

  constructor(hostname: string, port: number, workerId: number, task: Task) {
    this.remoteAddr = { transport: "tcp", hostname, port };
    this.workerId = workerId;
    this.#task = task;
  }

  get completed(): Promise<void> {
    return this.#task.completed;
  }
}
