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
import { C_WANTS_COMPLETED, C_WANTS_SIGNAL, slotOffset } from "../wire.ts";

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
      else this.#wantsSignal();
    }
    return this.controller.signal;
  }

  /** Asks main to watch the client leaving: only handlers that look need it. */
  #wantsSignal(): void {
    if (this.stream !== undefined) {
      this.#ctx.channel.send({ k: "signal", s: this.stream });
    } else if (!this.released) {
      Atomics.store(this.#ctx.words, this.word + C_WANTS_SIGNAL, 1);
    }
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

/** The fields of Deno's inner request that hold its method and URL. */
interface InnerRequest {
  method: string;
  url(): string;
  urlList: (() => string)[];
  urlListProcessed: string[];
}

/**
 * The symbol of Deno's inner request on a Request, if it behaves as Deno
 * 2.9's does (checked on a probe, as ./fast_path.ts checks its fields);
 * otherwise requests that need it get own `method` and `url` properties.
 */
const INNER: symbol | undefined = (() => {
  const probe = new Request("http://a/", { method: "POST", body: "x" });
  const symbol = Object.getOwnPropertySymbols(probe).find((s) =>
    s.description === "request"
  );
  if (symbol === undefined) return undefined;
  try {
    const inner = innerOf(probe, symbol);
    if (inner.method !== "POST" || inner.url() !== "http://a/") return;
    setInner(inner, "TRACE", "http://a b/");
    const copy = probe.clone();
    const kept = (r: Request) =>
      r.method === "TRACE" && r.url === "http://a b/";
    return kept(probe) && kept(copy) ? symbol : undefined;
  } catch {
    return undefined;
  }
})();

/** Where a request new Request() refused is built, before it gets its own URL. */
const PLACEHOLDER_URL = "http://ringpool.invalid/";

/**
 * The handler's request. Passing `signal` to `new Request` costs Deno a
 * dependent AbortSignal per request (measured ~2.8 µs, a third of building
 * the request); this one creates its signal only when the handler asks.
 *
 * Its method and URL are the ones Deno.serve gives (see `of`).
 */
export class WorkerRequest extends Request {
  readonly #task: Task;

  /**
   * The request with `init.method` and `url` exactly as main received them,
   * as Deno.serve gives them to a handler: `new Request` refuses some
   * (CONNECT, TRACE, TRACK, a body on `get`, a URL that does not parse such
   * as a Host with a space) and rewrites others (`get` to `GET`, the URL
   * normalised). Such a request is built on a placeholder, or as given,
   * and then gets the received method and URL: in Deno's inner request, so
   * clones and `new Request(request)` keep them too. A request that needs
   * none of this costs a few field reads and two string comparisons.
   */
  static of(url: string, init: RequestInit, task: Task): WorkerRequest {
    const method = init.method!;
    let request: WorkerRequest;
    try {
      request = new WorkerRequest(url, init, task);
    } catch {
      init.method = "POST";
      request = new WorkerRequest(PLACEHOLDER_URL, init, task);
      asReceived(request, method, url);
      return request;
    }
    if (INNER !== undefined) {
      const inner = innerOf(request, INNER);
      if (inner.method !== method || inner.url() !== url) {
        asReceived(request, method, url);
      }
    } else if (request.method !== method || request.url !== url) {
      asReceived(request, method, url);
    }
    return request;
  }

  private constructor(url: string, init: RequestInit, task: Task) {
    super(url, init);
    this.#task = task;
  }

  override get signal(): AbortSignal {
    return this.#task.signal;
  }
}

function innerOf(request: Request, symbol: symbol): InnerRequest {
  return (request as unknown as Record<symbol, InnerRequest>)[symbol]!;
}

function setInner(inner: InnerRequest, method: string, url: string): void {
  inner.method = method;
  inner.urlList = [() => url];
  inner.urlListProcessed = [url];
}

/** Gives `request` the method and URL main received. */
function asReceived(request: Request, method: string, url: string): void {
  if (INNER !== undefined) {
    return setInner(innerOf(request, INNER), method, url);
  }
  Object.defineProperties(request, {
    method: { value: method, enumerable: true },
    url: { value: url, enumerable: true },
  });
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
