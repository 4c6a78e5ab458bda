// Collecting what workers send through the event ring: main's loop sleeps
// on the main bell (never blocking: Atomics.waitAsync) and each event moves
// its slot along (./slots.ts draws the states).
import { ownerWorker, type ServerContext } from "./context.ts";
import type { Slot } from "./slots.ts";
import {
  C_STREAM,
  EV_DETACH,
  EV_ERROR,
  EV_RELEASE,
  EV_RESPONSE_FULL,
  EV_RESPONSE_STREAM,
  EV_UPGRADE,
  eventSlot,
} from "./wire.ts";

/** Takes events off the event ring and hands each to its part. */
export class EventCollector {
  readonly #ctx: ServerContext;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /** Collects until the server has stopped, sleeping between batches. */
  async loop(): Promise<void> {
    const ctx = this.#ctx;
    const stopped = () => ctx.phase === "stopped";
    while (!stopped()) {
      this.collect();
      await ctx.doorbell.sleep(stopped);
    }
  }

  /** Takes every event already published (also called on each new request). */
  collect(): void {
    const events = this.#ctx.events;
    for (let event = events.tryPop(); event !== undefined;) {
      this.#onEvent(event);
      event = events.tryPop();
    }
  }

  #onEvent(event: number): void {
    const ctx = this.#ctx;
    const slot = ctx.slots.all[eventSlot(event)];
    if (slot?.job === undefined) return;
    if (slot.state !== "aborted") {
      switch (event & 7) {
        case EV_RESPONSE_FULL:
          ctx.responder.full(slot);
          break;
        case EV_RESPONSE_STREAM:
          ctx.responder.stream(slot);
          break;
        case EV_DETACH:
          this.#detach(slot);
          break;
        case EV_UPGRADE:
          this.#upgrade(slot);
          break;
        case EV_ERROR:
          ctx.responder.respond(
            slot,
            ctx.responder.plain(500, "Internal Server Error"),
          );
          break;
      }
    }
    if (event & EV_RELEASE) ctx.releaser.release(slot);
  }

  /** UPGRADE: the handler accepted a WebSocket. */
  #upgrade(slot: Slot): void {
    if (slot.state !== "dispatched") return;
    const ctx = this.#ctx;
    const worker = ownerWorker(ctx, slot);
    if (worker === undefined) return;
    ctx.sockets.upgrade(slot, worker, ctx.words[slot.word + C_STREAM]!);
  }

  /** DETACH: the request goes on over the channel (a streamed body, a head too large for the slot). */
  #detach(slot: Slot): void {
    if (slot.state !== "dispatched") return;
    const ctx = this.#ctx;
    const worker = ownerWorker(ctx, slot);
    if (worker === undefined) return;
    ctx.streams.adopt(
      slot,
      worker,
      ctx.words[slot.word + C_STREAM]!,
      "running",
    );
  }
}
