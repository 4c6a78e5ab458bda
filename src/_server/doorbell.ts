// The doorbell: how the server's threads wake each other. Both sides import
// this module; nothing else touches its words. tests/doorbell_model_test.ts
// checks every interleaving of it for small shapes.
//
// The rings' own sleeping (RingBuffer.pop) would wake a thread per push.
// Here wake-ups are coalesced, because one costs the notifying thread about
// as much CPU as Deno.serve spends on a whole request (~7 µs):
//
//   main ──tickets──▶ [request ring] ──▶ workers       rung on the WORKER bell
//   main ◀──events─── [event ring]  ◀── workers       rung on the MAIN bell
//
// Words (Int32, in the control buffer; offsets in ./wire.ts):
//
//   DOORBELL        bumped to wake workers idle in Atomics.wait
//   IDLE_WORKERS    workers between announcing that wait and leaving it
//   WAKING          idle workers notified that have not started polling yet
//   POLLING         workers certain to pop the request ring before sleeping
//   WORKER_POLLING  per worker: 1 while it counts in POLLING
//   BUSY_BELL       bumped to wake workers waiting with handlers in flight
//   IDLE_BUSY       workers between announcing that wait and leaving it
//   MAIN_BELL       bumped to wake main
//   MAIN_SLEEPING   1 while main is between announcing its wait and waking
//
// The rule that makes every wait safe (Dekker's, with seq-cst Atomics):
// a sleeper loads the bell, announces itself, re-checks its ring, then
// waits on the value it loaded; a waker publishes to the ring, then loads
// the announcement and, if someone sleeps, bumps the bell and notifies. One
// of the two always sees the other, and a bump between the sleeper's load
// and its wait makes the wait return at once. So no wake-up is lost; a few
// are spent for nothing.
//
// Skipping the worker bell. Main rings at most once per turn of its event
// loop (after that turn's pushes), and not at all while a worker is
// POLLING or WAKING:
// - POLLING: a worker between handler calls pops the ring again before it
//   sleeps. It leaves POLLING before it runs a handler (which may compute
//   for long) and then, in passOn(), rings for the others itself if tickets
//   are still queued. Leaving POLLING and main's push are both seq-cst:
//   either main sees the worker polling and the worker, re-checking the
//   ring after leaving, sees the ticket; or main sees it gone and rings.
// - WAKING: a worker main (or passOn) notified starts polling before it
//   leaves WAKING, so it too is certain to pop. Only idle workers count as
//   WAKING: they poll at once. A worker with handlers in flight waits on
//   BUSY_BELL with waitAsync (its handlers need the event loop) and its
//   next pop may queue behind their work, so nothing skips ringing for it.
//
// A worker that dies cannot take itself out of these counts: main subtracts
// its WORKER_POLLING flag from POLLING and zeroes WAKING (forget()). Both
// only ever err towards an extra wake-up, never a lost one.
import type { RingBuffer } from "../ring_buffer.ts";
import {
  W_BUSY_BELL,
  W_DOORBELL,
  W_IDLE_BUSY,
  W_IDLE_WORKERS,
  W_MAIN_BELL,
  W_MAIN_SLEEPING,
  W_POLLING,
  W_WAKING,
  W_WORKER_POLLING,
} from "./wire.ts";

/** Main's side: rings workers for tickets, sleeps until they ring for events. */
export class MainDoorbell {
  readonly #words: Int32Array;
  readonly #requests: RingBuffer;
  readonly #events: RingBuffer;
  #unrung = 0;

  constructor(words: Int32Array, requests: RingBuffer, events: RingBuffer) {
    this.#words = words;
    this.#requests = requests;
    this.#events = events;
  }

  /** After a push: rings once at the end of this turn, for all its pushes. */
  pushed(): void {
    if (this.#unrung++ === 0) queueMicrotask(this.#ringForTickets);
  }

  #ringForTickets = (): void => {
    const count = this.#unrung;
    this.#unrung = 0;
    const words = this.#words;
    // Our pushes (seq-cst) came first; see "Skipping the worker bell".
    if (!this.#requests.closed) {
      if (Atomics.load(words, W_POLLING) > 0) return;
      const waking = Atomics.load(words, W_WAKING);
      if (waking > 0) return;
      // Uncounted wake-ups (see ringWorkers) leave WAKING below 0, which
      // would hide the next counted one.
      if (waking < 0) Atomics.compareExchange(words, W_WAKING, waking, 0);
    }
    this.ring(count);
  };

  /** Notifies up to `count` sleeping workers (all, once the ring is closed). */
  ring(count: number): void {
    if (this.#requests.closed) return this.wakeAll();
    ringWorkers(this.#words, this.#requests, count);
  }

  /**
   * Wakes every sleeping worker, whatever the ring holds, so each looks at
   * its state again (the ring closed, a worker asked to retire).
   */
  wakeAll(): void {
    const words = this.#words;
    for (const bell of [W_DOORBELL, W_BUSY_BELL]) {
      Atomics.add(words, bell, 1);
      Atomics.notify(words, bell);
    }
  }

  /** A worker died: takes it out of the counts it can no longer leave. */
  forget(index: number): void {
    const words = this.#words;
    if (Atomics.exchange(words, W_WORKER_POLLING + index, 0)) {
      Atomics.sub(words, W_POLLING, 1);
    }
    Atomics.store(words, W_WAKING, 0);
    this.ring(Infinity);
  }

  /**
   * Waits until a worker rings the main bell, unless events are already
   * queued (or `stopped()`). Never blocks: `Atomics.waitAsync`.
   */
  async sleep(stopped: () => boolean): Promise<void> {
    const words = this.#words;
    // Announce, re-check, then wait; workers push before they load
    // MAIN_SLEEPING.
    const seen = Atomics.load(words, W_MAIN_BELL);
    Atomics.store(words, W_MAIN_SLEEPING, 1);
    if (this.#events.length === 0 && !stopped()) {
      const waiting = Atomics.waitAsync(words, W_MAIN_BELL, seen);
      if (waiting.async) await waiting.value;
    }
    Atomics.store(words, W_MAIN_SLEEPING, 0);
  }

  /** Wakes main's own sleep (to let it see that it has stopped). */
  wake(): void {
    Atomics.add(this.#words, W_MAIN_BELL, 1);
    Atomics.notify(this.#words, W_MAIN_BELL);
  }
}

/** One worker's side: polls, sleeps, passes tickets on, rings main. */
export class WorkerDoorbell {
  readonly #words: Int32Array;
  readonly #requests: RingBuffer;
  readonly #pollingWord: number;
  #polling = false;
  #mainPending = false;

  constructor(words: Int32Array, index: number, requests: RingBuffer) {
    this.#words = words;
    this.#requests = requests;
    this.#pollingWord = W_WORKER_POLLING + index;
  }

  /** Enters or leaves POLLING: "I will pop the request ring before I sleep". */
  setPolling(on: boolean): void {
    if (this.#polling === on) return;
    this.#polling = on;
    const words = this.#words;
    // The flag is set before and cleared after the count changes: should we
    // die in between, main's correction can only undercount.
    if (on) {
      Atomics.store(words, this.#pollingWord, 1);
      Atomics.add(words, W_POLLING, 1);
    } else {
      Atomics.sub(words, W_POLLING, 1);
      Atomics.store(words, this.#pollingWord, 0);
    }
  }

  /** After leaving POLLING: wakes one sleeping worker if tickets wait and nobody polls. */
  passOn(): void {
    // Runs after setPolling(false) (seq-cst): a push main skipped ringing
    // for because we polled is visible here.
    if (
      this.#requests.length === 0 || Atomics.load(this.#words, W_POLLING) > 0
    ) return;
    ringWorkers(this.#words, this.#requests, 1);
  }

  /**
   * Blocks in `Atomics.wait` until main rings (or `ms` pass). Returns with
   * POLLING entered if it was woken, since it was counted as WAKING.
   */
  sleepIdle(ms: number): void {
    // A blocking wait would hold back a queued ring of the main bell.
    this.ringMain();
    const words = this.#words;
    const seen = Atomics.load(words, W_DOORBELL);
    Atomics.add(words, W_IDLE_WORKERS, 1);
    // Announced before this check: a ticket pushed after it rings the bell.
    if (this.#requests.length === 0 && !this.#requests.closed) {
      if (Atomics.wait(words, W_DOORBELL, seen, ms) === "ok") {
        // Notified, so counted in WAKING: poll first, then leave WAKING.
        this.setPolling(true);
        Atomics.sub(words, W_WAKING, 1);
      }
    }
    Atomics.sub(words, W_IDLE_WORKERS, 1);
  }

  /** Waits for the busy bell without blocking the handlers' event loop. */
  async sleepBusy(): Promise<void> {
    const words = this.#words;
    const seen = Atomics.load(words, W_BUSY_BELL);
    Atomics.add(words, W_IDLE_BUSY, 1);
    try {
      if (this.#requests.length === 0 && !this.#requests.closed) {
        const waiting = Atomics.waitAsync(words, W_BUSY_BELL, seen);
        if (waiting.async) await waiting.value;
      }
    } finally {
      Atomics.sub(words, W_IDLE_BUSY, 1);
    }
  }

  /** After pushing events: rings main at the end of this turn, once. */
  pushed(): void {
    if (this.#mainPending) return;
    this.#mainPending = true;
    queueMicrotask(this.ringMain);
  }

  /** Rings main now if a ring is pending and main sleeps. */
  ringMain = (): void => {
    if (!this.#mainPending) return;
    this.#mainPending = false;
    // Our push (seq-cst) came first; main announces before re-checking.
    if (Atomics.load(this.#words, W_MAIN_SLEEPING) === 1) {
      Atomics.add(this.#words, W_MAIN_BELL, 1);
      Atomics.notify(this.#words, W_MAIN_BELL, 1);
    }
  };
}

/**
 * Wakes up to `count` workers: idle ones first (cheaper, and they spread the
 * load), then busy ones.
 *
 * The woken are counted in WAKING before the notify, then the surplus is
 * taken back: counted after, a forget() in between could leave WAKING too
 * high for good (bug 1 in tests/doorbell_model_test.ts), so that main would
 * never ring again. Counted before, a ringer may skip on our count while
 * the worker we counted is not waiting (it announced itself but has not
 * reached its wait, or just left one); that worker re-checks the ring, but
 * the skipped ticket may come after its check, and it sleeps (bug 3). So
 * when the notify wakes fewer than counted and tickets still wait, bump
 * and notify once more without counting: no ringer skips on that ring, and
 * every sleeper that loaded DOORBELL before the bump returns or is woken.
 */
function ringWorkers(
  words: Int32Array,
  requests: RingBuffer,
  count: number,
): void {
  const idle = Atomics.load(words, W_IDLE_WORKERS);
  if (idle > 0) {
    const counted = Math.min(idle, count);
    Atomics.add(words, W_WAKING, counted);
    Atomics.add(words, W_DOORBELL, 1);
    const woken = Atomics.notify(words, W_DOORBELL, counted);
    count -= woken;
    if (woken < counted) {
      Atomics.sub(words, W_WAKING, counted - woken);
      if (requests.length === 0) return;
      // Whom this wakes still leaves WAKING: it drifts below 0, which
      // ringForTickets() clamps.
      Atomics.add(words, W_DOORBELL, 1);
      count -= Atomics.notify(words, W_DOORBELL, count);
    }
  }
  if (count > 0 && Atomics.load(words, W_IDLE_BUSY) > 0) {
    Atomics.add(words, W_BUSY_BELL, 1);
    Atomics.notify(words, W_BUSY_BELL, count);
  }
}
