// The live dashboard (`dashboardPath`), answered on the main thread like
// the metrics path, never by a worker (so it holds no slot):
//
//   GET P             static/dashboard.html, one self-contained page
//   GET P/stats.json  a DashboardSnapshot
//   GET P/events      the snapshot as server-sent events, every TICK_MS
//
// Admission builds it only when dashboardPath is set, so a server without
// it pays nothing. One timer serves every open page and runs only while
// one listens; a page that goes away is dropped (Deno cancels its stream),
// and close() ends every stream when a drain starts, so the drain never
// waits for a dashboard.
import type { ServerContext, ServerPhase } from "./context.ts";
import type { RequestMetrics } from "./metrics.ts";
import type { ServerStats } from "./stats.ts";

/** How often an open page gets a snapshot. */
const TICK_MS = 500;
/** Frames a slow page may have unread before it skips snapshots. */
const BACKLOG = 4;
// Loaded on first use, from a file or (imported over http) with fetch.
const PAGE_URL = new URL("../../static/dashboard.html", import.meta.url);
/** Nothing but the page itself: no script, style or font from elsewhere. */
const PAGE_POLICY = "default-src 'none'; script-src 'unsafe-inline'; " +
  "style-src 'unsafe-inline'; connect-src 'self'; img-src data:";

/** Responses by status and the latency histogram, read from RequestMetrics. */
export interface ResponseCounts {
  /** Responses by status code. */
  byStatus: Record<string, number>;
  /** Upper bounds of the latency buckets, in seconds (a last one is +Inf). */
  bounds: number[];
  /** Responses per bucket (not cumulative), one more than `bounds`. */
  counts: number[];
  /** Sum of the latencies, in seconds. */
  sum: number;
  /** Responses counted. */
  count: number;
}

/** What the dashboard shows: `stats()` and what only main knows besides. */
export interface DashboardSnapshot extends ServerStats {
  /** When it was taken, ms since the epoch. */
  time: number;
  /** Seconds since the server started. */
  uptime: number;
  phase: ServerPhase;
  /** The pool's size range (min = max for a fixed pool). */
  pool: { min: number; max: number; concurrency: number };
  /** Requests that may wait for a worker before new ones get 503. */
  queueCapacity: number;
  /** Slots holding a request, of all the slots. */
  slots: { busy: number; total: number };
  /** Tickets in the request ring not yet claimed, of its capacity. */
  ring: { length: number; capacity: number };
  /** Pages listening to the event stream. */
  listeners: number;
  responses: ResponseCounts;
}

/** The dashboard's routes, its event streams and their one timer. */
export class Dashboard {
  readonly #ctx: ServerContext;
  readonly #page: string;
  readonly #json: string;
  readonly #events: string;
  readonly #started = performance.now();
  readonly #listeners = new Set<ReadableStreamDefaultController<Uint8Array>>();
  readonly #encoder = new TextEncoder();
  #html: Promise<string> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(ctx: ServerContext, path: string) {
    this.#ctx = ctx;
    this.#page = path;
    const base = path.replace(/\/+$/, "");
    this.#json = `${base}/stats.json`;
    this.#events = `${base}/events`;
  }

  /** Whether `pathname` is one of the dashboard's. */
  owns(pathname: string): boolean {
    return pathname === this.#page || pathname === this.#json ||
      pathname === this.#events;
  }

  /** Answers a request for one of its paths (see owns()). */
  handle(request: Request, pathname: string): Response | Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed", {
        status: 405,
        headers: { allow: "GET, HEAD" },
      });
    }
    if (pathname === this.#json) {
      return Response.json(this.snapshot(), {
        headers: { "cache-control": "no-store" },
      });
    }
    if (pathname === this.#events) return this.#listen();
    return this.#pageResponse();
  }

  /** The numbers the page shows, now. */
  snapshot(): DashboardSnapshot {
    const ctx = this.#ctx;
    const { settings } = ctx;
    return {
      time: Date.now(),
      uptime: Math.round(performance.now() - this.#started) / 1000,
      phase: ctx.phase,
      pool: {
        min: settings.workers,
        max: settings.maxWorkers,
        concurrency: settings.concurrency,
      },
      queueCapacity: settings.queueCapacity,
      slots: { busy: ctx.slots.busy.size, total: ctx.slots.all.length },
      ring: { length: ctx.requests.length, capacity: ctx.requests.capacity },
      listeners: this.#listeners.size,
      responses: readResponseCounts(ctx.metrics),
      ...ctx.stats(),
    };
  }

  /**
   * Ends every event stream, stops the timer and refuses new streams (503):
   * called when a drain starts, since Deno's graceful close waits for every
   * response, and an event stream never ends by itself. Idempotent.
   */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const controller of this.#listeners) {
      try {
        controller.close();
      } catch {
        // already errored (the client left)
      }
    }
    this.#listeners.clear();
  }

  #listen(): Response {
    if (this.#closed || this.#ctx.phase !== "serving") {
      return new Response("draining", {
        status: 503,
        headers: { "retry-after": "2" },
      });
    }
    let own!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        own = controller;
        this.#listeners.add(controller);
        // The browser reconnects this soon after the stream ends.
        controller.enqueue(this.#encoder.encode("retry: 2000\n\n"));
        this.#send(controller, this.#frame());
        this.#timer ??= setInterval(() => this.#tick(), TICK_MS);
      },
      cancel: () => this.#drop(own),
    }, { highWaterMark: BACKLOG });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-store",
        // Proxies (nginx) would otherwise buffer the stream.
        "x-accel-buffering": "no",
      },
    });
  }

  #tick(): void {
    // Until the drain calls close(), it is noticed here (within a tick).
    if (this.#ctx.phase !== "serving") return this.close();
    const frame = this.#frame();
    for (const controller of this.#listeners) this.#send(controller, frame);
  }

  #frame(): string {
    return `data: ${JSON.stringify(this.snapshot())}\n\n`;
  }

  /** Enqueues a frame unless the page is behind (it needs only the latest). */
  #send(
    controller: ReadableStreamDefaultController<Uint8Array>,
    frame: string,
  ): void {
    if ((controller.desiredSize ?? 0) <= 0) return;
    try {
      controller.enqueue(this.#encoder.encode(frame));
    } catch {
      this.#drop(controller);
    }
  }

  #drop(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#listeners.delete(controller);
    if (this.#listeners.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #pageResponse(): Promise<Response> {
    this.#html ??= loadPage();
    let html: string;
    try {
      html = await this.#html;
    } catch (error) {
      this.#html = undefined; // try again next time
      console.error("ringpool: cannot load the dashboard page:", error);
      return new Response("Internal Server Error", { status: 500 });
    }
    return new Response(html, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "content-security-policy": PAGE_POLICY,
      },
    });
  }
}

/** The page shipped in static/, read from disk or, over http, fetched. */
async function loadPage(): Promise<string> {
  if (PAGE_URL.protocol === "file:") return await Deno.readTextFile(PAGE_URL);
  const response = await fetch(PAGE_URL);
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`Cannot load ${PAGE_URL.href}: HTTP ${response.status}`);
  }
  return await response.text();
}

/**
 * Responses by status and the latency histogram, read back from the
 * Prometheus text RequestMetrics renders (its counters are private; the
 * text is their one public form).
 */
export function readResponseCounts(
  metrics: RequestMetrics | undefined,
): ResponseCounts {
  const counts: ResponseCounts = {
    byStatus: {},
    bounds: [],
    counts: [],
    sum: 0,
    count: 0,
  };
  if (metrics === undefined) return counts;
  let below = 0;
  for (const line of metrics.render().split("\n")) {
    if (line.startsWith("#") || line === "") continue;
    const space = line.lastIndexOf(" ");
    const value = Number(line.slice(space + 1));
    const status = /^ringpool_responses_total\{status="(\d+)"\}/.exec(line);
    const bucket = /^ringpool_request_duration_seconds_bucket\{le="([^"]+)"\}/
      .exec(line);
    if (status !== null) counts.byStatus[status[1]!] = value;
    else if (bucket !== null) {
      // Cumulative in the text; per bucket here.
      if (bucket[1] !== "+Inf") counts.bounds.push(Number(bucket[1]));
      counts.counts.push(value - below);
      below = value;
    } else if (line.startsWith("ringpool_request_duration_seconds_sum ")) {
      counts.sum = value;
    } else if (line.startsWith("ringpool_request_duration_seconds_count ")) {
      counts.count = value;
    }
  }
  return counts;
}
