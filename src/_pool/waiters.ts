// Callers of `run(…, { wait: true })` waiting for a free slot, oldest first.
//
// Each waiter is already its job (dispatch.ts writes it into a slot later
// and settles the same promise), so a waiter costs one small record and no
// closure unless it has a signal: with 20,000 callers waiting, everything
// they hold survives the young-generation collections, so it counts. The queue is an array
// with a head index: Array.prototype.shift() copies a long array (measured
// with 20,000 waiters it took most of the main thread's time), and an abort
// marks its waiter gone instead of splicing it out; gone waiters are skipped
// when their turn comes.
import type { Job, JobOptions } from "./state.ts";

// Below this many taken entries the queue is not compacted.
const COMPACT_AFTER = 1024;

/**
 * A caller waiting for room: its job's promise (the same object becomes the
 * slot's job once dispatched) and what the job will run.
 */
export interface Waiter extends Job {
  readonly name: string;
  readonly args: readonly unknown[];
  readonly options: JobOptions;
  /** Left the queue (aborted) before its turn. */
  gone: boolean;
}

/** A FIFO of waiters with O(1) push, take and removal. */
export class WaitQueue {
  #items: (Waiter | undefined)[] = [];
  #head = 0;
  #size = 0;

  /** Waiters still waiting. */
  get size(): number {
    return this.#size;
  }

  push(waiter: Waiter): void {
    this.#items.push(waiter);
    this.#size++;
  }

  /** The oldest waiter still waiting, taken out of the queue. */
  take(): Waiter | undefined {
    const items = this.#items;
    while (this.#head < items.length) {
      const waiter = items[this.#head]!;
      items[this.#head++] = undefined;
      if (waiter.gone) continue;
      this.#size--;
      this.#compact();
      return waiter;
    }
    this.#compact();
    return undefined;
  }

  /** Takes `waiter` out wherever it is (it must still be waiting). */
  remove(waiter: Waiter): void {
    if (waiter.gone) return;
    waiter.gone = true;
    this.#size--;
    this.#compact();
  }

  /** Rejects every waiter still waiting with `reason`, oldest first. */
  rejectAll(reason: unknown): void {
    for (let waiter = this.take(); waiter !== undefined; waiter = this.take()) {
      if (waiter.onAbort !== undefined) {
        waiter.options.signal!.removeEventListener("abort", waiter.onAbort);
      }
      waiter.settled = true;
      waiter.reject(reason);
    }
  }

  // Drops the taken entries once they are the larger part, so the array
  // does not grow without bound; amortised O(1) per waiter.
  #compact(): void {
    if (this.#size === 0) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (
      this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#items.length
    ) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
