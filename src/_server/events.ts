// Collecting what workers send through the event ring: main's loop sleeps
// on the main bell (never blocking: Atomics.waitAsync) and each event moves
// its slot along (./slots.ts draws the states).
import type { ServerContext } from "./context.ts";
import {
  EV_CHUNK,
  EV_END,
  EV_ERROR,
  EV_PULL,
  EV_RELEASE,
  EV_RESPONSE_FULL,
  EV_RESPONSE_STREAM,
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
        case EV_CHUNK:
          slot.stream?.chunk();
          break;
        case EV_END:
          slot.stream?.end();
          break;
        case EV_PULL:
          ctx.bodies.pull(slot);
          break;
        case EV_ERROR:
          if (slot.state === "dispatched") {
            ctx.responder.respond(
              slot,
              ctx.responder.plain(500, "Internal Server Error"),
            );
          } else slot.stream?.fail("The handler's body failed");
          break;
      }
    }
    if (event & EV_RELEASE) ctx.releaser.release(slot);
  }
}
