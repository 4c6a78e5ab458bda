// The worker's request loop: claim a ticket, start its handler, and only
// then look for the next one, so a worker never holds a request it has not
// started while it computes (per-request balancing); sleep on the doorbell
// when there is nothing to do (../doorbell.ts draws that protocol).
//
// Handlers start only from here, and the pump runs only in setImmediate
// callbacks, so the synchronous part of every handler call runs inside a
// macrotask. Measured on Deno 2.9.6: a node worker that reaches its heap
// limit (resourceLimits) inside an immediate or timer callback exits with
// ERR_WORKER_OUT_OF_MEMORY, but inside a promise job (microtask) or a
// message event it hangs.
import { parentPort } from "node:worker_threads";
import { setImmediate } from "node:timers";
import type { WorkerContext } from "./context.ts";
import { abort } from "./finish.ts";
import { run } from "./run.ts";
import { Task } from "./task.ts";
import {
  type BodyMessage,
  type BodyWanted,
  C_CLAIM,
  C_FLAGS,
  type DirectRequest,
  F_ABORTED,
  F_BODY_MESSAGE,
  SLOT_MASK,
  slotOffset,
  W_CLAIMED,
} from "../wire.ts";

/** Longest an idle worker blocks before it lets its event loop run (timers). */
const IDLE_WAIT_MS = 20;

/** Claims tickets and starts their handlers, one at a time. */
export class Pump {
  readonly #ctx: WorkerContext;
  #scheduled = false;
  /** Whether the pump let the event loop turn once since its last claim. */
  #yielded = false;
  /** Whether a sleepBusy() wait is outstanding. */
  #busyWaiting = false;
  /** Whether a wait for the gate (with handlers in flight) is outstanding. */
  #gateWaiting = false;
  /** Claimed tasks whose body has arrived by message: they start first. */
  readonly #ready: Task[] = [];

  constructor(ctx: WorkerContext) {
    this.#ctx = ctx;
  }

  /** Runs the pump from a setImmediate callback, once however often asked. */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#run);
  }

  /** A request main gave us directly (a WebSocket upgrade): claim, then start it. */
  directed(message: DirectRequest): void {
    const task = this.#claim(message.ticket, false);
    if (task === undefined) return;
    this.#ready.push(task);
    this.schedule();
  }

  /** A BodyMessage: the claimed task it belongs to may start now. */
  bodyArrived(message: BodyMessage): void {
    const task = this.#ctx.tasks.get(message.slot);
    if (task === undefined || task.ticket !== message.ticket) return;
    if (task.aborted || task.bulkBody !== undefined) return;
    task.bulkBody = message.body;
    this.#ready.push(task);
    this.schedule();
  }

  #run = (): void => {
    this.#scheduled = false;
    const { doorbell } = this.#ctx;
    while (this.#ready.length > 0) {
      const task = this.#ready.shift()!;
      if (task.aborted || task.released) continue;
      if (!this.#start(task)) return this.schedule();
    }
    // Until we leave, main need not ring for us: we pop before we sleep.
    doorbell.setPolling(true);
    for (;;) {
      if (this.#ctx.retiring()) {
        // No new tickets: the event loop runs on for what we hold, and we
        // never announce a sleep that main could spend a wake-up on.
        doorbell.setPolling(false);
        doorbell.passOn();
        this.#ctx.checkDrained();
        return;
      }
      if (this.#ctx.gated() && !this.#ctx.requests.closed) {
        // A spare out of the ring leaves as a retiring worker does, and
        // waits for its gate instead of the doorbell (../spares.ts); once
        // the ring is closed it drains like any worker.
        doorbell.setPolling(false);
        doorbell.passOn();
        return this.#waitForGate();
      }
      if (this.#ctx.inFlight >= this.#ctx.data.concurrency) {
        // At capacity: the next release schedules us again.
        doorbell.setPolling(false);
        return doorbell.passOn();
      }
      const ticket = this.#ctx.requests.tryPop();
      if (ticket === undefined) {
        if (!this.#waitForTickets()) return;
        continue;
      }
      this.#yielded = false;
      const task = this.#claim(ticket, true);
      if (task === undefined) continue;
      if (!this.#start(task)) {
        // Its response waits for microtasks (an async handler, a body to
        // read): let them run before the next handler can hold the thread.
        // The next ticket stays in the ring for any worker to take.
        return this.schedule();
      }
      doorbell.setPolling(true);
    }
  };

  /**
   * The ring is empty: sleeps, or arranges to run again. Returns true if
   * the loop should pop again now (polling), false if it must return.
   */
  #waitForTickets(): boolean {
    const ctx = this.#ctx;
    const { doorbell } = ctx;
    doorbell.setPolling(false);
    // The last release resolves `drained` if tasks still run.
    if (ctx.checkDrained()) return false;
    // Streams off their slot need the event loop too (channel messages,
    // the handler's timers): only a worker with neither blocks.
    const busy = ctx.inFlight > 0 || ctx.channel.streams.size > 0;
    if (busy && !this.#yielded) {
      // Let handlers that are about to finish do so first: an idle worker
      // then waits the cheap way below.
      this.#yielded = true;
      this.schedule();
      return false;
    }
    if (!busy) {
      // Idle: nothing of ours needs the event loop, so block in
      // Atomics.wait, whose wake-up costs the notifying main thread far
      // less than waking an Atomics.waitAsync. The wait is finite so the
      // handler module's own timers (a cache refresh, say) still run while
      // no request comes.
      doorbell.sleepIdle(IDLE_WAIT_MS);
      if (ctx.requests.length === 0) {
        doorbell.setPolling(false);
        this.schedule();
        return false;
      }
      doorbell.setPolling(true);
      return true;
    }
    // Handlers in flight need the event loop: wait without blocking it.
    if (!this.#busyWaiting) {
      this.#busyWaiting = true;
      doorbell.sleepBusy().then(() => {
        this.#busyWaiting = false;
        this.schedule();
      });
    }
    return false;
  }

  /**
   * A spare whose gate is closed: blocks on the gate word if nothing of ours
   * needs the event loop, or waits for it without blocking; then, opened or
   * IDLE_WAIT_MS later (the ring may have closed), runs again.
   */
  #waitForGate(): void {
    const ctx = this.#ctx;
    if (ctx.inFlight === 0 && ctx.channel.streams.size === 0) {
      // A blocking wait would hold back a queued ring of the main bell.
      ctx.doorbell.ringMain();
      Atomics.wait(ctx.words, ctx.gateWord, 1, IDLE_WAIT_MS);
      return this.schedule();
    }
    if (this.#gateWaiting) return;
    this.#gateWaiting = true;
    const waiting = Atomics.waitAsync(ctx.words, ctx.gateWord, 1, IDLE_WAIT_MS);
    const again = () => {
      this.#gateWaiting = false;
      this.schedule();
    };
    if (waiting.async) void waiting.value.then(again);
    else again();
  }

  /**
   * Claims the ticket's slot; undefined if main cancelled it or it is
   * stale. `popped`: it came through the ring (and counts as claimed there).
   */
  #claim(ticket: number, popped: boolean): Task | undefined {
    const ctx = this.#ctx;
    const { words } = ctx;
    const slot = ticket & SLOT_MASK;
    const word = slotOffset(slot) >> 2;
    // The CAS decides between us and main cancelling a queued request,
    // rejects stale tickets (a request runs at most once), and names us
    // the owner in the same step.
    if (
      Atomics.compareExchange(words, word + C_CLAIM, ticket, -ctx.claimId) !==
        ticket
    ) return undefined;
    if (popped) Atomics.add(words, W_CLAIMED, 1);
    const task = new Task(ctx, slot, ticket);
    ctx.claimed(task);
    // Main sets F_ABORTED before its own CAS, we claim before reading
    // F_ABORTED: one of us sees the other (both are seq-cst).
    const flags = Atomics.load(words, word + C_FLAGS);
    if (flags & F_ABORTED) {
      abort(ctx, task);
      return undefined;
    }
    if (flags & F_BODY_MESSAGE) {
      // Its body comes by message; it starts from #run once it is here.
      const wanted: BodyWanted = { type: "body-wanted", slot, ticket };
      parentPort!.postMessage(wanted);
      return undefined;
    }
    return task;
  }

  /**
   * Starts the task's handler; true if its slot was released at once (the
   * response was handed over synchronously).
   */
  #start(task: Task): boolean {
    const { doorbell } = this.#ctx;
    // The handler may compute for long: stop polling and hand on what is
    // still queued to sleeping workers first.
    doorbell.setPolling(false);
    doorbell.passOn();
    // Main hears of what we already sent (say the release of a ticket found
    // aborted at its claim) before this handler can hold the thread.
    doorbell.ringMain();
    run(this.#ctx, task);
    // Main hears of a response handed over synchronously before we start
    // another handler, which may compute for long.
    doorbell.ringMain();
    return task.released;
  }
}
