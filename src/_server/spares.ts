// Spare workers: started with the pool, kept out of the request ring until
// long requests hold the cores.
//
// On a machine with few cores, every worker that takes requests shares the
// cores with the others: for medium work (a server-rendered page, a few ms)
// more workers than cores + 1 only make each request slower. But while long
// requests run on the cores (./long_requests.ts lets them take all workers
// but one), the short requests have one worker left, and it gets one share
// of the CPU among the long ones. A second worker for them doubles that
// share. So `spareWorkers` workers (the newest) wait, gated, until then:
//
//   gate of each spare:  closed ──long running ≥ their limit──▶ open
//                          ▲     (or fewer regular workers than `workers`)
//                          └──────────── otherwise ─────────────┘
//
// A gated spare pops nothing and is never counted as polling or waking, so
// the doorbell's accounting is about the other workers only; a spare that
// the gate catches polling leaves the way a retiring worker does (it stops
// polling, then passes on what is queued), and one woken for a ticket
// after its gate closed does the same. Main stores the gate word
// (W_WORKER_GATED) and notifies on it when it opens; a spare also looks at
// it again at least every 20 ms. A missed opening costs only its help,
// never a request: the regular workers take every ticket either way.
import {
  type ServerContext,
  type ServerWorker,
  servingWorkers,
} from "./context.ts";
import { W_WORKER_GATED } from "./wire.ts";

/** Opens and closes the spares' gates (see the drawing above). */
export class Spares {
  readonly #ctx: ServerContext;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /** Serving workers that are not spares (at least 1 while any serves). */
  regulars(serving: number = servingWorkers(this.#ctx).length): number {
    return Math.max(
      Math.min(serving, 1),
      serving - this.#ctx.settings.spareWorkers,
    );
  }

  /**
   * Sets every worker's gate from the long requests running now; call
   * after their count or the workers change.
   */
  update(): void {
    const ctx = this.#ctx;
    const count = ctx.settings.spareWorkers;
    if (count === 0) return;
    const serving = servingWorkers(ctx);
    const { longs } = ctx;
    const open = serving.length - count < ctx.settings.workers ||
      longs.running >= longs.limit(this.regulars(serving.length));
    for (let i = 0; i < serving.length; i++) {
      // The newest are the spares.
      this.#set(serving[i]!, !open && i >= serving.length - count);
    }
    // One retiring (or exited) must never wait at its gate.
    for (const worker of ctx.workers.members()) {
      if (worker.stopping || worker.state !== "ready") this.#set(worker, false);
    }
  }

  #set(worker: ServerWorker, gated: boolean): void {
    if (worker.data.gated === gated) return;
    worker.data.gated = gated;
    const word = W_WORKER_GATED + worker.index;
    Atomics.store(this.#ctx.words, word, gated ? 1 : 0);
    if (!gated) Atomics.notify(this.#ctx.words, word);
  }
}
