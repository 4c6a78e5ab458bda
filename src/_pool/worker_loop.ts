// A pool worker's loop: when to take the next job from the job ring, and
// when to stop.
//
// While nothing is in flight the worker sleeps in Atomics.wait (pop). While
// async jobs are in flight it must keep its event loop turning, so it waits
// with waitForValueAsync (and pops in the next pump) and aborts that wait
// whenever one of its jobs settles.
//
// Jobs are started only from pump(), which runs in a setImmediate callback:
// measured on Deno 2.9, a worker that hits its heap limit inside a promise
// job (microtask) or a message event hangs instead of exiting with
// ERR_WORKER_OUT_OF_MEMORY, while inside a timer or immediate callback it
// exits cleanly. setImmediate costs ~7 µs here; setTimeout(0) is clamped
// to ~2 ms.
import { setImmediate } from "node:timers";
import type { RingBuffer } from "../ring_buffer.ts";
import type { Tracker } from "./worker_jobs.ts";

// Idle workers wake this often even without work: a finite wait lets
// worker.terminate() take effect and lets timers left by finished jobs run.
const IDLE_WAIT_MS = 250;
// Run at most this many synchronous jobs back to back before letting the
// event loop turn (timers, messages) once.
const SYNC_BATCH = 256;

/** What the loop hands each popped slot id to. */
export interface Taker {
  take(slot: number): void;
}

/**
 * Where a worker notes, in each slot it pops, that it took it (S_TAKER of
 * layout.ts): `words[base + stride * slot] = id`. The main thread pushes a
 * slot again that a worker popped and died before claiming.
 */
export interface TakerWords {
  words: Int32Array;
  base: number;
  stride: number;
  id: number;
}

/** Pops jobs for one worker until the job ring is closed and drained. */
export class WorkerLoop implements Tracker {
  readonly #jobs: RingBuffer;
  readonly #takerWords: Int32Array;
  readonly #takerBase: number;
  readonly #takerStride: number;
  readonly #id: number;
  readonly #concurrency: number;
  readonly #onStop: () => void;
  #taker: Taker | undefined;
  /** Async jobs (and jobs waiting for their arguments) not yet settled. */
  #inFlight = 0;
  #pumpScheduled = false;
  #popPending = false;
  /** Aborts a pending wait so the loop re-evaluates after a job settles. */
  #popAbort: AbortController | undefined;
  #stopping = false;

  /**
   * @param jobs The job ring.
   * @param concurrency Jobs in flight at most.
   * @param onStop Called once the ring is closed and drained, nothing in flight.
   * @param taker Where to note the slots it pops.
   */
  constructor(
    jobs: RingBuffer,
    concurrency: number,
    onStop: () => void,
    taker: TakerWords,
  ) {
    this.#jobs = jobs;
    this.#takerWords = taker.words;
    this.#takerBase = taker.base;
    this.#takerStride = taker.stride;
    this.#id = taker.id;
    this.#concurrency = concurrency;
    this.#onStop = onStop;
  }

  /** Starts taking jobs. */
  start(taker: Taker): void {
    this.#taker = taker;
    this.#schedule();
  }

  /** Counts `work` in flight until it settles. */
  track(work: Promise<void>): void {
    this.#inFlight++;
    work.finally(this.#settled);
  }

  readonly #settled = (): void => {
    this.#inFlight--;
    if (this.#popAbort !== undefined) this.#popAbort.abort(); // reschedules when it ends
    else this.#schedule();
  };

  #drained(): boolean {
    return this.#jobs.closed && this.#jobs.length === 0;
  }

  #schedule(): void {
    if (this.#pumpScheduled || this.#stopping) return;
    this.#pumpScheduled = true;
    setImmediate(this.#pump);
  }

  readonly #pump = (): void => {
    this.#pumpScheduled = false;
    const taker = this.#taker!;
    const jobs = this.#jobs;
    for (let budget = SYNC_BATCH; budget > 0; budget--) {
      if (this.#inFlight === 0) {
        // Nothing in flight: sleeping in Atomics.wait costs no event loop.
        const slot = jobs.pop(IDLE_WAIT_MS);
        if (slot !== undefined) {
          // No call between the pop and this store (see TakerWords).
          Atomics.store(
            this.#takerWords,
            this.#takerBase + this.#takerStride * slot,
            this.#id,
          );
          taker.take(slot);
          continue;
        }
        if (this.#drained()) return this.#stop();
        break; // timed out: let the event loop turn (timers left by jobs)
      }
      // Async jobs in flight: their promises need the event loop.
      if (this.#inFlight >= this.#concurrency || this.#popPending) return; // a settle reschedules
      const slot = jobs.tryPop();
      if (slot !== undefined) {
        Atomics.store(
          this.#takerWords,
          this.#takerBase + this.#takerStride * slot,
          this.#id,
        );
        taker.take(slot);
        continue;
      }
      if (this.#drained()) return; // the last settle calls pump again, then stop
      this.#waitAsync();
      return;
    }
    this.#schedule();
  };

  /**
   * Waits without blocking for a slot id, which the next pump pops: it takes
   * none itself, so every pop is a synchronous one followed at once by its
   * note in its taker word. A settling job aborts this wait.
   */
  #waitAsync(): void {
    this.#popPending = true;
    this.#popAbort = new AbortController();
    this.#jobs.waitForValueAsync({ signal: this.#popAbort.signal }).catch(
      () => {},
    ).finally(() => {
      this.#popPending = false;
      this.#popAbort = undefined;
      this.#schedule();
    });
  }

  #stop(): void {
    this.#stopping = true;
    this.#onStop();
  }
}
