// Replacing workers while the server serves: a rolling reload, recycling a
// worker past its limits, and growing or shrinking an adaptive pool.
//
// One change at a time, and a new worker is ready before an old one
// retires, so capacity never drops. Retiring a worker:
//
//   ready ──retire()──▶ retiring: takes no new request (RETIRE word, and no
//                       upgrade is given to it); its sockets close with 1012
//                       ("service restart"); its requests, streams and
//                       uploads finish ──▶ it exits and is joined
//                       (after drainTimeout, what is left is cut off)
import {
  type ServerContext,
  type ServerWorker,
  servingWorkers,
} from "./context.ts";
import type { RestartReason } from "./stats.ts";
import { W_WORKER_COMPLETED, W_WORKER_INFLIGHT } from "./wire.ts";

/** After this, a retiring worker's streams are cut and it gets 1 s to exit. */
const EXIT_GRACE_MS = 1000;

/** Rolling reloads, recycling and adaptive size, one change at a time. */
export class Rotation {
  readonly #ctx: ServerContext;
  #queue: Promise<void> = Promise.resolve();
  /** A change is under way: the sweep starts no other. */
  #busy = false;
  /** Workers a change started: one that fails to load is not retried. */
  readonly #started = new WeakSet<ServerWorker>();
  /** Since when requests have waited (growth), or a worker idled (shrinking). */
  #waitingSince: number | undefined;
  #idleSince: number | undefined;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /** Whether `worker` was started by a change (its load failure stops it). */
  startedByChange(worker: ServerWorker): boolean {
    return this.#started.has(worker);
  }

  /**
   * Replaces every worker by a new one that loads the handler afresh, one
   * at a time; rejects (the rest keep serving) if a new one fails to load.
   */
  reload(): Promise<void> {
    if (this.#ctx.phase !== "serving") {
      return Promise.reject(
        new Error(
          "Cannot reload as the server is not serving (it is shutting down)",
        ),
      );
    }
    return this.#change(async () => {
      for (const old of this.#serving()) await this.#replace(old, "reload");
    });
  }

  /** The sweep's part: a worker past its limits, and the adaptive size. */
  check(now: number): void {
    const ctx = this.#ctx;
    if (this.#busy || ctx.phase !== "serving") return;
    const { maxRequestsPerWorker, maxWorkerMemory } = ctx.settings;
    for (const worker of this.#serving()) {
      const completed = Atomics.load(
        ctx.words,
        W_WORKER_COMPLETED + worker.index,
      );
      const reason: RestartReason | undefined =
        maxRequestsPerWorker !== undefined && completed >= maxRequestsPerWorker
          ? "requests"
          : maxWorkerMemory !== undefined &&
              ctx.workers.heapMiB(worker) >= maxWorkerMemory
          ? "memory"
          : undefined;
      if (reason !== undefined) {
        this.#change(() => this.#replace(worker, reason)).catch(() => {});
        return;
      }
    }
    if (ctx.settings.maxWorkers > ctx.settings.workers) this.#resize(now);
  }

  /** Grows while requests wait, shrinks to the minimum while a worker idles. */
  #resize(now: number): void {
    const ctx = this.#ctx;
    const { growAfter, shrinkAfter, spareWorkers } = ctx.settings;
    // The spares come on top of the adaptive size (./spares.ts).
    const min = ctx.settings.workers + spareWorkers;
    const max = ctx.settings.maxWorkers + spareWorkers;
    const serving = this.#serving();
    if (ctx.dispatcher.queued() > 0) {
      this.#idleSince = undefined;
      this.#waitingSince ??= now;
      if (now - this.#waitingSince >= growAfter && serving.length < max) {
        this.#waitingSince = undefined;
        // Doubling reaches `max` in log2 steps; each step waits a full
        // growAfter again, so a short burst does not take every thread.
        // (At least one: every worker may be starting or retiring.)
        const more = Math.max(
          1,
          Math.min(max - serving.length, serving.length),
        );
        this.#change(() => this.#grow(more)).catch(() => {});
      }
      return;
    }
    this.#waitingSince = undefined;
    const idle = serving.length > min
      ? serving.findLast((worker) =>
        Atomics.load(ctx.words, W_WORKER_INFLIGHT + worker.index) === 0 &&
        worker.data.streams.size === 0 && worker.data.sockets.size === 0
      )
      : undefined;
    if (idle === undefined) {
      this.#idleSince = undefined;
      return;
    }
    this.#idleSince ??= now;
    if (now - this.#idleSince >= shrinkAfter) {
      this.#idleSince = undefined;
      this.#change(() => this.#retire(idle)).catch(() => {});
    }
  }

  /** Ready workers that are not being stopped, oldest first. */
  #serving(): ServerWorker[] {
    return servingWorkers(this.#ctx);
  }

  /** Runs `task` after the changes before it; the sweep waits meanwhile. */
  #change(task: () => Promise<void>): Promise<void> {
    this.#busy = true;
    const run = this.#queue.then(async () => {
      this.#busy = true;
      try {
        await task();
      } finally {
        this.#busy = false;
      }
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Starts a worker and waits until it has loaded the handler. */
  async #start(): Promise<ServerWorker> {
    if (this.#ctx.phase !== "serving") {
      throw new Error("Cannot start a worker as the server is shutting down");
    }
    const fresh = this.#ctx.workers.add();
    this.#started.add(fresh);
    await fresh.ready;
    return fresh;
  }

  /** Starts `count` workers at once and waits until they have loaded. */
  async #grow(count: number): Promise<void> {
    const started = await Promise.allSettled(
      Array.from({ length: count }, () => this.#start()),
    );
    for (const result of started) {
      if (result.status === "rejected") {
        console.error("ringpool: could not add a worker:", result.reason);
      }
    }
  }

  async #replace(old: ServerWorker, reason: RestartReason): Promise<void> {
    await this.#start();
    this.#ctx.restarts[reason]++;
    await this.#retire(old);
  }

  async #retire(worker: ServerWorker): Promise<void> {
    const ctx = this.#ctx;
    ctx.workers.retire(worker);
    // It sees the word once awake; its sockets go to a new worker when
    // their clients reconnect.
    ctx.doorbell.wakeAll();
    for (const relay of worker.data.sockets.values()) {
      relay.socket.close(1012, "service restart");
    }
    if (await late(worker.exited, ctx.settings.drainTimeout)) {
      for (const detached of [...worker.data.streams.values()]) {
        ctx.streams.abort(detached, "shutdown");
      }
      if (await late(worker.exited, EXIT_GRACE_MS)) {
        ctx.workers.terminate(worker);
      }
      await worker.exited;
    }
    try {
      ctx.settings.onWorkerExit?.(worker.index + 1);
    } catch (error) {
      console.error("ringpool: onWorkerExit failed:", error);
    }
  }
}

/** Whether `promise` is still pending after `ms`. */
async function late(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), ms);
  });
  try {
    return await Promise.race([promise.then(() => "done"), timeout]) === "late";
  } finally {
    clearTimeout(timer);
  }
}
