// Faults: giving up on a request (timeout, client gone, invalid response,
// shutdown), the sweep that enforces requestTimeout and notices clients
// that leave, and reclaiming the requests of a worker that exited.
import {
  ownerWorker,
  type ServerContext,
  type ServerWorker,
  tellOwner,
} from "./context.ts";
import type { Slot } from "./slots.ts";
import {
  C_CLAIM,
  C_FLAGS,
  C_WANTS_SIGNAL,
  F_ABORTED,
  IN_ABORT,
  ownerOf,
  W_WORKER_INFLIGHT,
} from "./wire.ts";

/** Why main gave up on a request; each has its answer. */
export type AbortReason = "client" | "timeout" | "invalid" | "shutdown";

const ANSWERS: Record<AbortReason, [number, string]> = {
  client: [503, "Service Unavailable"],
  timeout: [504, "Gateway Timeout"],
  invalid: [500, "Internal Server Error"],
  shutdown: [503, "Service Unavailable"],
};

/** Aborts, deadlines and dead workers. */
export class Faults {
  readonly #ctx: ServerContext;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /**
   * Gives up on a request: answers it (unless answered), tells the worker
   * to stop, and frees the slot if no worker holds it.
   */
  abort(slot: Slot, why: AbortReason): void {
    if (slot.job === undefined || slot.state === "aborted") return;
    const ctx = this.#ctx;
    const [status, text] = ANSWERS[why];
    ctx.responder.respond(slot, ctx.responder.plain(status, text));
    slot.state = "aborted";
    slot.abortedAt = performance.now();
    slot.feed?.cancel();
    const words = ctx.words;
    // Set the flag before our CAS; the worker's claim CAS comes before it
    // reads the flag (see worker/pump.ts): one of us sees the other.
    Atomics.or(words, slot.word + C_FLAGS, F_ABORTED);
    if (
      Atomics.compareExchange(words, slot.word + C_CLAIM, slot.ticket, 0) ===
        slot.ticket
    ) {
      // Still queued: no worker will ever take it now. (A ticket given to a
      // worker directly never counted as queued in the ring.)
      if (slot.directedTo === undefined) ctx.dispatcher.cancelled();
      ctx.releaser.release(slot);
      return;
    }
    // Claimed: the CAS that did it named the owner.
    tellOwner(ctx, slot, IN_ABORT);
  }

  /** Runs every 5-250 ms: timeouts, clients that left, stuck workers. */
  sweep(): void {
    const ctx = this.#ctx;
    ctx.collector.collect();
    const now = performance.now();
    const timeout = ctx.settings.requestTimeout;
    ctx.admission.expire(now, timeout);
    for (const queue of [ctx.queue, ctx.longs.held]) {
      let expired = false;
      for (const job of queue.waiting()) {
        job.stale = true;
        if (!job.settled && now - job.start > timeout) {
          job.settled = true;
          job.resolve(ctx.responder.plain(504, "Gateway Timeout"));
          expired = true;
        }
      }
      if (expired) queue.prune();
    }
    // A worker that has not let go of an aborted request by then is stuck
    // in synchronous code: only terminating it frees the thread.
    const grace = Math.min(Math.max(timeout / 2, 100), 1000);
    let orphans: Slot[] | undefined;
    for (const slot of ctx.slots.busy) {
      const owner = ownerOf(ctx.words, slot.word);
      if (owner !== 0 && ctx.workers.byId(owner) === undefined) {
        // Claimed by a thread that had exited: Deno emits a worker's exit
        // within terminate(), and the thread may run on for a moment, past
        // reclaim(); its claim names it, not its replacement.
        (orphans ??= []).push(slot);
        continue;
      }
      if (slot.state === "aborted") {
        if (!slot.terminateSent && now - slot.abortedAt > grace) {
          this.#terminateOwner(slot);
        }
      } else if (slot.state === "dispatched") {
        if (now - slot.job!.start > timeout) this.abort(slot, "timeout");
        else if (
          !slot.watching &&
          Atomics.load(ctx.words, slot.word + C_WANTS_SIGNAL) === 1
        ) this.#watch(slot);
      }
    }
    // Freed after the loop: releasing changes the set it walks.
    for (const slot of orphans ?? []) this.#orphaned(slot);
    ctx.streams.sweep(now, timeout, grace);
  }

  /** The worker exited: answers its requests 502 and frees their slots. */
  reclaim(worker: ServerWorker): void {
    const ctx = this.#ctx;
    // Events the worker sent before it died come first.
    ctx.collector.collect();
    for (const slot of [...ctx.slots.busy]) {
      if (
        slot.directedTo === worker && slot.state === "dispatched" &&
        Atomics.compareExchange(
            ctx.words,
            slot.word + C_CLAIM,
            slot.ticket,
            0,
          ) ===
          slot.ticket
      ) {
        // Given to it directly, never claimed: nobody else will take it.
        ctx.responder.respond(slot, ctx.responder.plain(502, "Bad Gateway"));
        ctx.releaser.release(slot);
        continue;
      }
      if (ownerOf(ctx.words, slot.word) === worker.id) this.#orphaned(slot);
    }
    ctx.streams.reclaim(worker);
    ctx.sockets.reclaim(worker);
    Atomics.store(ctx.words, W_WORKER_INFLIGHT + worker.index, 0);
    ctx.doorbell.forget(worker.index);
  }

  /**
   * Only requests that outlive a sweep and whose handler looked at its
   * signal watch for the client leaving: touching request.signal costs
   * Deno an AbortSignal and a DOMException per request, and makes Deno 2.9
   * warn (legacy abort) where `deno serve` would not.
   */
  #watch(slot: Slot): void {
    const signal = slot.job!.request.signal;
    slot.watching = true;
    signal.addEventListener("abort", slot.onClientAbort);
    if (signal.aborted) this.abort(slot, "client");
  }

  /** The slot's worker has exited: 502 if unanswered, and the slot is free. */
  #orphaned(slot: Slot): void {
    const ctx = this.#ctx;
    ctx.responder.respond(slot, ctx.responder.plain(502, "Bad Gateway"));
    slot.state = "aborted";
    slot.feed?.cancel();
    ctx.releaser.release(slot);
  }

  #terminateOwner(slot: Slot): void {
    const worker = ownerWorker(this.#ctx, slot);
    if (worker === undefined) return;
    slot.terminateSent = true;
    worker.data.stuck = true;
    console.error(
      `ringpool: worker ${
        worker.index + 1
      } did not let go of a request it was told to abort; terminating it`,
    );
    this.#ctx.workers.terminate(worker);
  }
}
