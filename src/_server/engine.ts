// The server's composition root: allocates the shared memory, builds the
// context and its parts, starts the workers through a WorkerSet, listens
// with Deno.serve, and is the handle serve() returns. Each job lives in a
// part (see docs/ARCHITECTURE.md for the map):
//
//   admission.ts  accept        dispatch.ts  into a slot and the ring
//   events.ts     collect       respond.ts / response_stream.ts  answer
//   request_body.ts  bodies     release.ts   free and reuse slots
//   faults.ts     abort, deadlines, dead workers     lifecycle.ts  shut down
import { ringCapacity } from "../_common/numbers.ts";
import { WorkerSet } from "../_workers/worker_set.ts";
import { RingBuffer } from "../ring_buffer.ts";
import { Admission } from "./admission.ts";
import { type ServerContext, WorkerLink } from "./context.ts";
import type { Batch, WorkerItem } from "./channel.ts";
import { Dispatcher } from "./dispatch.ts";
import { MainDoorbell } from "./doorbell.ts";
import { EventCollector } from "./events.ts";
import { Faults } from "./faults.ts";
import { Lifecycle } from "./lifecycle.ts";
import { RequestMetrics } from "./metrics.ts";
import { WaitingQueue } from "./queue.ts";
import { LongRequests } from "./long_requests.ts";
import { Spares } from "./spares.ts";
import { Releaser } from "./release.ts";
import { RequestBodies } from "./request_body.ts";
import { Responder } from "./respond.ts";
import { Rotation } from "./rotation.ts";
import type { Settings } from "./settings.ts";
import { SlotTable } from "./slots.ts";
import type { ServerStats, ServerWorkerStats } from "./stats.ts";
import { Sockets } from "./sockets.ts";
import { Streams } from "./streams.ts";
import {
  type BodyWanted,
  type BulkResponse,
  controlBytes,
  MAX_WORKERS,
  W_WORKER_COMPLETED,
  W_WORKER_GATED,
  W_WORKER_INFLIGHT,
  type WorkerData,
  type WorkerMessage,
} from "./wire.ts";

// spawnWorker() wraps it in a data: module when this package is imported
// over http(s), as from JSR (node workers only start file: and data: URLs).
const WORKER_URL = new URL("./worker/main.ts", import.meta.url);

type Building = { -readonly [K in keyof ServerContext]: ServerContext[K] };

/** The handle `serve()` returns; the shape of `Deno.HttpServer`. */
export class RingServer implements AsyncDisposable {
  readonly #ctx: ServerContext;
  readonly finished: Promise<void>;
  #sweep: ReturnType<typeof setInterval> | undefined;

  private constructor(settings: Settings) {
    // An adaptive pool's slots are made for its largest size.
    const slotCount = settings.maxWorkers * settings.concurrency;
    const control = new SharedArrayBuffer(controlBytes(slotCount));
    const ctx = {} as Building;
    ctx.settings = settings;
    ctx.bytes = new Uint8Array(control);
    ctx.words = new Int32Array(control);
    // Twice what can be in flight: a push may see "full" for a moment while
    // another thread sits between claiming and publishing a cell.
    ctx.requests = new RingBuffer(ringCapacity(2 * slotCount));
    // At most a few events per slot are unanswered at any time.
    ctx.events = new RingBuffer(ringCapacity(8 * slotCount));
    ctx.doorbell = new MainDoorbell(ctx.words, ctx.requests, ctx.events);
    ctx.slots = new SlotTable(
      slotCount,
      (slot) => ctx.faults.abort(slot, "client"),
    );
    ctx.queue = new WaitingQueue();
    ctx.longs = new LongRequests(ctx);
    ctx.spares = new Spares(ctx);
    // Kept for the metrics path and the dashboard, which both show them.
    ctx.metrics = settings.metricsPath === undefined &&
        settings.dashboardPath === undefined
      ? undefined
      : new RequestMetrics();
    ctx.admission = new Admission(ctx);
    ctx.dispatcher = new Dispatcher(ctx);
    ctx.collector = new EventCollector(ctx);
    ctx.responder = new Responder(ctx);
    ctx.bodies = new RequestBodies(ctx);
    ctx.releaser = new Releaser(ctx);
    ctx.faults = new Faults(ctx);
    ctx.streams = new Streams(ctx);
    ctx.sockets = new Sockets(ctx);
    ctx.rotation = new Rotation(ctx);
    let finish!: () => void;
    this.finished = new Promise((resolve) => finish = resolve);
    ctx.lifecycle = new Lifecycle(ctx, finish, () => this.#stop());
    ctx.stats = () => this.stats();
    ctx.http = undefined;
    ctx.phase = "starting";
    ctx.taken = 0;
    ctx.completed = 0;
    ctx.restarts = {
      reload: 0,
      requests: 0,
      memory: 0,
      timeout: 0,
      crash: 0,
    };
    ctx.workers = this.#workerSet(ctx, slotCount);
    this.#ctx = ctx;
  }

  /** Starts the workers, then listens; rejects (leaving nothing behind) if they fail to load. */
  static async start(settings: Settings): Promise<RingServer> {
    settings.signal?.throwIfAborted();
    const server = new RingServer(settings);
    const ctx = server.#ctx;
    try {
      await ctx.workers.ready;
    } catch (error) {
      ctx.phase = "stopped";
      ctx.requests.close();
      ctx.doorbell.ring(Infinity);
      await ctx.workers.terminateAll();
      throw error;
    }
    server.#listen();
    return server;
  }

  get addr(): Deno.NetAddr {
    return this.#ctx.http!.addr;
  }

  reload(): Promise<void> {
    return this.#ctx.rotation.reload();
  }

  shutdown(options: { timeout?: number } = {}): Promise<void> {
    return this.#ctx.lifecycle.shutdown(options.timeout);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  stats(): ServerStats {
    const ctx = this.#ctx;
    const { words, workers } = ctx;
    const list: ServerWorkerStats[] = [];
    let inFlight = 0;
    for (const worker of workers.members().sort((a, b) => a.id - b.id)) {
      const { index, data } = worker;
      const count = Atomics.load(words, W_WORKER_INFLIGHT + index);
      inFlight += count;
      list.push({
        id: index + 1,
        state: worker.state === "starting"
          ? "starting"
          : workers.retiring(worker)
          ? "retiring"
          : "ready",
        spare: data.gated,
        inFlight: count,
        streams: data.streams.size,
        sockets: data.sockets.size,
        completed: Atomics.load(words, W_WORKER_COMPLETED + index),
        heapMiB: workers.heapMiB(worker),
      });
    }
    return {
      queued: ctx.dispatcher.queued(),
      inFlight,
      completed: ctx.completed,
      messagesIn: ctx.sockets.messagesIn,
      messagesOut: ctx.sockets.messagesOut,
      restarts: { ...ctx.restarts },
      workers: list,
    };
  }

  #workerSet(ctx: ServerContext, slotCount: number): WorkerSet<WorkerLink> {
    const { settings } = ctx;
    return new WorkerSet<WorkerLink>({
      url: WORKER_URL,
      name: "ringpool server worker",
      size: settings.workers + settings.spareWorkers,
      capacity: MAX_WORKERS,
      resourceLimits: settings.resourceLimits,
      hooks: {
        prepare: (index) => {
          // A new worker at this position starts its counts afresh.
          Atomics.store(ctx.words, W_WORKER_INFLIGHT + index, 0);
          Atomics.store(ctx.words, W_WORKER_COMPLETED + index, 0);
          Atomics.store(ctx.words, W_WORKER_GATED + index, 0);
          // A few events per request in flight, plus one completion per slot.
          const inbox = new RingBuffer(
            ringCapacity(4 * settings.concurrency + slotCount + 4),
          );
          const workerData: WorkerData = {
            handler: settings.handler,
            concurrency: settings.concurrency,
            slotCount,
            control: ctx.words.buffer as SharedArrayBuffer,
            requests: ctx.requests.buffer,
            events: ctx.events.buffer,
            inbox: inbox.buffer,
          };
          return { workerData, data: new WorkerLink(inbox) };
        },
        started: (worker) => worker.data.port = worker.worker,
        onMessage: (worker, message) => {
          const { type } = message as WorkerMessage;
          if (type === "batch") {
            ctx.streams.onBatch(worker, message as Batch<WorkerItem>);
          } else if (type === "response") {
            ctx.responder.bulk(worker, message as BulkResponse);
          } else if (type === "body-wanted") {
            ctx.bodies.sendWhole(worker, message as BodyWanted);
          }
        },
        reclaim: (worker) => ctx.faults.reclaim(worker),
        shouldReplace: (worker, code) => {
          if (ctx.requests.closed || ctx.workers.retiring(worker)) return false;
          if (worker.data.stuck) ctx.restarts.timeout++;
          else if (ctx.phase !== "starting") {
            ctx.restarts.crash++;
            console.error(
              `ringpool: worker ${
                worker.index + 1
              } exited with code ${code}; starting a replacement`,
            );
          }
          return true;
        },
        loadError: (failure, worker) =>
          failure.error !== undefined
            ? new Error(
              `Cannot start server as the handler module failed to load: ${settings.handler}: ${failure.error.message}`,
              { cause: failure.error },
            )
            : new Error(
              `Cannot start server as worker ${
                worker.index + 1
              } exited with code ${failure.exitCode} while loading ${settings.handler}`,
              { cause: failure.cause },
            ),
        onLoadFailure: (worker, _error, starting) => {
          // During start-up serve() rejects instead (start() cleans up); a
          // worker a reload (or growth) started fails that change instead.
          if (starting || ctx.rotation.startedByChange(worker)) return "stop";
          // The handler no longer loads (say it changed on disk): retry once
          // a second instead of spinning up thread after thread.
          console.error(
            `ringpool: worker ${
              worker.index + 1
            } failed to load the handler; retrying in 1 s`,
          );
          return "retry";
        },
      },
    });
  }

  #listen(): void {
    const ctx = this.#ctx;
    const { settings } = ctx;
    const onListen = settings.onListen ?? ((addr: Deno.NetAddr) => {
      const host = addr.hostname.includes(":")
        ? `[${addr.hostname}]`
        : addr.hostname;
      console.log(
        `Listening on ${
          settings.cert ? "https" : "http"
        }://${host}:${addr.port}/ (${
          settings.maxWorkers > settings.workers
            ? `${settings.workers} to ${settings.maxWorkers}`
            : settings.workers
        } workers)`,
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
    const handler = (request: Request, info: Deno.ServeHandlerInfo) =>
      ctx.admission.handle(request, info);
    ctx.http = settings.cert !== undefined && settings.key !== undefined
      ? Deno.serve(
        { ...options, cert: settings.cert, key: settings.key },
        handler,
      )
      : Deno.serve(options, handler);
    ctx.phase = "serving";
    ctx.collector.loop();
    // An adaptive pool looks at its queue at least twice per growAfter.
    const every = Math.max(
      5,
      Math.min(
        250,
        settings.requestTimeout / 10,
        settings.maxWorkers > settings.workers ? settings.growAfter / 2 : 250,
      ),
    );
    ctx.spares.update();
    this.#sweep = setInterval(() => {
      ctx.faults.sweep();
      ctx.rotation.check(performance.now());
      // Workers come and go (a reload, a crash, an adaptive pool).
      ctx.spares.update();
    }, every);
    ctx.lifecycle.listen();
  }

  /** The last step of a shutdown: timers off, the event loop released. */
  #stop(): void {
    clearInterval(this.#sweep);
    this.#ctx.sockets.stop();
    this.#ctx.events.close();
    // Let the event loop see that the server stopped and end.
    this.#ctx.doorbell.wake();
  }
}
