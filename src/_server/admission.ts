// Accepting a request: what Deno.serve calls. Answers on the main thread
// what needs no worker (readiness, metrics, static files, early refusals),
// reads a small or bulk body whole first, and hands the rest on as jobs.
import { serveStatic } from "../static_files.ts";
import { pathOf } from "./bytes.ts";
import type { ServerContext } from "./context.ts";
import { Dashboard } from "./dashboard.ts";
import type { Job } from "./slots.ts";
import { BULK_BYTES, CHUNK_BYTES } from "./wire.ts";

/** Request bytes main holds at most for bulk transfer; beyond, bodies stream. */
const BULK_BUDGET = 32 * BULK_BYTES;

/** The front door: turns each Deno.serve request into a response or a job. */
export class Admission {
  readonly #ctx: ServerContext;
  /** Bytes of request bodies read (or being read) whole for bulk transfer. */
  #bulkBytes = 0;
  /** Jobs whose body is being read whole before they are queued. */
  readonly #readingWhole = new Set<Job>();
  /** The live dashboard, only when dashboardPath is set (./dashboard.ts). */
  readonly dashboard: Dashboard | undefined;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
    const path = ctx.settings.dashboardPath;
    this.dashboard = path === undefined ? undefined : new Dashboard(ctx, path);
  }

  /** Deno.serve's handler. */
  handle(
    request: Request,
    info: Deno.ServeHandlerInfo,
  ): Response | Promise<Response> {
    const ctx = this.#ctx;
    // The main thread is running anyway: take what the workers sent.
    ctx.collector.collect();
    const { responder, settings } = ctx;
    if (ctx.phase === "draining") {
      return responder.early(503, "Service Unavailable");
    }
    const dashboard = this.dashboard;
    if (
      settings.readinessPath !== undefined ||
      settings.metricsPath !== undefined || dashboard !== undefined
    ) {
      const pathname = pathOf(request.url);
      if (pathname === settings.readinessPath) {
        return ctx.phase === "serving"
          ? responder.plain(200, "ready")
          : responder.plain(503, "draining");
      }
      if (pathname === settings.metricsPath) return responder.metrics();
      if (dashboard?.owns(pathname)) return dashboard.handle(request, pathname);
    }
    const max = settings.maxRequests;
    if (max !== undefined) {
      if (ctx.taken >= max) return responder.early(503, "Service Unavailable");
      // The last one is still served: the drain waits for it.
      if (++ctx.taken === max) queueMicrotask(() => ctx.lifecycle.shutdown());
    }
    if (settings.static !== undefined) {
      return serveStatic(request, settings.static).then((response) =>
        response ?? this.#accept(request, info)
      );
    }
    return this.#accept(request, info);
  }

  /**
   * Whether some accepted request's body is still arriving. Deno 2.9's
   * `HttpServer.shutdown()` makes every in-flight request body unreadable at
   * once (denoland/deno#36809), so the drain waits for these first.
   */
  receivingBodies(): boolean {
    if (this.#readingWhole.size > 0) return true;
    for (const job of this.#ctx.queue.waiting()) {
      if (!job.settled && !job.bodyDone) return true;
    }
    for (const slot of this.#ctx.slots.busy) {
      if (!slot.job!.bodyDone) return true;
    }
    return this.#ctx.streams.receivingBodies();
  }

  #accept(
    request: Request,
    info: Deno.ServeHandlerInfo,
  ): Response | Promise<Response> {
    const ctx = this.#ctx;
    const { responder, settings } = ctx;
    // A body of known length up to BULK_BYTES is read whole first (within
    // a memory budget): small ones go inline, larger ones by message.
    let whole = false;
    let reserved = 0;
    if (request.body !== null) {
      const declared = request.headers.get("content-length");
      if (declared !== null) {
        const length = Number(declared);
        if (length > settings.maxBodySize) {
          return responder.early(413, "Content Too Large");
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
    if (ctx.dispatcher.queued() >= settings.queueCapacity) {
      return responder.early(503, "Service Unavailable", {
        "retry-after": "1",
      });
    }
    this.#bulkBytes += reserved;
    return new Promise<Response>((settle) => {
      const job = this.#job(request, info, settle, reserved);
      if (whole) this.#readWhole(job);
      else ctx.dispatcher.enqueue(job);
    });
  }

  /** The job of a request; its resolve also gives back a bulk reservation. */
  #job(
    request: Request,
    info: Deno.ServeHandlerInfo,
    settle: (response: Response) => void,
    reserved: number,
  ): Job {
    const metrics = this.#ctx.metrics;
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
    return {
      request,
      info,
      resolve,
      body: undefined,
      start,
      settled: false,
      stale: false,
      bodyDone: request.body === null,
      route: undefined,
      long: false,
    };
  }

  /**
   * The sweep's part: a body read whole that has not arrived within
   * requestTimeout gets 504, like any request that takes too long (its
   * read is left to end with the connection).
   */
  expire(now: number, timeout: number): void {
    for (const job of this.#readingWhole) {
      if (now - job.start <= timeout) continue;
      this.#readingWhole.delete(job);
      job.settled = true;
      job.resolve(this.#ctx.responder.plain(504, "Gateway Timeout"));
    }
  }

  #readWhole(job: Job): void {
    const { responder, settings, dispatcher } = this.#ctx;
    this.#readingWhole.add(job);
    const read = job.request.bytes();
    read.finally(() => {
      this.#readingWhole.delete(job);
      job.bodyDone = true;
    }).catch(() => {});
    read.then((body) => {
      if (job.settled) return; // timed out meanwhile
      if (body.byteLength > settings.maxBodySize) {
        job.resolve(responder.plain(413, "Content Too Large"));
      } else if (body.byteLength > BULK_BYTES) {
        job.resolve(responder.plain(400, "Bad Request"));
      } else {
        job.body = body;
        dispatcher.enqueue(job);
      }
    }, () => {
      if (!job.settled) job.resolve(responder.plain(400, "Bad Request"));
    });
  }
}
