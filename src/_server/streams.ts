// Requests that left their slot (./channel.ts, ./detached.ts): adopting
// them from a slot, the channel's items from their worker, and their
// faults (aborts, deadlines, the worker's exit).
import type { ServerContext, ServerWorker } from "./context.ts";
import { Detached } from "./detached.ts";
import type { AbortReason } from "./faults.ts";
import type { Batch, MainItem, WorkerItem } from "./channel.ts";
import { ResponseStream } from "./response_stream.ts";
import type { Slot } from "./slots.ts";
import { C_WANTS_SIGNAL } from "./wire.ts";

const ANSWERS: Record<AbortReason, [number, string]> = {
  client: [503, "Service Unavailable"],
  timeout: [504, "Gateway Timeout"],
  invalid: [500, "Internal Server Error"],
  shutdown: [503, "Service Unavailable"],
};

/** Every detached request, by worker and stream id. */
export class Streams {
  readonly #ctx: ServerContext;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /** Requests of `worker` that left their slot and are not closed. */
  of(worker: ServerWorker): Map<number, Detached> {
    return worker.data.streams;
  }

  /** Every open detached request. */
  *all(): IterableIterator<Detached> {
    for (const worker of this.#ctx.workers.members()) {
      yield* worker.data.streams.values();
    }
  }

  /**
   * Takes the job of `slot` out of it: stream `id` of the slot's owner. The
   * slot becomes `detached`, so its RELEASE frees it at once.
   */
  adopt(
    slot: Slot,
    worker: ServerWorker,
    id: number,
    state: "running" | "streaming",
  ): Detached {
    const job = slot.job!;
    slot.unwatch();
    const detached = new Detached(
      worker,
      id,
      job,
      state,
      slot.feed,
      (it) => this.abort(it, "client"),
    );
    slot.feed = undefined;
    // The handler may have looked before it left the slot.
    detached.wantsSignal =
      Atomics.load(this.#ctx.words, slot.word + C_WANTS_SIGNAL) === 1;
    slot.state = "detached";
    worker.data.streams.set(id, detached);
    job.info.completed.then(() => true, () => false).then((ok) => {
      detached.completed = true;
      this.send(detached, { k: "completed", s: id, ok });
      this.#closeIfDone(detached);
    });
    return detached;
  }

  /** The stream a RESPONSE_STREAM starts: main credits, cancels, checks it. */
  responseStream(
    detached: Detached,
    first: Uint8Array | undefined,
    declared: number,
  ): ResponseStream {
    return new ResponseStream(first, declared, {
      credit: () => this.send(detached, { k: "credit", s: detached.id }),
      cancel: () => this.abort(detached, "client"),
      invalid: (message) => {
        console.error(`ringpool: ${message}`);
        this.abort(detached, "invalid");
      },
    });
  }

  /** Answers a detached request once (`stream`: its body streams). */
  answer(
    detached: Detached,
    response: Response,
    stream?: ResponseStream,
  ): void {
    if (detached.state !== "running") return;
    detached.state = stream === undefined ? "answered" : "streaming";
    detached.stream = stream;
    if (detached.watching) {
      detached.watching = false;
      detached.job.request.signal.removeEventListener(
        "abort",
        detached.onClientAbort,
      );
    }
    detached.job.resolve(response);
  }

  /** Queues an item for the stream's worker. */
  send(detached: Detached, item: MainItem, body?: ArrayBuffer): void {
    detached.worker.data.outbox.send(item, body);
  }

  /** A batch of items from `worker`. */
  onBatch(worker: ServerWorker, batch: Batch<WorkerItem>): void {
    for (const item of batch.items) {
      if (item.k === "ws-send" || item.k === "ws-close") {
        // The event that starts the socket was pushed before this item.
        if (!worker.data.sockets.has(item.s)) this.#ctx.collector.collect();
        this.#ctx.sockets.onItem(worker, item);
        continue;
      }
      let detached = worker.data.streams.get(item.s);
      if (detached === undefined) {
        // The event that starts the stream was pushed before this item.
        this.#ctx.collector.collect();
        detached = worker.data.streams.get(item.s);
      }
      if (detached === undefined) {
        // Given up on before it was adopted: tell the worker to stop.
        if (item.k !== "done" && item.k !== "signal") {
          worker.data.outbox.send({ k: "abort", s: item.s });
        }
        continue;
      }
      this.#onItem(detached, item);
    }
  }

  #onItem(detached: Detached, item: WorkerItem): void {
    const ctx = this.#ctx;
    if (item.k === "done") return this.#workerDone(detached);
    if (detached.state === "aborted") return;
    switch (item.k) {
      case "head":
        if (detached.state === "running") ctx.responder.head(detached, item);
        break;
      case "chunk":
        detached.stream?.push(new Uint8Array(item.body));
        break;
      case "end":
        detached.stream?.end();
        break;
      case "fail":
        if (detached.state === "running") {
          this.answer(
            detached,
            ctx.responder.plain(500, "Internal Server Error"),
          );
        } else detached.stream?.fail("The handler's body failed");
        break;
      case "pull":
        ctx.bodies.pull(detached);
        break;
      case "signal":
        detached.wantsSignal = true;
        break;
    }
  }

  /**
   * Gives up on a detached request: answers it (unless answered), cuts its
   * body, and tells the worker to stop.
   */
  abort(detached: Detached, why: AbortReason): void {
    if (detached.state === "aborted" || detached.state === "closed") return;
    const [status, text] = ANSWERS[why];
    this.answer(detached, this.#ctx.responder.plain(status, text));
    detached.state = "aborted";
    detached.abortedAt = performance.now();
    detached.stream?.fail(`The response was cut off (${why})`);
    detached.feed?.cancel();
    this.send(detached, { k: "abort", s: detached.id });
  }

  /** The worker exited: answers its detached requests 502, cuts their bodies. */
  reclaim(worker: ServerWorker): void {
    const responder = this.#ctx.responder;
    for (const detached of [...worker.data.streams.values()]) {
      this.answer(detached, responder.plain(502, "Bad Gateway"));
      detached.stream?.fail(`Worker ${worker.index + 1} exited`);
      detached.feed?.cancel();
      detached.state = "closed";
    }
    worker.data.streams.clear();
  }

  /** The sweep's part: timeouts before an answer, clients leaving, stuck workers. */
  sweep(now: number, timeout: number, grace: number): void {
    for (const detached of this.all()) {
      if (detached.state === "aborted") {
        if (
          !detached.workerDone && !detached.terminateSent &&
          now - detached.abortedAt > grace
        ) {
          detached.terminateSent = true;
          detached.worker.data.stuck = true;
          console.error(
            `ringpool: worker ${
              detached.worker.index + 1
            } did not let go of a stream it was told to abort; terminating it`,
          );
          this.#ctx.workers.terminate(detached.worker);
        }
      } else if (detached.state === "running") {
        if (now - detached.job.start > timeout) this.abort(detached, "timeout");
        else if (!detached.watching && detached.wantsSignal) {
          this.#watch(detached);
        }
      }
    }
  }

  /** Whether some detached request's body is still arriving. */
  receivingBodies(): boolean {
    for (const detached of this.all()) {
      if (!detached.job.bodyDone && detached.state !== "closed") return true;
    }
    return false;
  }

  #watch(detached: Detached): void {
    const signal = detached.job.request.signal;
    detached.watching = true;
    signal.addEventListener("abort", detached.onClientAbort);
    if (signal.aborted) this.abort(detached, "client");
  }

  #workerDone(detached: Detached): void {
    detached.workerDone = true;
    // A worker that lets go without answering has broken the protocol.
    if (detached.state === "running") {
      this.answer(
        detached,
        this.#ctx.responder.plain(500, "Internal Server Error"),
      );
    }
    if (detached.stream !== undefined && !detached.stream.ended) {
      detached.stream.fail("The worker released an unfinished body");
    }
    this.#closeIfDone(detached);
  }

  #closeIfDone(detached: Detached): void {
    if (!detached.workerDone || !detached.completed) return;
    detached.state = "closed";
    detached.worker.data.streams.delete(detached.id);
  }
}
