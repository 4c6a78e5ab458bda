/**
 * The HTTP server: `Deno.serve` on the main thread, handlers on worker
 * threads, requests and responses handed over through shared memory.
 *
 * The main thread accepts connections, writes each request's head into a
 * free slot of a shared table and pushes the slot's ticket into a request
 * ring; any worker with room takes the next ticket, runs the handler and
 * writes the response into the same slot. Bodies stream through the slot in
 * 64 KiB chunks in both directions. The memory layout and protocol are drawn
 * in `src/_server_wire.ts`.
 *
 * @module
 */

import type { Worker } from "node:worker_threads";
import { RingBuffer } from "./ring_buffer.ts";
import { spawnWorker } from "./_live_workers.ts";
import { serveStatic } from "./static_files.ts";
import { renderMetrics, RequestMetrics } from "./_server_metrics.ts";
import { type Settings, validate } from "./_server_settings.ts";
import { byobReader, copyOut, ownBuffer, pathOf } from "./_server_bytes.ts";
import { HeadDecoder, type ResponseHead } from "./_server_head.ts";
import {
  BULK_BYTES,
  type BulkRequest,
  type BulkResponse,
  C_CLAIM,
  C_FLAGS,
  C_HEAD_LEN,
  C_OWNER,
  C_REQ_LEN,
  C_RES_HEAD_LEN,
  C_RES_LEN,
  C_WANTS_COMPLETED,
  CHUNK_BYTES,
  controlBytes,
  EV_CHUNK,
  EV_END,
  EV_ERROR,
  EV_PULL,
  EV_RELEASE,
  EV_RESPONSE_FULL,
  EV_RESPONSE_STREAM,
  F_ABORTED,
  F_BODY_INLINE,
  F_BODY_MESSAGE,
  F_BODY_STREAM,
  GEN_LIMIT,
  HEAD_AREA,
  HEAD_BYTES,
  IN_ABORT,
  IN_COMPLETED,
  IN_COMPLETED_FAILED,
  IN_CREDIT,
  IN_REQ_CHUNK,
  IN_REQ_END,
  IN_REQ_ERROR,
  REQ_AREA,
  RES_AREA,
  RES_BYTES,
  ringCapacity,
  SLOT_BITS,
  slotBase,
  W_BUSY_BELL,
  W_CLAIMED,
  W_DOORBELL,
  W_IDLE_BUSY,
  W_IDLE_WORKERS,
  W_MAIN_BELL,
  W_MAIN_SLEEPING,
  W_POLLING,
  W_WAKING,
  W_WORKER_INFLIGHT,
  W_WORKER_POLLING,
  type WorkerData,
  type WorkerMessage,
} from "./_server_wire.ts";

/** Options for {@linkcode serve}. */
export interface ServeOptions {
  /**
   * A module with `export default { fetch(request, info) }`, the `deno serve`
   * contract: a URL, or a path resolved against the working directory.
   * `info` has `remoteAddr`, `completed` and `workerId` (1-based).
   */
  handler: string | URL;
  /** Worker threads. @default {4} */
  workers?: number;
  /**
   * Requests in flight per worker: a worker whose handlers await I/O takes
   * more requests up to this many; a worker busy computing takes none.
   *
   * @default {16}
   */
  concurrency?: number;
  /** The interface to listen on. @default {"0.0.0.0"} */
  hostname?: string;
  /** The port to listen on; `0` picks a free one. @default {8000} */
  port?: number;
  /** TLS certificate (PEM), passed to `Deno.serve`. */
  cert?: string;
  /** TLS private key (PEM), passed to `Deno.serve`. */
  key?: string;
  /** Called once the listener is bound. Default: logs the address like `Deno.serve`. */
  onListen?: (addr: Deno.NetAddr) => void;
  /** Turns an unexpected failure into a response. Default: logs it and answers 500. */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** Requests that may wait for a worker before new ones get 503. @default {1024} */
  queueCapacity?: number;
  /** Largest request body in bytes; larger ones get 413. @default {10485760} */
  maxBodySize?: number;
  /** Milliseconds a handler may take before the request gets 504. @default {30000} */
  requestTimeout?: number;
  /** Milliseconds `shutdown()` waits for in-flight requests. @default {10000} */
  drainTimeout?: number;
  /**
   * Shut down gracefully once this many requests have been accepted, like
   * the book's `listener.incoming().take(2)`. The count is exact: the
   * request that reaches it is served, every later one gets 503 with
   * `Connection: close`. The readiness and metrics endpoints do not count.
   * Unlimited unless set.
   */
  maxRequests?: number;
  /** Aborting it shuts the server down, like `shutdown()`. */
  signal?: AbortSignal;
  /** Shut down gracefully on SIGINT and SIGTERM; a second signal exits at once. @default {true} */
  handleSignals?: boolean;
  /** Serve files from the main thread, without a worker hop. */
  static?: { root: string | URL; prefix?: string };
  /** Called when a drain starts (the demo prints "Shutting down."). */
  onDrain?: () => void;
  /** Called as each worker is joined during shutdown (the demo prints "Shutting down worker N"). */
  onWorkerExit?: (workerId: number) => void;
  /**
   * A path answered on the main thread with 200 while the server accepts
   * work and 503 from the moment a drain starts, for load balancers. Off
   * unless set, e.g. `"/healthz"`.
   */
  readinessPath?: string;
  /**
   * Milliseconds between the start of a drain and the moment the server
   * stops accepting requests. During them `readinessPath` already answers
   * 503 while every other request is still served as usual, so a load
   * balancer has time to take the server out of rotation. The drain timeout
   * starts after them.
   *
   * @default {0}
   */
  readinessDelay?: number;
  /**
   * A path answered on the main thread with the counters of
   * {@linkcode PoolServer.stats} in the Prometheus text format. Off unless
   * set, e.g. `"/metrics"`.
   */
  metricsPath?: string;
  /**
   * Heap limits of each worker (`node:worker_threads` `resourceLimits`): a
   * worker over them dies alone, its requests get 502 and it is replaced.
   */
  resourceLimits?: {
    maxOldGenerationSizeMb?: number;
    maxYoungGenerationSizeMb?: number;
    stackSizeMb?: number;
  };
}

/** Counters of a running {@linkcode PoolServer}. */
export interface ServerStats {
  /** Requests waiting for a worker. */
  queued: number;
  /** Requests a worker is handling. */
  inFlight: number;
  /** Requests answered since start. */
  completed: number;
  /** Per worker: requests in flight on it. */
  workers: { id: number; inFlight: number }[];
}

/** The handle of a running server; the shape of `Deno.HttpServer`. */
export interface PoolServer extends AsyncDisposable {
  /** The address the server listens on. */
  readonly addr: Deno.NetAddr;
  /** Resolves once the server has shut down and every worker is joined. */
  readonly finished: Promise<void>;
  /** Stops accepting, drains in-flight requests (at most `timeout` ms), joins the workers. */
  shutdown(options?: { timeout?: number }): Promise<void>;
  /** Current counters, read without messaging the workers. */
  stats(): ServerStats;
}

/**
 * Starts the server. Resolves once every worker has loaded the handler and
 * the listener is bound; rejects (leaving no listener open) if the handler
 * module fails to load.
 *
 * @param options The handler module and the server's settings.
 * @returns The running server.
 * @throws {TypeError} If `options.handler` is missing or not a string or URL.
 * @throws {RangeError} If a numeric option is out of range.
 * @throws {Error} (as a rejection) If the handler module fails to load in a
 * worker; the message names the module and the cause.
 *
 * @example Serve a handler module on two workers
 * ```ts
 * import { serve } from "@ringpool/ringpool";
 * import assert from "node:assert/strict";
 *
 * const handler = `data:text/javascript,export default {
 *   fetch: (request, info) => new Response("hi from worker " + info.workerId),
 * };`;
 * const server = await serve({
 *   handler,
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   workers: 2,
 *   onListen: () => {},
 * });
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * assert.match(await response.text(), /^hi from worker [12]$/);
 * await server.shutdown();
 * ```
 */
export function serve(options: ServeOptions): Promise<PoolServer> {
  const settings = validate(options);
  return RingServer.start(settings);
}

/** One request, from `Deno.serve` until its slot is released. */
interface Job {
  request: Request;
  info: Deno.ServeHandlerInfo;
  resolve: (response: Response) => void;
  /** A small body read up front, or undefined. */
  body: Uint8Array | undefined;
  start: number;
  /** Answered while still waiting for a slot (timed out): never started. */
  settled: boolean;
  /** Waited through a sweep of #checkDeadlines. */
  stale: boolean;
  /** The request body has been read to its end (or failed, or there is none). */
  bodyDone: boolean;
}

/** The main thread's side of a streamed response body. */
interface Pipe {
  controller: ReadableStreamDefaultController<Uint8Array>;
  slot: Slot;
  /** Bytes waiting in RES_AREA, from this offset. */
  ready: boolean;
  offset: number;
  ended: boolean;
  done: boolean;
  wake: (() => void) | undefined;
  declared: number;
  sent: number;
}

/** The main thread's bookkeeping for one shared slot. */
interface Slot {
  id: number;
  word: number;
  base: number;
  gen: number;
  ticket: number;
  job: Job | undefined;
  responded: boolean;
  aborted: boolean;
  abortedAt: number;
  terminateSent: boolean;
  pipe: Pipe | undefined;
  reader:
    | ReadableStreamBYOBReader
    | ReadableStreamDefaultReader<Uint8Array>
    | undefined;
  leftover: Uint8Array | undefined;
  bodyBytes: number;
  /** Whether onClientAbort listens to the request's signal yet. */
  watching: boolean;
  /** The worker a bulk request was posted to (it never enters the ring). */
  assigned: WorkerEntry | undefined;
  /** The body was read whole up front and is streamed from `leftover`. */
  wholeBody: boolean;
  onClientAbort: () => void;
}

interface WorkerEntry {
  id: number;
  worker: Worker;
  inbox: RingBuffer;
  exited: Promise<number>;
  ready: Promise<void>;
  /** Whether it loaded the handler; a replacement that did not is retried slowly. */
  loaded: boolean;
  /** Bulk requests posted to it and not yet released. */
  bulk: number;
  /** Told to terminate: it takes no more bulk requests. */
  stopping: boolean;
}

/** Request bytes main holds at most for bulk transfer; beyond, bodies stream. */
const BULK_BUDGET = 32 * BULK_BYTES;

const encoder = new TextEncoder();

class RingServer implements PoolServer {
  readonly #settings: Settings;
  readonly #control: SharedArrayBuffer;
  readonly #bytes: Uint8Array;
  readonly #words: Int32Array;
  readonly #requests: RingBuffer;
  readonly #events: RingBuffer;
  readonly #slots: Slot[] = [];
  readonly #free: Slot[] = [];
  readonly #busy = new Set<Slot>();
  #waiting: Job[] = [];
  #waitingHead = 0;
  #pushed = 0;
  #cancelled = 0;
  #completed = 0;
  readonly #workers: (WorkerEntry | undefined)[] = [];
  #http: Deno.HttpServer<Deno.NetAddr> | undefined;
  #sweep: ReturnType<typeof setInterval> | undefined;
  /** A drain has started: the readiness endpoint answers 503. */
  #unready = false;
  /** The server no longer accepts requests (after `readinessDelay`). */
  #draining = false;
  #stopped = false;
  #shutdown: Promise<void> | undefined;
  #resolveFinished!: () => void;
  readonly finished: Promise<void>;
  #signalHandler: (() => void) | undefined;
  #signalCount = 0;
  #abortListener: (() => void) | undefined;

  private constructor(settings: Settings) {
    this.#settings = settings;
    this.#requestMetrics = settings.metricsPath === undefined
      ? undefined
      : new RequestMetrics();
    const slotCount = settings.workers * settings.concurrency;
    this.#control = new SharedArrayBuffer(controlBytes(slotCount));
    this.#bytes = new Uint8Array(this.#control);
    this.#words = new Int32Array(this.#control);
    // Twice what can be in flight: a push may see "full" for a moment while
    // another thread sits between claiming and publishing a cell.
    this.#requests = new RingBuffer(ringCapacity(2 * slotCount));
    // At most a few events per slot are unanswered at any time.
    this.#events = new RingBuffer(ringCapacity(8 * slotCount));
    for (let id = 0; id < slotCount; id++) {
      const slot: Slot = {
        id,
        word: slotBase(id) >> 2,
        base: slotBase(id),
        gen: 0,
        ticket: 0,
        job: undefined,
        responded: false,
        aborted: false,
        abortedAt: 0,
        terminateSent: false,
        pipe: undefined,
        reader: undefined,
        leftover: undefined,
        bodyBytes: 0,
        watching: false,
        assigned: undefined,
        wholeBody: false,
        onClientAbort: () => this.#abort(slot, "client"),
      };
      this.#slots.push(slot);
    }
    // Pop from the end: slot 0 first, so small loads touch little memory.
    for (let id = slotCount - 1; id >= 0; id--) {
      this.#free.push(this.#slots[id]!);
    }
    this.finished = new Promise((resolve) => this.#resolveFinished = resolve);
  }

  static async start(settings: Settings): Promise<RingServer> {
    settings.signal?.throwIfAborted();
    const server = new RingServer(settings);
    for (let id = 1; id <= settings.workers; id++) server.#spawn(id);
    try {
      await Promise.all(server.#workers.map((entry) => entry!.ready));
    } catch (error) {
      server.#stopped = true;
      server.#requests.close();
      server.#ringDoorbell();
      await Promise.all(server.#workers.map(async (entry) => {
        await entry!.worker.terminate();
        await entry!.exited;
      }));
      throw error;
    }
    server.#listen();
    return server;
  }

  get addr(): Deno.NetAddr {
    return this.#http!.addr;
  }

  #spawn(id: number): WorkerEntry {
    const settings = this.#settings;
    // A few events per request in flight, plus one completion per slot.
    const inbox = new RingBuffer(
      ringCapacity(4 * settings.concurrency + this.#slots.length + 4),
    );
    const workerData: WorkerData = {
      workerId: id,
      handler: settings.handler,
      concurrency: settings.concurrency,
      slotCount: this.#slots.length,
      control: this.#control,
      requests: this.#requests.buffer,
      events: this.#events.buffer,
      inbox: inbox.buffer,
    };
    const worker = spawnWorker(
      new URL("./_server_worker.ts", import.meta.url),
      { workerData, resourceLimits: settings.resourceLimits },
    );
    let markReady!: () => void;
    let failReady!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    ready.catch(() => {}); // replacements are not awaited
    let lastError: unknown;
    worker.on("message", (message: WorkerMessage) => {
      if (message.type === "ready") {
        entry.loaded = true;
        markReady();
      } else if (message.type === "response") {
        this.#onBulkResponse(entry, message);
      } else if (message.type === "load-error") {
        failReady(
          new Error(
            `Cannot start server as the handler module failed to load: ${settings.handler}: ${message.message}`,
          ),
        );
      }
    });
    worker.on("error", (error: unknown) => {
      lastError = error;
      console.error(`ringpool: worker ${id} crashed:`, error);
    });
    const exited = new Promise<number>((resolve) => {
      worker.once("exit", (code: number) => {
        failReady(
          new Error(
            `Cannot start server as worker ${id} exited with code ${code} while loading ${settings.handler}`,
            { cause: lastError },
          ),
        );
        this.#onWorkerExit(entry, code);
        resolve(code);
      });
    });
    const entry: WorkerEntry = {
      id,
      worker,
      inbox,
      exited,
      ready,
      loaded: false,
      bulk: 0,
      stopping: false,
    };
    this.#workers[id - 1] = entry;
    return entry;
  }

  #listen(): void {
    const settings = this.#settings;
    const onListen = settings.onListen ?? ((addr: Deno.NetAddr) => {
      const host = addr.hostname.includes(":")
        ? `[${addr.hostname}]`
        : addr.hostname;
      console.log(
        `Listening on ${
          settings.cert ? "https" : "http"
        }://${host}:${addr.port}/ (${settings.workers} workers)`,
      );
    });
    const options = {
      hostname: settings.hostname,
      port: settings.port,
      onListen: (addr: Deno.NetAddr) => onListen(addr),
      onError: settings.onError ?? ((error: unknown) => {
        console.error("ringpool: request failed:", error);
        return new Response("Internal Server Error", { status: 500 });
      }),
    };
    this.#http = settings.cert !== undefined && settings.key !== undefined
      ? Deno.serve(
        { ...options, cert: settings.cert, key: settings.key },
        (request, info) => this.#handle(request, info),
      )
      : Deno.serve(options, (request, info) => this.#handle(request, info));
    this.#eventLoop();
    const every = Math.max(5, Math.min(250, settings.requestTimeout / 10));
    this.#sweep = setInterval(() => this.#checkDeadlines(), every);
    if (settings.handleSignals) {
      this.#signalHandler = () => {
        if (++this.#signalCount > 1) Deno.exit(130);
        this.shutdown();
      };
      Deno.addSignalListener("SIGINT", this.#signalHandler);
      if (Deno.build.os !== "windows") {
        Deno.addSignalListener("SIGTERM", this.#signalHandler);
      }
    }
    if (settings.signal !== undefined) {
      this.#abortListener = () => this.shutdown();
      settings.signal.addEventListener("abort", this.#abortListener, {
        once: true,
      });
    }
  }

  // ---- accepting requests ------------------------------------------------

  #handle(
    request: Request,
    info: Deno.ServeHandlerInfo,
  ): Response | Promise<Response> {
    // The main thread is running anyway: take what the workers sent.
    this.#drainEvents();
    if (this.#draining) return this.#early(503, "Service Unavailable");
    const settings = this.#settings;
    if (
      settings.readinessPath !== undefined || settings.metricsPath !== undefined
    ) {
      const pathname = pathOf(request.url);
      if (pathname === settings.readinessPath) {
        return this.#unready
          ? this.#plain(503, "draining")
          : this.#plain(200, "ready");
      }
      if (pathname === settings.metricsPath) return this.#metrics();
    }
    const max = settings.maxRequests;
    if (max !== undefined) {
      if (this.#taken >= max) return this.#early(503, "Service Unavailable");
      // The last one is still served: the drain waits for it.
      if (++this.#taken === max) queueMicrotask(() => this.shutdown());
    }
    if (this.#settings.static !== undefined) {
      return serveStatic(request, this.#settings.static).then((response) =>
        response ?? this.#accept(request, info)
      );
    }
    return this.#accept(request, info);
  }

  #accept(
    request: Request,
    info: Deno.ServeHandlerInfo,
  ): Response | Promise<Response> {
    const settings = this.#settings;
    // A body of known length up to BULK_BYTES is read whole first (within
    // a memory budget): small ones go inline, larger ones by message.
    let whole = false;
    let reserved = 0;
    if (request.body !== null) {
      const declared = request.headers.get("content-length");
      if (declared !== null) {
        const length = Number(declared);
        if (length > settings.maxBodySize) {
          return this.#early(413, "Content Too Large");
        }
        if (length <= CHUNK_BYTES) whole = true;
        else if (
          length <= BULK_BYTES && this.#bulkBytes + length <= BULK_BUDGET
        ) {
          whole = true;
          reserved = length;
        }
      }
    }
    if (this.#queued() >= settings.queueCapacity) {
      return this.#early(503, "Service Unavailable", { "retry-after": "1" });
    }
    const metrics = this.#requestMetrics;
    this.#bulkBytes += reserved;
    return new Promise<Response>((settle) => {
      const start = performance.now();
      const answer = metrics === undefined ? settle : (response: Response) => {
        metrics.record(response.status, performance.now() - start);
        settle(response);
      };
      const resolve = reserved === 0 ? answer : (response: Response) => {
        this.#bulkBytes -= reserved;
        reserved = 0;
        answer(response);
      };
      const job: Job = {
        request,
        info,
        resolve,
        body: undefined,
        start,
        settled: false,
        stale: false,
        bodyDone: request.body === null,
      };
      if (!whole) return this.#enqueue(job);
      this.#readingInline++;
      const read = request.bytes();
      read.finally(() => {
        this.#readingInline--;
        job.bodyDone = true;
      }).catch(() => {});
      read.then((body) => {
        if (body.byteLength > settings.maxBodySize) {
          resolve(this.#plain(413, "Content Too Large"));
        } else if (body.byteLength > BULK_BYTES) {
          resolve(this.#plain(400, "Bad Request"));
        } else {
          job.body = body;
          this.#enqueue(job);
        }
      }, () => resolve(this.#plain(400, "Bad Request")));
    });
  }

  /** Requests counted against `maxRequests`. */
  #taken = 0;

  /** Whether answers should close their connection. */
  get #closing(): boolean {
    return this.#draining ||
      (this.#settings.maxRequests !== undefined &&
        this.#taken >= this.#settings.maxRequests);
  }

  /** Bytes of request bodies read (or being read) whole for bulk transfer. */
  #bulkBytes = 0;

  /** Inline request bodies being read before their job is queued. */
  #readingInline = 0;

  /**
   * Whether some accepted request's body is still arriving. Deno 2.9's
   * `HttpServer.shutdown()` makes every in-flight request body unreadable at
   * once (denoland/deno#36809), so the drain waits for these first.
   */
  #receivingBodies(): boolean {
    if (this.#readingInline > 0) return true;
    for (let i = this.#waitingHead; i < this.#waiting.length; i++) {
      const job = this.#waiting[i]!;
      if (!job.settled && !job.bodyDone) return true;
    }
    for (const slot of this.#busy) {
      if (slot.job !== undefined && !slot.job.bodyDone) return true;
    }
    return false;
  }

  #queued(): number {
    const inRing = (this.#pushed - this.#cancelled -
      Atomics.load(this.#words, W_CLAIMED)) | 0;
    return this.#waiting.length - this.#waitingHead + Math.max(0, inRing);
  }

  #enqueue(job: Job): void {
    const slot = this.#free.pop();
    if (slot === undefined) {
      this.#waiting.push(job);
      return;
    }
    this.#start(slot, job);
  }

  #start(slot: Slot, job: Job): void {
    const { request, info } = job;
    const remote = info.remoteAddr as Deno.NetAddr;
    let head = request.method + "\n" + request.url + "\n" +
      (remote.hostname ?? "") + "\n" + (remote.port ?? 0);
    for (const [name, value] of request.headers) {
      head += "\n" + name + "\n" + value;
    }
    const base = slot.base;
    const words = this.#words;
    const written = encoder.encodeInto(
      head,
      this.#bytes.subarray(base + HEAD_AREA, base + HEAD_AREA + HEAD_BYTES),
    );
    if (written.read < head.length) {
      this.#free.push(slot);
      job.resolve(this.#plain(431, "Request Header Fields Too Large"));
      return;
    }
    let flags = 0;
    let bulkTo: WorkerEntry | undefined;
    slot.leftover = undefined;
    slot.wholeBody = false;
    if (job.body !== undefined && job.body.byteLength <= CHUNK_BYTES) {
      this.#bytes.set(job.body, base + REQ_AREA);
      words[slot.word + C_REQ_LEN] = job.body.byteLength;
      flags = F_BODY_INLINE;
    } else if (job.body !== undefined) {
      bulkTo = this.#leastBusyWorker();
      if (bulkTo !== undefined) flags = F_BODY_MESSAGE;
      else {
        // Every worker is full: stream it through the ring like any body.
        flags = F_BODY_STREAM;
        slot.leftover = job.body;
        slot.wholeBody = true;
      }
    } else if (request.body !== null) {
      flags = F_BODY_STREAM;
    }
    words[slot.word + C_HEAD_LEN] = written.written;
    words[slot.word + C_FLAGS] = flags;
    words[slot.word + C_OWNER] = 0;
    words[slot.word + C_WANTS_COMPLETED] = 0;
    slot.gen = slot.gen + 1 >= GEN_LIMIT ? 1 : slot.gen + 1;
    slot.ticket = (slot.gen << SLOT_BITS) | slot.id;
    slot.job = job;
    slot.responded = false;
    slot.aborted = false;
    slot.abortedAt = 0;
    slot.terminateSent = false;
    slot.pipe = undefined;
    slot.reader = undefined;
    slot.bodyBytes = 0;
    slot.watching = false;
    slot.assigned = bulkTo;
    this.#busy.add(slot);
    if (bulkTo !== undefined) {
      // Straight to that worker: the message orders the head before it.
      bulkTo.bulk++;
      const body = ownBuffer(job.body!);
      job.body = undefined;
      const message: BulkRequest = { type: "request", slot: slot.id, body };
      bulkTo.worker.postMessage(message, [body]);
      return;
    }
    // Publishing store: the ring's push (seq-cst) orders the head before it.
    Atomics.store(words, slot.word + C_CLAIM, slot.ticket);
    let pushed = false;
    try {
      pushed = this.#requests.tryPush(slot.ticket);
    } catch {
      // closed: only during the final phase of a shutdown
    }
    if (!pushed) {
      Atomics.store(words, slot.word + C_CLAIM, 0);
      this.#respond(
        slot,
        this.#plain(503, "Service Unavailable", {
          "retry-after": "1",
        }),
      );
      this.#release(slot);
      return;
    }
    this.#pushed = (this.#pushed + 1) | 0;
    if (this.#unrung++ === 0) queueMicrotask(this.#ringDoorbell);
  }

  /** The loaded worker with the fewest requests, if one has room. */
  #leastBusyWorker(): WorkerEntry | undefined {
    let best: WorkerEntry | undefined;
    let bestLoad = this.#settings.concurrency;
    for (const entry of this.#workers) {
      if (entry === undefined || !entry.loaded || entry.stopping) continue;
      // Claimed bulk requests count twice: a fair price for their size.
      const load = Atomics.load(this.#words, W_WORKER_INFLIGHT + entry.id - 1) +
        entry.bulk;
      if (load < bestLoad) {
        best = entry;
        bestLoad = load;
      }
    }
    return best;
  }

  // ---- events from workers -----------------------------------------------

  async #eventLoop(): Promise<void> {
    const words = this.#words;
    const events = this.#events;
    while (!this.#stopped) {
      this.#drainEvents();
      // One waitAsync per batch: announce sleep, re-check, then wait for a
      // worker to ring. Workers push before they read MAIN_SLEEPING.
      const seen = Atomics.load(words, W_MAIN_BELL);
      Atomics.store(words, W_MAIN_SLEEPING, 1);
      if (events.length === 0 && !this.#stopped) {
        const waiting = Atomics.waitAsync(words, W_MAIN_BELL, seen);
        if (waiting.async) await waiting.value;
      }
      Atomics.store(words, W_MAIN_SLEEPING, 0);
    }
  }

  /** Wakes sleeping workers once per turn, after this turn's pushes. */
  #ringDoorbell = (): void => {
    const pushed = this.#unrung;
    this.#unrung = 0;
    // Our pushes (seq-cst) came first; workers announce, then re-check.
    // A polling worker pops before it sleeps, and wakes the others if it
    // leaves to run a handler with tickets still queued.
    // So does a worker still waking up from an earlier ring.
    const words = this.#words;
    const closed = this.#requests.closed;
    if (
      !closed &&
      (Atomics.load(words, W_POLLING) > 0 || Atomics.load(words, W_WAKING) > 0)
    ) return;
    this.#ring(pushed);
  };

  /** Notifies up to `count` sleeping workers (all once the ring is closed). */
  #ring(count: number): void {
    const words = this.#words;
    if (this.#requests.closed) {
      for (const bell of [W_DOORBELL, W_BUSY_BELL]) {
        Atomics.add(words, bell, 1);
        Atomics.notify(words, bell);
      }
      return;
    }
    // Idle workers first: waking them is cheaper and spreads the load.
    const idle = Atomics.load(words, W_IDLE_WORKERS);
    if (idle > 0) {
      Atomics.add(words, W_DOORBELL, 1);
      const woken = Atomics.notify(words, W_DOORBELL, Math.min(idle, count));
      if (woken > 0) Atomics.add(words, W_WAKING, woken);
      count -= woken;
    }
    if (count > 0 && Atomics.load(words, W_IDLE_BUSY) > 0) {
      Atomics.add(words, W_BUSY_BELL, 1);
      Atomics.notify(words, W_BUSY_BELL, count);
    }
  }
  #unrung = 0;

  #drainEvents(): void {
    const events = this.#events;
    for (let event = events.tryPop(); event !== undefined;) {
      this.#onEvent(event);
      event = events.tryPop();
    }
  }

  #onEvent(event: number): void {
    const slot = this.#slots[event >>> 4];
    if (slot === undefined || slot.job === undefined) return;
    const type = event & 7;
    if (!slot.aborted) {
      switch (type) {
        case EV_RESPONSE_FULL:
          this.#respondFull(slot);
          break;
        case EV_RESPONSE_STREAM:
          this.#respondStream(slot);
          break;
        case EV_CHUNK:
          if (slot.pipe !== undefined) {
            slot.pipe.ready = true;
            slot.pipe.offset = 0;
            this.#feed(slot.pipe);
          }
          break;
        case EV_END:
          if (slot.pipe !== undefined) {
            slot.pipe.ended = true;
            this.#feed(slot.pipe);
          }
          break;
        case EV_PULL:
          this.#pumpBody(slot);
          break;
        case EV_ERROR:
          if (!slot.responded) {
            this.#respond(slot, this.#plain(500, "Internal Server Error"));
          } else if (slot.pipe !== undefined && !slot.pipe.done) {
            slot.pipe.done = true;
            slot.pipe.controller.error(new Error("The handler's body failed"));
          }
          break;
      }
    }
    if (event & EV_RELEASE) this.#release(slot);
  }

  #respond(slot: Slot, response: Response): void {
    if (slot.responded) return;
    slot.responded = true;
    const job = slot.job!;
    // Deno aborts request.signal once a response is sent (legacy
    // behaviour); from here on a streaming body's cancel() reports a
    // disconnect.
    if (slot.watching) {
      slot.watching = false;
      job.request.signal.removeEventListener("abort", slot.onClientAbort);
    }
    job.resolve(response);
  }

  /** Counters for the metrics endpoint, when it is on. */
  readonly #requestMetrics: RequestMetrics | undefined;

  /** A plain answer given before a request reaches a job, counted for metrics. */
  #early(
    status: number,
    text: string,
    extra?: Record<string, string>,
  ): Response {
    this.#requestMetrics?.record(status, 0);
    return this.#plain(status, text, extra);
  }

  #plain(
    status: number,
    text: string,
    extra?: Record<string, string>,
  ): Response {
    const headers = new Headers(extra);
    headers.set("content-type", "text/plain; charset=utf-8");
    if (this.#closing) headers.set("connection", "close");
    return new Response(text, { status, headers });
  }

  /**
   * Decodes the response head in RES_AREA. Returns undefined (after
   * answering 500) if the worker's head is not a valid response; a malformed
   * header name or value makes `new Response()` throw, answered the same way.
   */
  #readHead(slot: Slot): ResponseHead | undefined {
    const area = slot.base + RES_AREA;
    const headLength = this.#words[slot.word + C_RES_HEAD_LEN]!;
    const bytes = this.#bytes;
    const heads = this.#heads;
    const cached = heads.cached(bytes, area, headLength);
    if (cached !== undefined) return cached;
    try {
      return heads.decode(bytes, area, headLength);
    } catch (error) {
      console.error(
        "ringpool: a worker returned an invalid response head:",
        error,
      );
      this.#abort(slot, "invalid");
      return undefined;
    }
  }
  readonly #heads = new HeadDecoder();
  readonly #scratch: Uint8Array<ArrayBuffer> = new Uint8Array(RES_BYTES);

  /** The header list of a response, with what main adds (never mutates `head`). */
  #headerList(
    head: ResponseHead,
    contentLength: number,
  ): [string, string][] {
    const closing = this.#closing;
    if (contentLength < 0 && !closing) return head.headers;
    const headers = [...head.headers];
    if (contentLength >= 0) {
      headers.push(["content-length", String(contentLength)]);
    }
    if (closing) headers.push(["connection", "close"]);
    return headers;
  }

  #respondFull(slot: Slot): void {
    if (slot.responded) return;
    const head = this.#readHead(slot);
    if (head === undefined) return;
    const area = slot.base + RES_AREA;
    const headLength = this.#words[slot.word + C_RES_HEAD_LEN]!;
    const length = this.#words[slot.word + C_RES_LEN]! - headLength;
    // Response copies a BufferSource body (and refuses a view of shared
    // memory), so one scratch copy, reused, saves allocating (and later
    // collecting) a buffer per response.
    let body: Uint8Array<ArrayBuffer> | null = null;
    if (length > 0) {
      const start = area + headLength;
      this.#scratch.set(this.#bytes.subarray(start, start + length));
      body = this.#scratch.subarray(0, length);
    }
    this.#respondWith(slot, head, body);
  }

  /** A worker's BulkResponse: the head in the slot, the body in the message. */
  #onBulkResponse(entry: WorkerEntry, message: BulkResponse): void {
    const slot = this.#slots[message.slot];
    if (
      slot === undefined || slot.job === undefined ||
      Atomics.load(this.#words, slot.word + C_OWNER) !== entry.id
    ) return;
    // Ring events the worker sent before come first.
    this.#drainEvents();
    if (!slot.aborted && !slot.responded) {
      const head = this.#readHead(slot);
      if (head !== undefined) {
        this.#respondWith(slot, head, new Uint8Array(message.body), true);
      }
    }
    // The message released the slot.
    this.#release(slot);
  }

  /**
   * Answers with a whole body, checked against the declared length. An
   * `owned` body (nobody else holds it) is handed to Deno as a one-chunk
   * stream, which Deno writes without the copy `new Response(bytes)` makes
   * (measured: 12% of main's time in a 1 MiB echo).
   */
  #respondWith(
    slot: Slot,
    head: ResponseHead,
    body: Uint8Array<ArrayBuffer> | null,
    owned = false,
  ): void {
    const length = body?.byteLength ?? 0;
    const isHead = slot.job!.request.method === "HEAD";
    if (
      head.declared >= 0 && !isHead &&
      head.declared !== length
    ) {
      console.error(
        `ringpool: the handler declared content-length ${head.declared} but sent ${length} bytes`,
      );
      this.#abort(slot, "invalid");
      return;
    }
    const whole = owned && body !== null && !isHead;
    const headers = this.#headerList(
      head,
      whole
        ? length
        : isHead && head.declared >= 0 && length === 0
        ? head.declared
        : -1,
    );
    let response: Response;
    try {
      response = new Response(
        whole
          ? new ReadableStream({
            start(controller) {
              controller.enqueue(body);
              controller.close();
            },
          })
          : body,
        { status: head.status, headers },
      );
    } catch (error) {
      console.error("ringpool: a worker returned an invalid response:", error);
      this.#abort(slot, "invalid");
      return;
    }
    this.#respond(slot, response);
  }

  #respondStream(slot: Slot): void {
    if (slot.responded) return;
    const head = this.#readHead(slot);
    if (head === undefined) return;
    const headLength = this.#words[slot.word + C_RES_HEAD_LEN]!;
    const pipe: Pipe = {
      controller: undefined!,
      slot,
      // Even an empty first chunk is "ready": copying it hands the area
      // back, which the worker waits for before it writes the next one.
      ready: true,
      offset: headLength,
      ended: false,
      done: false,
      wake: undefined,
      declared: head.declared,
      sent: 0,
    };
    // highWaterMark 0: we copy a chunk out of the slot only when the socket
    // asks for one, so a slow reader stalls the worker instead of our memory.
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        pipe.controller = controller;
      },
      pull: () => {
        if (this.#feed(pipe, true)) return;
        return new Promise<void>((resolve) => pipe.wake = resolve);
      },
      cancel: () => {
        pipe.done = true;
        this.#abort(slot, "client");
      },
    }, { highWaterMark: 0 });
    const headers = this.#headerList(head, head.declared);
    let response: Response;
    try {
      response = new Response(body, { status: head.status, headers });
    } catch (error) {
      console.error("ringpool: a worker returned an invalid response:", error);
      this.#abort(slot, "invalid");
      return;
    }
    slot.pipe = pipe;
    this.#respond(slot, response);
  }

  /** Moves a ready chunk (or the end) into the stream; true if it did. */
  #feed(pipe: Pipe, asked = pipe.wake !== undefined): boolean {
    if (pipe.done) return true;
    const slot = pipe.slot;
    if (pipe.ready) {
      if (!asked) {
        // Nobody asked yet: leave it in the slot, pull() will take it.
        return false;
      }
      const area = slot.base + RES_AREA;
      const end = area + this.#words[slot.word + C_RES_LEN]!;
      const chunk = copyOut(this.#bytes, area + pipe.offset, end);
      pipe.ready = false;
      pipe.sent += chunk.byteLength;
      if (pipe.declared >= 0 && pipe.sent > pipe.declared) {
        console.error(
          `ringpool: the handler declared content-length ${pipe.declared} but sent more`,
        );
        pipe.done = true;
        pipe.controller.error(new Error("Response body longer than declared"));
        this.#abort(slot, "invalid");
        this.#wakePipe(pipe);
        return true;
      }
      // The copy is ours: the worker may write the next chunk.
      this.#toWorker(slot, IN_CREDIT);
      // An empty first chunk satisfies no read: keep waiting, since the
      // stream only calls pull() again after an enqueue.
      if (chunk.byteLength === 0) return false;
      pipe.controller.enqueue(chunk);
      this.#wakePipe(pipe);
      return true;
    }
    if (pipe.ended) {
      pipe.done = true;
      if (pipe.declared >= 0 && pipe.sent !== pipe.declared) {
        pipe.controller.error(new Error("Response body shorter than declared"));
      } else {
        pipe.controller.close();
      }
      this.#wakePipe(pipe);
      return true;
    }
    return false;
  }

  #wakePipe(pipe: Pipe): void {
    const wake = pipe.wake;
    pipe.wake = undefined;
    wake?.();
  }

  #toWorker(slot: Slot, type: number): void {
    const owner = Atomics.load(this.#words, slot.word + C_OWNER);
    const entry = this.#workers[owner - 1];
    if (entry === undefined) return;
    // Inboxes are sized for every event a worker's slots can have pending.
    if (!entry.inbox.tryPush((slot.id << 4) | type)) {
      console.error(`ringpool: worker ${owner}'s inbox overflowed`);
    }
  }

  /** Answers a worker's pull with the next request body chunk. */
  async #pumpBody(slot: Slot): Promise<void> {
    const job = slot.job!;
    const body = job.request.body;
    if (body === null) return this.#toWorker(slot, IN_REQ_END);
    let chunk = slot.leftover;
    slot.leftover = undefined;
    if (chunk === undefined && slot.wholeBody) {
      return this.#toWorker(slot, IN_REQ_END);
    }
    let pooled: Uint8Array<ArrayBuffer> | undefined;
    if (chunk === undefined) {
      try {
        slot.reader ??= byobReader(body) ?? body.getReader();
        let result: ReadableStreamReadResult<Uint8Array>;
        if (slot.reader instanceof ReadableStreamBYOBReader) {
          // Deno reads the socket straight into a buffer we reuse: no
          // garbage per chunk, which kept ~40 MiB of dead chunks per 100 MiB
          // upload alive until V8's external-memory GC came round.
          result = await slot.reader.read(
            this.#bodyBuffers.pop() ?? new Uint8Array(CHUNK_BYTES),
          );
          if (result.value !== undefined) {
            pooled = new Uint8Array(result.value.buffer as ArrayBuffer);
          }
        } else {
          result = await slot.reader.read();
        }
        if (result.done) job.bodyDone = true;
        if (slot.aborted || slot.job !== job || result.done) {
          if (pooled !== undefined) this.#bodyBuffers.push(pooled);
          if (slot.aborted || slot.job !== job) return;
          return this.#toWorker(slot, IN_REQ_END);
        }
        chunk = result.value;
      } catch {
        job.bodyDone = true;
        if (slot.aborted || slot.job !== job) return;
        return this.#toWorker(slot, IN_REQ_ERROR);
      }
    }
    if (slot.bodyBytes + chunk.byteLength > this.#settings.maxBodySize) {
      // Stop at the limit: the worker never sees the bytes beyond it.
      job.bodyDone = true;
      this.#respond(slot, this.#plain(413, "Content Too Large"));
      this.#toWorker(slot, IN_REQ_ERROR);
      slot.reader?.cancel().catch(() => {});
      return;
    }
    const length = Math.min(chunk.byteLength, CHUNK_BYTES);
    slot.bodyBytes += length;
    this.#bytes.set(chunk.subarray(0, length), slot.base + REQ_AREA);
    this.#words[slot.word + C_REQ_LEN] = length;
    if (length < chunk.byteLength) slot.leftover = chunk.subarray(length);
    // Copied out: its buffer can take the next read (of any request).
    if (pooled !== undefined && this.#bodyBuffers.length < 64) {
      this.#bodyBuffers.push(pooled);
    }
    this.#toWorker(slot, IN_REQ_CHUNK);
  }
  /** Buffers for BYOB reads of request bodies, reused. */
  readonly #bodyBuffers: Uint8Array<ArrayBuffer>[] = [];

  // ---- failures ----------------------------------------------------------

  /**
   * Gives up on a request: answers it (unless answered), tells the worker to
   * stop, and frees the slot if no worker holds it.
   */
  #abort(
    slot: Slot,
    why: "client" | "timeout" | "invalid" | "shutdown",
  ): void {
    if (slot.job === undefined || slot.aborted) return;
    this.#respond(
      slot,
      why === "timeout"
        ? this.#plain(504, "Gateway Timeout")
        : why === "invalid"
        ? this.#plain(500, "Internal Server Error")
        : this.#plain(503, "Service Unavailable"),
    );
    slot.aborted = true;
    slot.abortedAt = performance.now();
    const pipe = slot.pipe;
    if (pipe !== undefined && !pipe.done) {
      pipe.done = true;
      pipe.controller.error(new Error(`The response was cut off (${why})`));
      this.#wakePipe(pipe);
    }
    slot.reader?.cancel().catch(() => {});
    const words = this.#words;
    // Set the flag before reading the owner; the worker stores the owner
    // before reading the flag (see _server_worker.ts).
    Atomics.or(words, slot.word + C_FLAGS, F_ABORTED);
    if (
      Atomics.compareExchange(words, slot.word + C_CLAIM, slot.ticket, 0) ===
        slot.ticket
    ) {
      // Still queued: no worker will ever take it now.
      this.#cancelled = (this.#cancelled + 1) | 0;
      this.#release(slot);
      return;
    }
    if (Atomics.load(words, slot.word + C_OWNER) !== 0) {
      this.#toWorker(slot, IN_ABORT);
    }
  }

  #release(slot: Slot): void {
    const job = slot.job;
    if (job === undefined) return;
    // A worker that releases without answering has broken the protocol.
    if (!slot.responded) {
      this.#respond(slot, this.#plain(500, "Internal Server Error"));
    }
    slot.job = undefined;
    this.#busy.delete(slot);
    const pipe = slot.pipe;
    if (pipe !== undefined && !pipe.done && !pipe.ended) {
      pipe.done = true;
      pipe.controller.error(
        new Error("The worker released an unfinished body"),
      );
      this.#wakePipe(pipe);
    }
    slot.pipe = undefined;
    slot.reader = undefined;
    slot.leftover = undefined;
    if (slot.assigned !== undefined) {
      slot.assigned.bulk--;
      slot.assigned = undefined;
    }
    const words = this.#words;
    const owner = Atomics.exchange(words, slot.word + C_OWNER, 0);
    this.#completed++;
    if (words[slot.word + C_WANTS_COMPLETED] === 1) {
      this.#reportCompletion(slot, job, owner);
    } else {
      this.#reuse(slot);
    }
  }

  #reuse(slot: Slot): void {
    const next = this.#nextWaiting();
    if (next !== undefined) this.#start(slot, next);
    else this.#free.push(slot);
  }

  /**
   * Tells the worker whose handler read `info.completed` when the client has
   * the response, from Deno.serve's own `info.completed`. The slot stays out
   * of use until then, so the event names this request and no later one.
   */
  #reportCompletion(slot: Slot, job: Job, owner: number): void {
    const entry = this.#workers[owner - 1];
    const report = (type: number) => {
      this.#reporting.delete(reported);
      // A replaced worker's requests are gone with it.
      if (entry !== undefined && this.#workers[owner - 1] === entry) {
        entry.inbox.tryPush((slot.id << 4) | type);
      }
      this.#reuse(slot);
    };
    const reported = job.info.completed.then(
      () => report(IN_COMPLETED),
      () => report(IN_COMPLETED_FAILED),
    );
    this.#reporting.add(reported);
  }
  /** Completions still to be reported; the drain waits for them. */
  readonly #reporting = new Set<Promise<void>>();

  #nextWaiting(): Job | undefined {
    while (this.#waitingHead < this.#waiting.length) {
      const job = this.#waiting[this.#waitingHead++]!;
      if (
        this.#waitingHead > 1024 && this.#waitingHead * 2 > this.#waiting.length
      ) {
        this.#waiting = this.#waiting.slice(this.#waitingHead);
        this.#waitingHead = 0;
      }
      // Only a job that outlived a sweep looks at its signal: touching
      // request.signal costs Deno an AbortSignal and a DOMException.
      if (!job.settled && !(job.stale && job.request.signal.aborted)) {
        return job;
      }
    }
    if (this.#waitingHead > 0) {
      this.#waiting = [];
      this.#waitingHead = 0;
    }
    return undefined;
  }

  #checkDeadlines(): void {
    this.#drainEvents();
    const now = performance.now();
    const timeout = this.#settings.requestTimeout;
    // A worker that has not let go of an aborted request by then is stuck
    // in synchronous code: only terminating it frees the thread.
    const grace = Math.min(Math.max(timeout / 2, 100), 1000);
    for (let i = this.#waitingHead; i < this.#waiting.length; i++) {
      const job = this.#waiting[i]!;
      job.stale = true;
      if (!job.settled && now - job.start > timeout) {
        // Left in the queue; answered now, skipped when its turn comes.
        job.settled = true;
        job.resolve(this.#plain(504, "Gateway Timeout"));
      }
    }
    for (const slot of this.#busy) {
      const job = slot.job!;
      if (!slot.aborted) {
        if (slot.responded) continue;
        if (now - job.start > timeout) {
          this.#abort(slot, "timeout");
        } else if (!slot.watching) {
          // Only requests that outlive a sweep watch for the client leaving:
          // touching request.signal costs Deno an AbortSignal and a
          // DOMException per request, too much for the fast path.
          slot.watching = true;
          job.request.signal.addEventListener("abort", slot.onClientAbort);
          if (job.request.signal.aborted) this.#abort(slot, "client");
        }
        continue;
      }
      if (!slot.terminateSent && now - slot.abortedAt > grace) {
        const owner = Atomics.load(this.#words, slot.word + C_OWNER);
        const entry = this.#workers[owner - 1] ?? slot.assigned;
        if (entry !== undefined) {
          slot.terminateSent = true;
          console.error(
            `ringpool: worker ${entry.id} did not let go of a request it was told to abort; terminating it`,
          );
          entry.stopping = true;
          entry.worker.terminate();
        }
      }
    }
  }

  #onWorkerExit(entry: WorkerEntry, code: number): void {
    // Events the worker sent before it died come first.
    this.#drainEvents();
    for (const slot of [...this.#busy]) {
      const owner = Atomics.load(this.#words, slot.word + C_OWNER);
      if (owner !== entry.id && !(owner === 0 && slot.assigned === entry)) {
        continue;
      }
      this.#respond(slot, this.#plain(502, "Bad Gateway"));
      slot.aborted = true;
      const pipe = slot.pipe;
      if (pipe !== undefined && !pipe.done) {
        pipe.done = true;
        pipe.controller.error(new Error(`Worker ${entry.id} exited`));
        this.#wakePipe(pipe);
      }
      slot.reader?.cancel().catch(() => {});
      this.#release(slot);
    }
    Atomics.store(this.#words, W_WORKER_INFLIGHT + entry.id - 1, 0);
    // It can no longer take itself out of the wake-up counts (see
    // _server_wire.ts); both corrections can only cause an extra wake-up.
    if (Atomics.exchange(this.#words, W_WORKER_POLLING + entry.id - 1, 0)) {
      Atomics.sub(this.#words, W_POLLING, 1);
    }
    Atomics.store(this.#words, W_WAKING, 0);
    this.#ring(this.#slots.length);
    if (this.#workers[entry.id - 1] !== entry) return;
    // Before start-up finished a failing worker fails serve() instead.
    if (this.#requests.closed || this.#http === undefined) {
      if (this.#requests.closed) this.#workers[entry.id - 1] = undefined;
      return;
    }
    if (!entry.loaded) {
      // The handler no longer loads (say it changed on disk): retry once a
      // second instead of spinning up a thread after thread.
      console.error(
        `ringpool: worker ${entry.id} failed to load the handler; retrying in 1 s`,
      );
      this.#workers[entry.id - 1] = undefined;
      const retry = setTimeout(() => {
        this.#retries.delete(retry);
        if (!this.#requests.closed) this.#spawn(entry.id);
      }, 1000);
      this.#retries.add(retry);
      return;
    }
    console.error(
      `ringpool: worker ${entry.id} exited with code ${code}; starting a replacement`,
    );
    this.#spawn(entry.id);
  }
  readonly #retries = new Set<ReturnType<typeof setTimeout>>();

  // ---- shutdown ----------------------------------------------------------

  shutdown(options: { timeout?: number } = {}): Promise<void> {
    this.#shutdown ??= this.#drain(
      options.timeout ?? this.#settings.drainTimeout,
    );
    return this.#shutdown;
  }

  async #drain(timeout: number): Promise<void> {
    this.#unready = true;
    try {
      this.#settings.onDrain?.();
    } catch (error) {
      console.error("ringpool: onDrain failed:", error);
    }
    const delay = this.#settings.readinessDelay;
    if (delay > 0) {
      // Out of rotation but still serving: the load balancer notices the
      // readiness 503 and stops sending before we stop accepting.
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    this.#draining = true;
    const http = this.#http!;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cutOff = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeout);
    });
    // New requests get 503 + Connection: close from now on (#handle), but
    // the listener may only close once no accepted upload is mid-body.
    const deadline = performance.now() + timeout;
    while (this.#receivingBodies() && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const drained = http.shutdown();
    const outcome = await Promise.race([drained, cutOff]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      for (let i = this.#waitingHead; i < this.#waiting.length; i++) {
        this.#waiting[i]!.resolve(this.#plain(503, "Service Unavailable"));
      }
      this.#waiting = [];
      this.#waitingHead = 0;
      for (const slot of [...this.#busy]) this.#abort(slot, "shutdown");
      await drained;
    }
    // Every response is out, so Deno has settled every info.completed:
    // let the workers hear of it before they go (bounded all the same).
    if (this.#reporting.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(this.#reporting),
        new Promise((resolve) => timer = setTimeout(resolve, 1000)),
      ]);
      clearTimeout(timer);
    }
    // Close the ring: workers finish and exit.
    this.#requests.close();
    this.#ringDoorbell();
    const grace = Math.max(1000, Math.min(timeout, 5000));
    await Promise.all(this.#workers.map(async (entry) => {
      if (entry === undefined) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), grace);
      });
      if (await Promise.race([entry.exited, late]) === "late") {
        entry.worker.terminate();
        await entry.exited;
      }
      clearTimeout(timer);
      try {
        this.#settings.onWorkerExit?.(entry.id);
      } catch (error) {
        console.error("ringpool: onWorkerExit failed:", error);
      }
    }));
    this.#stopped = true;
    clearInterval(this.#sweep);
    for (const retry of this.#retries) clearTimeout(retry);
    this.#events.close();
    // Let the event loop see #stopped and end.
    Atomics.add(this.#words, W_MAIN_BELL, 1);
    Atomics.notify(this.#words, W_MAIN_BELL);
    if (this.#signalHandler !== undefined) {
      Deno.removeSignalListener("SIGINT", this.#signalHandler);
      if (Deno.build.os !== "windows") {
        Deno.removeSignalListener("SIGTERM", this.#signalHandler);
      }
    }
    if (this.#abortListener !== undefined) {
      this.#settings.signal?.removeEventListener("abort", this.#abortListener);
    }
    this.#resolveFinished();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #metrics(): Response {
    return new Response(renderMetrics(this.stats(), this.#requestMetrics), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  }

  stats(): ServerStats {
    const words = this.#words;
    const workers: { id: number; inFlight: number }[] = [];
    let inFlight = 0;
    for (let id = 1; id <= this.#settings.workers; id++) {
      const count = Atomics.load(words, W_WORKER_INFLIGHT + id - 1);
      inFlight += count;
      workers.push({ id, inFlight: count });
    }
    return {
      queued: this.#queued(),
      inFlight,
      completed: this.#completed,
      workers,
    };
  }
}
