// Shutting down, the book's graceful Drop: stop accepting, let in-flight
// requests finish within drainTimeout, close the request ring, join every
// worker. Also what starts a shutdown: SIGINT/SIGTERM and the `signal`
// option.
import type { ServerContext } from "./context.ts";

const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * After drainTimeout, how long the answers given to what was cut off have
 * to reach their clients before the drain stops waiting for Deno.
 */
const FLUSH_MS = 250;
/**
 * After a drain a signal started, how long the process may take to end by
 * itself before it is ended (clients that hold their connection open keep
 * Deno's graceful close, and so the process, alive).
 */
const EXIT_GRACE_MS = 1000;

/** The drain, run once however many times it is asked for. */
export class Lifecycle {
  readonly #ctx: ServerContext;
  /** Resolves `finished`. */
  readonly #finished: () => void;
  /** Stops the timers and the event loop the engine runs. */
  readonly #stop: () => void;
  #shutdown: Promise<void> | undefined;
  #signalHandler: (() => void) | undefined;
  #reloadHandler: (() => void) | undefined;
  #signals = 0;
  /** Deno's graceful close still waits for clients after the drain. */
  #lingering = false;
  #abortListener: (() => void) | undefined;

  constructor(ctx: ServerContext, finished: () => void, stop: () => void) {
    this.#ctx = ctx;
    this.#finished = finished;
    this.#stop = stop;
  }

  /** Starts the drain (or returns the one under way). */
  shutdown(timeout: number = this.#ctx.settings.drainTimeout): Promise<void> {
    this.#shutdown ??= this.#drain(timeout);
    return this.#shutdown;
  }

  /** Listens for SIGINT/SIGTERM (a second one exits at once) and `signal`. */
  listen(): void {
    const { settings } = this.#ctx;
    if (settings.handleSignals) {
      this.#signalHandler = () => {
        if (++this.#signals > 1) Deno.exit(130);
        this.shutdown();
      };
      Deno.addSignalListener("SIGINT", this.#signalHandler);
      if (Deno.build.os !== "windows") {
        Deno.addSignalListener("SIGTERM", this.#signalHandler);
        // SIGHUP: a rolling reload (the new code on disk), as servers do.
        this.#reloadHandler = () => {
          this.#ctx.rotation.reload().then(
            () => console.error("ringpool: reloaded the handler (SIGHUP)"),
            (error) => console.error("ringpool: the reload failed:", error),
          );
        };
        Deno.addSignalListener("SIGHUP", this.#reloadHandler);
      }
    }
    if (settings.signal !== undefined) {
      this.#abortListener = () => this.shutdown();
      settings.signal.addEventListener("abort", this.#abortListener, {
        once: true,
      });
    }
  }

  #unlisten(): void {
    if (this.#signalHandler !== undefined) {
      Deno.removeSignalListener("SIGINT", this.#signalHandler);
      if (Deno.build.os !== "windows") {
        Deno.removeSignalListener("SIGTERM", this.#signalHandler);
        Deno.removeSignalListener("SIGHUP", this.#reloadHandler!);
      }
    }
    if (this.#abortListener !== undefined) {
      this.#ctx.settings.signal?.removeEventListener(
        "abort",
        this.#abortListener,
      );
    }
  }

  async #drain(timeout: number): Promise<void> {
    const ctx = this.#ctx;
    ctx.phase = "unready";
    call("onDrain", ctx.settings.onDrain);
    // Open dashboard pages end now rather than on their next tick.
    ctx.admission.dashboard?.close();
    const delay = ctx.settings.readinessDelay;
    // Out of rotation but still serving: the load balancer notices the
    // readiness 503 and stops sending before we stop accepting.
    if (delay > 0) await sleep(delay);
    ctx.phase = "draining";
    const deadline = performance.now() + timeout;
    await this.#finishRequests(timeout);
    // HTTP first, then the WebSockets: a close frame 1001 ("going away")
    // and the rest of drainTimeout to finish.
    await ctx.sockets.closeAll(Math.max(0, deadline - performance.now()));
    // Every response is out, so Deno has settled every info.completed:
    // let the workers hear of it before they go (bounded all the same).
    if (ctx.releaser.reporting.size > 0) {
      await raceTimeout(Promise.all(ctx.releaser.reporting), 1000);
    }
    // Close the ring: workers finish and exit.
    ctx.requests.close();
    ctx.doorbell.ring(Infinity);
    const grace = Math.max(1000, Math.min(timeout, 5000));
    await ctx.workers.join(grace, (worker) => {
      call("onWorkerExit", () => ctx.settings.onWorkerExit?.(worker.index + 1));
    });
    ctx.phase = "stopped";
    this.#stop();
    this.#unlisten();
    this.#finished();
    if (this.#lingering && this.#signals > 0) {
      // What SIGINT/SIGTERM does without listeners: end the process. A
      // timer that does not keep the process alive only fires if something
      // else (a lingering client's connection) still does.
      const exit = setTimeout(() => Deno.exit(), EXIT_GRACE_MS);
      Deno.unrefTimer(exit);
    }
  }

  /** Stops accepting and lets in-flight requests finish within `timeout`. */
  async #finishRequests(timeout: number): Promise<void> {
    const ctx = this.#ctx;
    // New requests get 503 + Connection: close from now on (admission), but
    // the listener may only close once no accepted upload is mid-body.
    const deadline = performance.now() + timeout;
    while (ctx.admission.receivingBodies() && performance.now() < deadline) {
      await sleep(10);
    }
    const http = ctx.http!;
    const drained = http.shutdown();
    const left = Math.max(0, deadline - performance.now());
    if (await raceTimeout(drained, left) !== "timeout") return;
    for (const job of [...ctx.queue.clear(), ...ctx.longs.held.clear()]) {
      job.resolve(ctx.responder.plain(503, "Service Unavailable"));
    }
    for (const slot of [...ctx.slots.busy]) {
      ctx.faults.abort(slot, "shutdown");
    }
    for (const detached of [...ctx.streams.all()]) {
      ctx.streams.abort(detached, "shutdown");
    }
    // A client may still hold its connection open (an upload it never
    // finishes): Deno 2.9's graceful close then waits for it with no limit,
    // and nothing public can cut it short once it started. drainTimeout
    // bounds the drain all the same: after a moment for the answers above
    // to go out, stop waiting (see the exit in #drain).
    if (await raceTimeout(drained, FLUSH_MS) === "timeout") {
      this.#lingering = true;
      drained.catch(() => {});
    }
  }
}

/** Waits for `promise` at most `ms`; "timeout" if it did not settle by then. */
async function raceTimeout<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Calls a user hook; its failure is logged, never fatal to the shutdown. */
function call(name: string, hook: (() => void) | undefined): void {
  try {
    hook?.();
  } catch (error) {
    console.error(`ringpool: ${name} failed:`, error);
  }
}
