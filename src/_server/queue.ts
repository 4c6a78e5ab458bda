// Requests that arrived while every slot was taken, oldest first. Beyond
// `queueCapacity` of them (counting tickets still in the ring) admission
// answers 503 instead.
import type { Job } from "./slots.ts";

/** A FIFO of jobs waiting for a slot; it compacts itself as it goes. */
export class WaitingQueue {
  #jobs: Job[] = [];
  #head = 0;

  /** Jobs waiting, answered ones included until their turn comes. */
  get length(): number {
    return this.#jobs.length - this.#head;
  }

  push(job: Job): void {
    this.#jobs.push(job);
  }

  /**
   * The oldest job worth dispatching, taken out of the queue. Skips jobs
   * answered meanwhile, and jobs that outlived a sweep whose client left
   * (only those look at request.signal: touching it costs Deno an
   * AbortSignal and a DOMException).
   */
  next(): Job | undefined {
    while (this.#head < this.#jobs.length) {
      const job = this.#jobs[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#jobs.length) {
        this.#jobs = this.#jobs.slice(this.#head);
        this.#head = 0;
      }
      if (!job.settled && !(job.stale && job.request.signal.aborted)) {
        return job;
      }
    }
    if (this.#head > 0) {
      this.#jobs = [];
      this.#head = 0;
    }
    return undefined;
  }

  /** Every waiting job, oldest first, without taking them out. */
  *waiting(): IterableIterator<Job> {
    for (let i = this.#head; i < this.#jobs.length; i++) yield this.#jobs[i]!;
  }

  /**
   * Drops the jobs answered meanwhile (timed out), so that `length`, which
   * admission compares with queueCapacity, counts only jobs still waiting.
   */
  prune(): void {
    this.#jobs = this.#head === this.#jobs.length
      ? []
      : this.#jobs.slice(this.#head).filter((job) => !job.settled);
    this.#head = 0;
  }

  /** Takes every waiting job out; returns those not answered yet. */
  clear(): Job[] {
    this.prune();
    const left = this.#jobs;
    this.#jobs = [];
    return left;
  }
}
