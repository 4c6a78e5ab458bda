// A pool worker's loop: when to take the next job from the job ring, and
// when to stop.
//
// While nothing is in flight the worker sleeps in Atomics.wait (pop). While
// async jobs are in flight it must keep its event loop turning, so it waits
// with popAsync and aborts that wait whenever one of its jobs settles.
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

/** Pops jobs for one worker until the job ring is closed and drained. */
export class WorkerLoop implements Tracker {
  readonly #jobs: RingBuffer;
  readonly #concurrency: number;
  readonly #onStop: () => void;
  #taker: Taker | undefined;
  /** Async jobs (and jobs waiting for their arguments) not yet settled. */
  #inFlight = 0;
  #pumpScheduled = false;
  #popPending = false;
  /** A slot popAsync took, to be taken by the next pump. */
  #popped: number | undefined;
  /** Aborts a pending popAsync so the loop re-evaluates after a job settles. */
  #popAbort: AbortController | undefined;
  #stopping = false;

  /**
   * @param jobs The job ring.
   * @param concurrency Jobs in flight at most.
   * @param onStop Called once the ring is closed and drained, nothing in flight.
   */
  constructor(jobs: RingBuffer, concurrency: number, onStop: () => void) {
    this.#jobs = jobs;
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
    if (this.#popped !== undefined) {
      const slot = this.#popped;
      this.#popped = undefined;
      taker.take(slot);
    }
    for (let budget = SYNC_BATCH; budget > 0; budget--) {
      if (this.#inFlight === 0) {
        // Nothing in flight: sleeping in Atomics.wait costs no event loop.
        const slot = jobs.pop(IDLE_WAIT_MS);
        if (slot !== undefined) {
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
        taker.take(slot);
        continue;
      }
      if (this.#drained()) return; // the last settle calls pump again, then stop
      this.#popAsync();
      return;
    }
    this.#schedule();
  };

  /**
   * Waits without blocking; a settling job aborts this wait, and popAsync
   * takes no slot after its signal aborted.
   */
  #popAsync(): void {
    this.#popPending = true;
    this.#popAbort = new AbortController();
    this.#jobs.popAsync({ signal: this.#popAbort.signal }).then(
      (slot) => {
        this.#popped = slot;
      },
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
