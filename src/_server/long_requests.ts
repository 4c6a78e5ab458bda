// Long requests never take the last worker while short ones are coming.
//
// Workers claim tickets from one FIFO ring, so a burst of requests whose
// handlers compute for long (more of them than there are workers) would
// put every short request that arrives next behind them: it waits until
// a worker has run through the burst. Main learns which routes are long
// from the time each handler's synchronous call took (the worker writes it
// into the slot, C_HANDLER_US), and keeps a long request out of the ring
// (in `held`, oldest first) while the long ones running would otherwise
// leave no worker for the short ones:
//
//   request ──long route?──no──▶ dispatch (any free worker)
//                │ yes
//                ▼
//     long running < min(serving workers - 1, cores)
//                    (or no short request for 10 s)?
//                │ yes ──▶ dispatch, long running + 1
//                │ no  ──▶ held ──a long one releases its slot──▶ dispatch
//
// Routes are keyed by path (and method, when not GET). Main looks a route
// up only once some request has taken 20 ms or more (the table is empty
// until then): before that this costs nothing.
import type { ServerContext } from "./context.ts";
import { pathOf } from "./bytes.ts";
import type { Job } from "./slots.ts";
import { WaitingQueue } from "./queue.ts";

/** A route whose handler's synchronous call takes this long (µs) is long. */
const LONG_US = 10_000;
/** Short requests seen within this many ms make main keep a worker for them. */
const SHORT_WINDOW_MS = 10_000;
const CORES = navigator.hardwareConcurrency;
/** Routes remembered at most; the table starts afresh beyond. */
const MAX_ROUTES = 1024;

/** Learns long routes and holds back their requests (see the drawing above). */
export class LongRequests {
  readonly #ctx: ServerContext;
  /** Long requests waiting for a long one to finish. */
  readonly held: WaitingQueue = new WaitingQueue();
  /** Routes seen long, with their running average in µs. */
  readonly #costs = new Map<string, number>();
  /** Long requests dispatched and not yet released. */
  #running = 0;
  /** When the last short request came (tracked once the table has a route). */
  #shortAt = -Infinity;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /**
   * Classifies `job` on its way to dispatch; true if it must wait in
   * `held` (it is then there).
   */
  hold(job: Job): boolean {
    if (this.#costs.size === 0) return false;
    const route = job.route ??= routeOf(job.request);
    if ((this.#costs.get(route) ?? 0) < LONG_US) {
      this.#shortAt = performance.now();
      return false;
    }
    job.long = true;
    if (
      this.#running < this.limit() ||
      performance.now() - this.#shortAt > SHORT_WINDOW_MS
    ) {
      return false;
    }
    this.held.push(job);
    return true;
  }

  /** Long requests dispatched and not yet released. */
  get running(): number {
    return this.#running;
  }

  /** `job` took a slot and its ticket is in the ring. */
  started(job: Job): void {
    if (!job.long) return;
    this.#running++;
    this.#ctx.spares.update();
  }

  /**
   * `job` let go of its slot; `us` is its handler's synchronous time (-1 if
   * the worker did not say). Dispatches the held jobs that may go now.
   */
  released(job: Job, us: number): void {
    if (us >= 0) this.#learn(job, us);
    if (!job.long) return;
    job.long = false;
    this.#running--;
    // One that could not start (and so does not count) lets the next go.
    while (
      this.held.length > 0 &&
      (this.#running === 0 || this.#running < this.limit())
    ) {
      const next = this.held.next();
      if (next === undefined) break;
      this.#ctx.dispatcher.place(next);
    }
    this.#ctx.spares.update();
  }

  // A running average over about four requests, from 0 for a route not
  // in the table: the time is wall-clock, and one short request the kernel
  // preempted for 20 ms (two busy cores) must not make its route long.
  // Routes under half the bound are not kept.
  #learn(job: Job, us: number): void {
    const costs = this.#costs;
    if (us < LONG_US * 2 && costs.size === 0) return;
    const route = job.route ??= routeOf(job.request);
    const before = costs.get(route) ?? 0;
    const average = before + (us - before) / 4;
    if (average < LONG_US / 2) {
      if (before > 0) costs.delete(route);
      return;
    }
    if (costs.size >= MAX_ROUTES && before === 0) costs.clear();
    costs.set(route, average);
  }

  /**
   * Long requests that may run at once: all regular workers taking
   * requests now but one (spares not counted: ./spares.ts), and no more than
   * the cores (more would only share them, with the short requests too). A
   * lone worker still runs one at a time. `regulars`: their number, if the
   * caller has it.
   */
  limit(regulars: number = this.#ctx.spares.regulars()): number {
    return Math.max(1, Math.min(regulars - 1, CORES));
  }
}

/** The key of a request's route: its path, after its method unless GET. */
function routeOf(request: Request): string {
  const path = pathOf(request.url);
  return request.method === "GET" ? path : request.method + " " + path;
}
