// The end of a slot's use: the worker let go of it (its RELEASE bit, a
// BulkResponse, its exit, or a ticket cancelled before any claim). The
// slot then serves the next waiting job, or waits in `completing` first
// for `info.completed` to be reported (see ./slots.ts and ./wire.ts).
import type { ServerContext, ServerWorker } from "./context.ts";
import type { Job, Slot } from "./slots.ts";
import {
  C_CLAIM,
  C_HANDLER_US,
  C_WANTS_COMPLETED,
  IN_COMPLETED,
  IN_COMPLETED_FAILED,
} from "./wire.ts";

/** Frees slots and gives them to the next job. */
export class Releaser {
  readonly #ctx: ServerContext;
  /** Completions still to be reported; the drain waits for them. */
  readonly reporting = new Set<Promise<void>>();

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /** The worker let go of `slot` (any state but free/completing). */
  release(slot: Slot): void {
    const ctx = this.#ctx;
    const job = slot.job;
    if (job === undefined) return;
    // A worker that releases without answering has broken the protocol.
    if (slot.state === "dispatched") {
      ctx.responder.respond(
        slot,
        ctx.responder.plain(500, "Internal Server Error"),
      );
    }
    const detached = slot.state === "detached";
    // An upgrade given to a worker directly is over (a socket, or not).
    if (slot.directedTo !== undefined) slot.directedTo.data.upgrading--;
    const handlerUs = ctx.words[slot.word + C_HANDLER_US]!;
    ctx.slots.release(slot);
    // Taken back: 0, the claim's -id gone (0 if it was cancelled).
    const owner = -Atomics.exchange(ctx.words, slot.word + C_CLAIM, 0);
    ctx.completed++;
    // A detached request hears of info.completed over the channel.
    if (!detached && ctx.words[slot.word + C_WANTS_COMPLETED] === 1) {
      slot.state = "completing";
      this.#reportCompletion(slot, job, ctx.workers.byId(owner));
    } else {
      this.reuse(slot);
    }
    ctx.longs.released(job, handlerUs);
  }

  /** Gives a slot no job holds to the next waiting job, or frees it. */
  reuse(slot: Slot): void {
    const { queue, dispatcher, slots } = this.#ctx;
    for (let job = queue.next(); job !== undefined; job = queue.next()) {
      if (dispatcher.start(slot, job)) return;
    }
    slots.put(slot);
  }

  /**
   * Tells the worker whose handler read `info.completed` when the client has
   * the response, from Deno.serve's own `info.completed`. The slot stays out
   * of use until then, so the event names this request and no later one.
   */
  #reportCompletion(
    slot: Slot,
    job: Job,
    worker: ServerWorker | undefined,
  ): void {
    const report = (type: number) => {
      this.reporting.delete(reported);
      // A replaced worker's requests are gone with it.
      if (
        worker !== undefined && this.#ctx.workers.at(worker.index) === worker
      ) {
        worker.data.inbox.tryPush((slot.id << 4) | type);
      }
      this.reuse(slot);
    };
    const reported = job.info.completed.then(
      () => report(IN_COMPLETED),
      () => report(IN_COMPLETED_FAILED),
    );
    this.reporting.add(reported);
  }
}
