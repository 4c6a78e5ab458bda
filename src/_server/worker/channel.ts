// The worker's end of the channel (../channel.ts): moving a task off its
// slot, the items it sends, and main's items for it (credits, request body
// chunks, aborts, info.completed).
import { parentPort } from "node:worker_threads";
import {
  type Batch,
  CHUNK_WINDOW,
  type MainItem,
  Outbox,
  type WorkerItem,
} from "../channel.ts";
import { setImmediate } from "node:timers";
import { C_STREAM, EV_RELEASE } from "../wire.ts";
import type { WorkerContext } from "./context.ts";
import { abort } from "./finish.ts";
import type { Task } from "./task.ts";

/** This worker's streams and its outbox to main. */
export class WorkerChannel {
  readonly #ctx: WorkerContext;
  readonly #outbox = new Outbox<WorkerItem>((batch, transfer) =>
    parentPort!.postMessage(batch, transfer)
  );
  /** Tasks that left their slot, by stream id. */
  readonly streams = new Map<number, Task>();
  #nextId = 1;
  /** Socket events waiting for the macrotask that hands them to the handler. */
  #socketEvents: [Task, MainItem][] = [];

  constructor(ctx: WorkerContext) {
    this.#ctx = ctx;
  }

  /**
   * Moves `task` off its slot: from now on it talks to main only here.
   * `event` (RESPONSE_STREAM or DETACH) goes with the RELEASE bit; what it
   * needs in the slot must be written before.
   */
  detach(task: Task, event: number): void {
    const id = this.#nextId++;
    task.stream = id;
    this.streams.set(id, task);
    // Written before the event, which publishes it.
    this.#ctx.words[task.word + C_STREAM] = id;
    this.#ctx.send(task, event | EV_RELEASE);
  }

  /** Queues an item of `task`'s stream for main. */
  send(item: WorkerItem, body?: ArrayBuffer): void {
    this.#outbox.send(item, body);
  }

  /**
   * Resolves once `task` may send another chunk (fewer than CHUNK_WINDOW
   * uncredited); false if it was aborted meanwhile.
   */
  window(task: Task): Promise<boolean> {
    if (task.aborted) return Promise.resolve(false);
    if (task.unacked < CHUNK_WINDOW) return Promise.resolve(true);
    return new Promise((resolve) => {
      task.creditWaiter = () => resolve(!task.aborted);
    });
  }

  /** The stream is over on our side: `done` is its last item. */
  done(task: Task): void {
    if (task.done) return;
    task.done = true;
    this.send({ k: "done", s: task.stream! });
    if (task.completedResult !== undefined) this.#forget(task);
  }

  /** A batch of main's items. */
  onBatch(batch: Batch<MainItem>): void {
    for (const item of batch.items) {
      const task = this.streams.get(item.s);
      if (task === undefined) continue;
      switch (item.k) {
        case "credit": {
          task.unacked--;
          const waiter = task.creditWaiter;
          task.creditWaiter = undefined;
          waiter?.();
          break;
        }
        case "body":
        case "body-end":
        case "body-fail": {
          const waiter = task.bodyWaiter;
          task.bodyWaiter = undefined;
          waiter?.(item);
          break;
        }
        case "abort":
          abort(this.#ctx, task);
          break;
        case "completed":
          task.completedResult = item.ok;
          task.settleCompleted?.(item.ok);
          if (task.done) this.#forget(task);
          break;
        default:
          // ws-*: the handler's listeners run from an immediate, as
          // handlers do (a heap limit hit in a message event hangs the
          // worker instead of ending it).
          if (this.#socketEvents.push([task, item]) === 1) {
            setImmediate(this.#deliverSocketEvents);
          }
      }
    }
  }

  #deliverSocketEvents = (): void => {
    const events = this.#socketEvents;
    this.#socketEvents = [];
    for (const [task, item] of events) {
      const socket = task.socket;
      if (socket === undefined) continue;
      switch (item.k) {
        case "ws-open":
          socket.opened(item.protocol, item.extensions);
          break;
        case "ws-message":
          socket.received(item.data);
          break;
        case "ws-ack":
          socket.acknowledged(item.count);
          break;
        case "ws-closed":
          socket.closed(item);
          // The socket was the stream: nothing more comes for it.
          task.completedResult ??= item.wasClean;
          this.done(task);
          break;
      }
    }
  };

  #forget(task: Task): void {
    this.streams.delete(task.stream!);
    this.#ctx.checkDrained();
  }
}
