// Exhaustive interleaving check of the RingBuffer protocol.
//
// The model re-states src/ring_buffer.ts as a step machine. Each step is
// one shared-memory operation of the real code (an Atomics load, store,
// add, compareExchange, wait or notify) followed by the thread's local
// computation up to its next shared access. Two coarsenings keep the state
// space small and hide no behaviour:
// - A claim ("load HEAD, load the cell's SEQUENCE, compareExchange HEAD")
//   is one step. The loads have no side effect and a failed CAS only
//   retries; a successful CAS proves HEAD and SEQUENCE still hold what was
//   read (sequences only grow, and only the claimer of a position moves
//   its cell on), so running the claim at the CAS instant is equivalent.
//   Likewise "full"/"empty" is decided at the SEQUENCE load, when HEAD
//   (TAIL) cannot have moved past the position yet.
// - The plain store of a cell's VALUE is merged into the store that
//   publishes the cell, and its plain load into the claim: no other thread
//   reads or writes that VALUE in between.
// Two exact reductions follow (see explore()): epoch words are kept as
// "my loaded epoch is still current" flags, and a state and its mirror
// image with the two consumers swapped are stored once.
// Atomics.wait checks the word and enqueues the thread in one step;
// Atomics.notify dequeues waiters in FIFO order, as the spec says. Spin is
// 0 and timeouts are infinite, as in a worker's job loop.
//
// Every schedule of P producers (each push()es its items until done or
// refused with RingClosedError), C consumers (each pop()s until it returns
// undefined) and one closer (close() at any moment) is explored by
// depth-first search with state hashing. Checked:
// - no item is consumed twice, and each consumer sees each producer's items
//   in increasing order;
// - in every final state every thread has finished (no deadlock: this is
//   how a lost wake-up shows up) and every accepted push was consumed (no
//   lost item, including pushes that raced close);
// - no reachable cycle (no schedule spins forever).
// Each mutation of the protocol (one ordering broken) must fail the check,
// which shows the checker can fail. The search itself (state hashing,
// symmetry, the cycle check, the failing schedule) is tests/_model_explorer.ts.

import assert from "node:assert/strict";
import {
  assertNoViolation,
  explore as exploreMachine,
  exploreFromArgs,
  type ExploreResult,
  type StepMachine,
  Violation,
} from "./_model_explorer.ts";

type Mutation =
  | "no-claim-recheck" // tryPush does not re-check CLOSED after claiming
  | "announce-after-retry" // pop() retries before announcing its sleep
  | "notify-before-bump" // wakers notify before bumping the epoch
  | "drained-head-first" // #drained() loads HEAD before CLOSED
  | "wake-one-after-close"; // a publish after close wakes one sleeper only

interface ModelConfig {
  producers: number;
  consumers: number;
  itemsPerProducer: number;
  capacity: number;
  startIndex: number;
  mutation?: Mutation;
}

const TOMBSTONE = -1;

// Shared words of the model (same names as in src/ring_buffer.ts).
const HEAD = 0;
const TAIL = 1;
const CLOSED = 2;
const ITEM_EPOCH = 3;
const SPACE_EPOCH = 4;
const SLEEPING_CONSUMERS = 5;
const SLEEPING_PRODUCERS = 6;
const CELLS = 7; // then SEQUENCE, VALUE per cell

// Per-thread fields.
const PC = 0;
const SLOW = 1; // 1 while tryPush/tryPop runs inside the sleep loop
const POS = 2;
const EPOCH = 3;
const VALUE = 4;
const AUX = 5; // HEAD seen by #drained(), or how many a push wakes
const NEXT = 6; // producer: index of the item being pushed
const ACCEPTED = 7; // producer: how many pushes returned true
const LAST = 8; // consumer: last item index seen, per producer

// Program counters, named after the shared operation the step performs.
const PC_NAMES = [
  "DONE",
  // tryPush
  "PUSH_LOAD_CLOSED",
  "PUSH_CLAIM",
  "PUSH_RECHECK_CLOSED",
  "PUSH_PUBLISH_TOMBSTONE",
  "PUSH_TOMBSTONE_BUMP",
  "PUSH_TOMBSTONE_NOTIFY",
  "PUSH_PUBLISH",
  "PUSH_LOAD_SLEEPING",
  "PUSH_LOAD_CLOSED_FOR_WAKE",
  "PUSH_BUMP",
  "PUSH_NOTIFY",
  // push() sleep loop
  "PUSH_SLEEP_EPOCH",
  "PUSH_SLEEP_ANNOUNCE",
  "PUSH_SLEEP_WAIT",
  "PUSH_SLEEP_UNANNOUNCE",
  "PUSH_SLEEP_UNANNOUNCE_TRUE",
  "PUSH_SLEEP_UNANNOUNCE_THROW",
  // tryPop
  "POP_CLAIM",
  "POP_FREE",
  "POP_LOAD_SLEEPING",
  "POP_BUMP",
  "POP_NOTIFY",
  // pop() sleep loop
  "POP_SLEEP_EPOCH",
  "POP_SLEEP_ANNOUNCE",
  "POP_SLEEP_LATE_ANNOUNCE",
  "POP_DRAINED_CLOSED",
  "POP_DRAINED_HEAD",
  "POP_DRAINED_TAIL",
  "POP_DRAINED_HEAD_FIRST",
  "POP_DRAINED_CLOSED_SECOND",
  "POP_SLEEP_WAIT",
  "POP_SLEEP_UNANNOUNCE",
  "POP_SLEEP_UNANNOUNCE_VALUE",
  "POP_SLEEP_UNANNOUNCE_DONE",
  // close()
  "CLOSE_STORE",
  "CLOSE_ITEM_BUMP",
  "CLOSE_ITEM_NOTIFY",
  "CLOSE_SPACE_BUMP",
  "CLOSE_SPACE_NOTIFY",
] as const;
type PcName = typeof PC_NAMES[number];
const pc = (name: PcName): number => PC_NAMES.indexOf(name);
const DONE = pc("DONE");
const PUSH_LOAD_CLOSED = pc("PUSH_LOAD_CLOSED");
const PUSH_CLAIM = pc("PUSH_CLAIM");
const PUSH_RECHECK_CLOSED = pc("PUSH_RECHECK_CLOSED");
const PUSH_PUBLISH_TOMBSTONE = pc("PUSH_PUBLISH_TOMBSTONE");
const PUSH_TOMBSTONE_BUMP = pc("PUSH_TOMBSTONE_BUMP");
const PUSH_TOMBSTONE_NOTIFY = pc("PUSH_TOMBSTONE_NOTIFY");
const PUSH_PUBLISH = pc("PUSH_PUBLISH");
const PUSH_LOAD_SLEEPING = pc("PUSH_LOAD_SLEEPING");
const PUSH_LOAD_CLOSED_FOR_WAKE = pc("PUSH_LOAD_CLOSED_FOR_WAKE");
const PUSH_BUMP = pc("PUSH_BUMP");
const PUSH_NOTIFY = pc("PUSH_NOTIFY");
const PUSH_SLEEP_EPOCH = pc("PUSH_SLEEP_EPOCH");
const PUSH_SLEEP_ANNOUNCE = pc("PUSH_SLEEP_ANNOUNCE");
const PUSH_SLEEP_WAIT = pc("PUSH_SLEEP_WAIT");
const PUSH_SLEEP_UNANNOUNCE = pc("PUSH_SLEEP_UNANNOUNCE");
const PUSH_SLEEP_UNANNOUNCE_TRUE = pc("PUSH_SLEEP_UNANNOUNCE_TRUE");
const PUSH_SLEEP_UNANNOUNCE_THROW = pc("PUSH_SLEEP_UNANNOUNCE_THROW");
const POP_CLAIM = pc("POP_CLAIM");
const POP_FREE = pc("POP_FREE");
const POP_LOAD_SLEEPING = pc("POP_LOAD_SLEEPING");
const POP_BUMP = pc("POP_BUMP");
const POP_NOTIFY = pc("POP_NOTIFY");
const POP_SLEEP_EPOCH = pc("POP_SLEEP_EPOCH");
const POP_SLEEP_ANNOUNCE = pc("POP_SLEEP_ANNOUNCE");
const POP_SLEEP_LATE_ANNOUNCE = pc("POP_SLEEP_LATE_ANNOUNCE");
const POP_DRAINED_CLOSED = pc("POP_DRAINED_CLOSED");
const POP_DRAINED_HEAD = pc("POP_DRAINED_HEAD");
const POP_DRAINED_TAIL = pc("POP_DRAINED_TAIL");
const POP_DRAINED_HEAD_FIRST = pc("POP_DRAINED_HEAD_FIRST");
const POP_DRAINED_CLOSED_SECOND = pc("POP_DRAINED_CLOSED_SECOND");
const POP_SLEEP_WAIT = pc("POP_SLEEP_WAIT");
const POP_SLEEP_UNANNOUNCE = pc("POP_SLEEP_UNANNOUNCE");
const POP_SLEEP_UNANNOUNCE_VALUE = pc("POP_SLEEP_UNANNOUNCE_VALUE");
const POP_SLEEP_UNANNOUNCE_DONE = pc("POP_SLEEP_UNANNOUNCE_DONE");
const CLOSE_STORE = pc("CLOSE_STORE");
const CLOSE_ITEM_BUMP = pc("CLOSE_ITEM_BUMP");
const CLOSE_ITEM_NOTIFY = pc("CLOSE_ITEM_NOTIFY");
const CLOSE_SPACE_BUMP = pc("CLOSE_SPACE_BUMP");
const CLOSE_SPACE_NOTIFY = pc("CLOSE_SPACE_NOTIFY");

/** Explores every schedule of the configuration; stops at the first violation. */
function explore(config: ModelConfig): ExploreResult {
  const { producers, consumers, itemsPerProducer, capacity, mutation } = config;
  const mask = capacity - 1;
  const threads = producers + consumers + 1;
  const closer = producers + consumers;
  const itemQueue = CELLS + 2 * capacity; // waiters on ITEM_EPOCH, FIFO
  const spaceQueue = itemQueue + threads; // waiters on SPACE_EPOCH, FIFO
  const consumedBits = spaceQueue + threads; // one bit per item, per producer
  const threadBase = consumedBits + producers;
  const threadSize = LAST + producers;
  const size = threadBase + threads * threadSize;

  const initial = new Array<number>(size).fill(0);
  const first = config.startIndex | 0;
  initial[HEAD] = first;
  initial[TAIL] = first;
  for (let i = 0; i < capacity; i++) {
    const position = (first + i) | 0;
    initial[CELLS + 2 * (position & mask)] = position;
  }
  initial.fill(-1, itemQueue, consumedBits);
  for (let t = 0; t < threads; t++) {
    const b = threadBase + t * threadSize;
    if (t < producers) {
      initial[b + PC] = PUSH_LOAD_CLOSED;
    } else if (t < closer) {
      initial[b + PC] = POP_CLAIM;
      initial.fill(-1, b + LAST, b + LAST + producers);
    } else {
      initial[b + PC] = CLOSE_STORE;
    }
  }

  const isWaiting = (s: readonly number[], t: number): boolean => {
    for (let i = 0; i < threads; i++) {
      if (s[itemQueue + i] === t || s[spaceQueue + i] === t) return true;
    }
    return false;
  };
  // Atomics.wait: the thread blocks only if the word still holds what it loaded.
  const wait = (s: number[], word: number, t: number) => {
    if (s[threadBase + t * threadSize + EPOCH] === 0) return;
    const queue = word === ITEM_EPOCH ? itemQueue : spaceQueue;
    let i = 0;
    while (s[queue + i] !== -1) i++;
    s[queue + i] = t;
  };
  // Atomics.notify: wakes the first `count` waiters in FIFO order.
  const notify = (s: number[], word: number, count: number) => {
    const queue = word === ITEM_EPOCH ? itemQueue : spaceQueue;
    const woken = Math.min(count, threads);
    for (let i = 0; i < threads; i++) {
      s[queue + i] = i + woken < threads ? s[queue + i + woken]! : -1;
    }
  };
  const cellOf = (position: number) => CELLS + 2 * (position & mask);
  // Epochs are only ever compared for equality with a value loaded
  // earlier, so the model keeps, instead of the numbers, one flag per
  // thread: "my loaded epoch is still current". Loading sets it, a bump
  // clears it for every thread that loads that epoch (consumers load
  // ITEM_EPOCH, producers SPACE_EPOCH), and Atomics.wait blocks only while
  // it is set. This forgets how often an epoch moved, which no step reads.
  const loadEpoch = (s: number[], t: number) => {
    s[threadBase + t * threadSize + EPOCH] = 1;
  };
  const bump = (s: number[], word: number) => {
    const from = word === ITEM_EPOCH ? producers : 0;
    const to = word === ITEM_EPOCH ? closer : producers;
    for (let t = from; t < to; t++) s[threadBase + t * threadSize + EPOCH] = 0;
  };

  // tryPush returned: continue in push() or its sleep loop.
  const pushReturned = (
    s: number[],
    b: number,
    result: boolean | "closed",
  ) => {
    s[b + POS] = 0;
    s[b + AUX] = 0;
    if (s[b + SLOW] === 0) {
      if (result === true) nextPush(s, b);
      else if (result === false) s[b + PC] = PUSH_SLEEP_EPOCH;
      else s[b + PC] = DONE;
    } else {
      s[b + PC] = result === true
        ? PUSH_SLEEP_UNANNOUNCE_TRUE
        : result === false
        ? PUSH_SLEEP_WAIT
        : PUSH_SLEEP_UNANNOUNCE_THROW;
    }
  };
  const nextPush = (s: number[], b: number) => {
    s[b + ACCEPTED]!++;
    s[b + NEXT]!++;
    s[b + SLOW] = 0;
    s[b + EPOCH] = 0;
    s[b + PC] = s[b + NEXT]! < itemsPerProducer ? PUSH_LOAD_CLOSED : DONE;
  };
  // tryPop's end: skip a tombstone, else return to pop() or its sleep loop.
  const popReturned = (
    s: number[],
    t: number,
    b: number,
    value: number | undefined,
  ) => {
    s[b + POS] = 0;
    s[b + VALUE] = 0;
    if (value === TOMBSTONE) {
      s[b + PC] = POP_CLAIM;
    } else if (s[b + SLOW] === 0) {
      if (value === undefined) s[b + PC] = POP_SLEEP_EPOCH;
      else {
        consume(s, t, b, value);
        s[b + PC] = POP_CLAIM;
      }
    } else if (value === undefined) {
      s[b + PC] = mutation === "announce-after-retry"
        ? POP_SLEEP_LATE_ANNOUNCE
        : mutation === "drained-head-first"
        ? POP_DRAINED_HEAD_FIRST
        : POP_DRAINED_CLOSED;
    } else if (mutation === "announce-after-retry") {
      consume(s, t, b, value); // never announced, so nothing to undo
      s[b + SLOW] = 0;
      s[b + EPOCH] = 0;
      s[b + PC] = POP_CLAIM;
    } else {
      s[b + VALUE] = value;
      s[b + PC] = POP_SLEEP_UNANNOUNCE_VALUE;
    }
  };
  const consume = (s: number[], t: number, b: number, value: number) => {
    const producer = value >> 4;
    const index = value & 15;
    if ((s[consumedBits + producer]! & (1 << index)) !== 0) {
      throw new Violation(`item ${producer}:${index} consumed twice`);
    }
    s[consumedBits + producer]! |= 1 << index;
    const last = s[b + LAST + producer]!;
    if (index <= last) {
      throw new Violation(
        `consumer ${t} got ${producer}:${index} after ${producer}:${last}`,
      );
    }
    s[b + LAST + producer] = index;
  };

  /** Runs one step of thread t on state s, in place. */
  const step = (s: number[], t: number): void => {
    const b = threadBase + t * threadSize;
    const position = s[b + POS]!;
    switch (s[b + PC]) {
      // ---- tryPush(value) ----
      case PUSH_LOAD_CLOSED:
        if (s[CLOSED] !== 0) pushReturned(s, b, "closed");
        else s[b + PC] = PUSH_CLAIM;
        return;
      case PUSH_CLAIM: {
        const head = s[HEAD]!;
        if (s[cellOf(head)] === head) {
          s[HEAD] = (head + 1) | 0;
          s[b + POS] = head;
          s[b + PC] = mutation === "no-claim-recheck"
            ? PUSH_PUBLISH
            : PUSH_RECHECK_CLOSED;
        } else {
          pushReturned(s, b, false); // the cell still holds an item a lap old
        }
        return;
      }
      case PUSH_RECHECK_CLOSED:
        s[b + PC] = s[CLOSED] !== 0 ? PUSH_PUBLISH_TOMBSTONE : PUSH_PUBLISH;
        return;
      case PUSH_PUBLISH_TOMBSTONE:
        s[cellOf(position) + 1] = TOMBSTONE;
        s[cellOf(position)] = (position + 1) | 0;
        s[b + PC] = PUSH_TOMBSTONE_BUMP;
        return;
      case PUSH_TOMBSTONE_BUMP:
        bump(s, ITEM_EPOCH);
        s[b + PC] = PUSH_TOMBSTONE_NOTIFY;
        return;
      case PUSH_TOMBSTONE_NOTIFY:
        notify(s, ITEM_EPOCH, Infinity);
        pushReturned(s, b, "closed");
        return;
      case PUSH_PUBLISH:
        s[cellOf(position) + 1] = t * 16 + s[b + NEXT]!;
        s[cellOf(position)] = (position + 1) | 0;
        s[b + POS] = 0;
        s[b + PC] = PUSH_LOAD_SLEEPING;
        return;
      case PUSH_LOAD_SLEEPING:
        if (s[SLEEPING_CONSUMERS] !== 0) s[b + PC] = PUSH_LOAD_CLOSED_FOR_WAKE;
        else pushReturned(s, b, true);
        return;
      case PUSH_LOAD_CLOSED_FOR_WAKE:
        s[b + AUX] = s[CLOSED] !== 0 && mutation !== "wake-one-after-close"
          ? threads // Infinity
          : 1;
        s[b + PC] = mutation === "notify-before-bump" ? PUSH_NOTIFY : PUSH_BUMP;
        return;
      case PUSH_BUMP:
        bump(s, ITEM_EPOCH);
        if (mutation === "notify-before-bump") pushReturned(s, b, true);
        else s[b + PC] = PUSH_NOTIFY;
        return;
      case PUSH_NOTIFY:
        notify(s, ITEM_EPOCH, s[b + AUX]!);
        if (mutation === "notify-before-bump") s[b + PC] = PUSH_BUMP;
        else pushReturned(s, b, true);
        return;
      // ---- push(value): #pushSlow ----
      case PUSH_SLEEP_EPOCH:
        loadEpoch(s, t);
        s[b + PC] = PUSH_SLEEP_ANNOUNCE;
        return;
      case PUSH_SLEEP_ANNOUNCE:
        s[SLEEPING_PRODUCERS]!++;
        s[b + SLOW] = 1;
        s[b + PC] = PUSH_LOAD_CLOSED;
        return;
      case PUSH_SLEEP_WAIT:
        wait(s, SPACE_EPOCH, t);
        s[b + PC] = PUSH_SLEEP_UNANNOUNCE;
        return;
      case PUSH_SLEEP_UNANNOUNCE:
        s[SLEEPING_PRODUCERS]!--;
        s[b + PC] = PUSH_SLEEP_EPOCH;
        return;
      case PUSH_SLEEP_UNANNOUNCE_TRUE:
        s[SLEEPING_PRODUCERS]!--;
        nextPush(s, b);
        return;
      case PUSH_SLEEP_UNANNOUNCE_THROW:
        s[SLEEPING_PRODUCERS]!--;
        s[b + PC] = DONE;
        return;
      // ---- tryPop() ----
      case POP_CLAIM: {
        const tail = s[TAIL]!;
        if (s[cellOf(tail)] === ((tail + 1) | 0)) {
          s[TAIL] = (tail + 1) | 0;
          s[b + POS] = tail;
          s[b + VALUE] = s[cellOf(tail) + 1]!;
          s[b + PC] = POP_FREE;
        } else {
          popReturned(s, t, b, undefined); // not yet published
        }
        return;
      }
      case POP_FREE:
        s[cellOf(position)] = (position + capacity) | 0;
        s[b + POS] = 0;
        s[b + PC] = POP_LOAD_SLEEPING;
        return;
      case POP_LOAD_SLEEPING:
        if (s[SLEEPING_PRODUCERS] !== 0) s[b + PC] = POP_BUMP;
        else popReturned(s, t, b, s[b + VALUE]!);
        return;
      case POP_BUMP:
        bump(s, SPACE_EPOCH);
        s[b + PC] = POP_NOTIFY;
        return;
      case POP_NOTIFY:
        notify(s, SPACE_EPOCH, 1);
        popReturned(s, t, b, s[b + VALUE]!);
        return;
      // ---- pop(): #popSlow ----
      case POP_SLEEP_EPOCH:
        loadEpoch(s, t);
        s[b + SLOW] = 1;
        s[b + PC] = mutation === "announce-after-retry"
          ? POP_CLAIM
          : POP_SLEEP_ANNOUNCE;
        return;
      case POP_SLEEP_ANNOUNCE:
        s[SLEEPING_CONSUMERS]!++;
        s[b + PC] = POP_CLAIM;
        return;
      case POP_SLEEP_LATE_ANNOUNCE:
        s[SLEEPING_CONSUMERS]!++;
        s[b + PC] = POP_DRAINED_CLOSED;
        return;
      case POP_DRAINED_CLOSED:
        s[b + PC] = s[CLOSED] !== 0 ? POP_DRAINED_HEAD : POP_SLEEP_WAIT;
        return;
      case POP_DRAINED_HEAD:
        s[b + AUX] = s[HEAD]!;
        s[b + PC] = POP_DRAINED_TAIL;
        return;
      case POP_DRAINED_TAIL:
        s[b + PC] = s[TAIL] === s[b + AUX]
          ? POP_SLEEP_UNANNOUNCE_DONE
          : POP_SLEEP_WAIT;
        s[b + AUX] = 0;
        return;
      case POP_DRAINED_HEAD_FIRST:
        s[b + AUX] = s[HEAD]!;
        s[b + PC] = POP_DRAINED_CLOSED_SECOND;
        return;
      case POP_DRAINED_CLOSED_SECOND:
        if (s[CLOSED] !== 0) s[b + PC] = POP_DRAINED_TAIL;
        else {
          s[b + AUX] = 0;
          s[b + PC] = POP_SLEEP_WAIT;
        }
        return;
      case POP_SLEEP_WAIT:
        wait(s, ITEM_EPOCH, t);
        s[b + PC] = POP_SLEEP_UNANNOUNCE;
        return;
      case POP_SLEEP_UNANNOUNCE:
        s[SLEEPING_CONSUMERS]!--;
        s[b + PC] = POP_SLEEP_EPOCH;
        return;
      case POP_SLEEP_UNANNOUNCE_VALUE:
        s[SLEEPING_CONSUMERS]!--;
        consume(s, t, b, s[b + VALUE]!);
        s[b + VALUE] = 0;
        s[b + EPOCH] = 0;
        s[b + SLOW] = 0;
        s[b + PC] = POP_CLAIM;
        return;
      case POP_SLEEP_UNANNOUNCE_DONE:
        s[SLEEPING_CONSUMERS]!--;
        s[b + EPOCH] = 0;
        s[b + SLOW] = 0;
        s[b + PC] = DONE;
        return;
      // ---- close() ----
      case CLOSE_STORE:
        s[CLOSED] = 1;
        s[b + PC] = CLOSE_ITEM_BUMP;
        return;
      case CLOSE_ITEM_BUMP:
        bump(s, ITEM_EPOCH);
        s[b + PC] = CLOSE_ITEM_NOTIFY;
        return;
      case CLOSE_ITEM_NOTIFY:
        notify(s, ITEM_EPOCH, Infinity);
        s[b + PC] = CLOSE_SPACE_BUMP;
        return;
      case CLOSE_SPACE_BUMP:
        bump(s, SPACE_EPOCH);
        s[b + PC] = CLOSE_SPACE_NOTIFY;
        return;
      case CLOSE_SPACE_NOTIFY:
        notify(s, SPACE_EPOCH, Infinity);
        s[b + PC] = DONE;
        return;
      default:
        throw new Error(`model bug: thread ${t} at pc ${s[b + PC]}`);
    }
  };

  const checkFinal = (s: readonly number[]) => {
    for (let t = 0; t < threads; t++) {
      const at = s[threadBase + t * threadSize + PC]!;
      if (at !== DONE) {
        throw new Violation(
          `deadlock: thread ${t} blocked forever at ${PC_NAMES[at]}`,
        );
      }
    }
    for (let p = 0; p < producers; p++) {
      const accepted = s[threadBase + p * threadSize + ACCEPTED]!;
      const consumed = s[consumedBits + p]!;
      if (consumed !== (1 << accepted) - 1) {
        throw new Violation(
          `lost item: producer ${p} had ${accepted} pushes accepted, consumers got items 0b${
            consumed.toString(2)
          }`,
        );
      }
    }
  };

  // Symmetry reduction: the two consumers are interchangeable once their
  // thread ids are swapped (in their blocks and in the waiter queues). A
  // state is stored as the lesser of itself and its swapped twin (by the
  // consumers' blocks, then the whole state), so each pair of mirror
  // states is explored once. (Swapping producers would also rename items
  // and saved 4% of states for twice the hashing.)
  const swapConsumers = (t: number) =>
    t === producers ? t + 1 : t === producers + 1 ? producers : t;
  const renamed = new Array<number>(size).fill(0);
  const rename = (
    s: readonly number[],
    to: (t: number) => number,
  ): number[] => {
    for (let i = 0; i < itemQueue; i++) renamed[i] = s[i]!;
    for (let i = itemQueue; i < consumedBits; i++) {
      renamed[i] = s[i]! < 0 ? -1 : to(s[i]!);
    }
    for (let i = consumedBits; i < threadBase; i++) renamed[i] = s[i]!;
    for (let t = 0; t < threads; t++) {
      const from = threadBase + t * threadSize;
      const into = threadBase + to(t) * threadSize;
      for (let i = 0; i < threadSize; i++) renamed[into + i] = s[from + i]!;
    }
    return renamed;
  };
  const firstConsumer = threadBase + producers * threadSize;
  const canonical = (s: readonly number[]): readonly number[] => {
    for (let i = 0; i < threadSize; i++) {
      const d = s[firstConsumer + i]! - s[firstConsumer + threadSize + i]!;
      if (d !== 0) return d < 0 ? s : rename(s, swapConsumers);
    }
    const twin = rename(s, swapConsumers);
    for (let i = 0; i < size; i++) {
      if (twin[i] !== s[i]) return twin[i]! < s[i]! ? twin : s;
    }
    return s;
  };
  const describe = (s: readonly number[], t: number): string =>
    `${t}:${PC_NAMES[s[threadBase + t * threadSize + PC]!]}`;
  const machine: StepMachine = {
    initial,
    threads,
    choices: (s, t) => {
      const at = s[threadBase + t * threadSize + PC]!;
      return at === DONE || isWaiting(s, t) ? 0 : 1;
    },
    step: (s, t) => step(s, t),
    describe,
    checkFinal,
    canonical: consumers === 2 ? canonical : undefined,
  };
  return exploreMachine(machine);
}

const BASE: ModelConfig = {
  producers: 2,
  consumers: 2,
  itemsPerProducer: 2,
  capacity: 2,
  startIndex: 0,
};

function assertSafe(config: ModelConfig, minStates: number): void {
  assertNoViolation(explore(config), minStates);
}

// About 6 * 10^6 states in all: 10-20 s on a loaded 2-core machine. The
// full 2 producers x 2 items x 2 consumers shape has 1.97 * 10^8 states
// (about 12 minutes and 5 GB); it passed when run by hand with
//   deno run -A tests/ring_model_test.ts '{"itemsPerProducer":2}'
// (hash compaction: odds of a hidden state there are about 1e-3). The
// shapes below cover its parts in every run.
Deno.test("RingBuffer model: every schedule of 2 producers x 1 item, 2 consumers, capacity 2 and a racing close is safe", () => {
  assertSafe({ ...BASE, itemsPerProducer: 1 }, 1_000_000);
});

Deno.test("RingBuffer model: every schedule of 1 producer x 2 items, 2 consumers, capacity 2 and a racing close is safe", () => {
  assertSafe({ ...BASE, producers: 1 }, 100_000);
});

Deno.test("RingBuffer model: every schedule of 1 producer x 3 items into capacity 2 (the producer sleeps on full), 1 consumer and a racing close is safe", () => {
  assertSafe(
    { ...BASE, producers: 1, consumers: 1, itemsPerProducer: 3 },
    10_000,
  );
});

Deno.test("RingBuffer model: position counters wrapping at 2^31 and 2^32 change nothing", () => {
  for (const startIndex of [2 ** 31 - 1, 2 ** 32 - 1]) {
    assertSafe(
      { ...BASE, consumers: 1, itemsPerProducer: 1, startIndex },
      50_000,
    );
  }
});

Deno.test("RingBuffer model: every schedule of 2 producers x 2 items into capacity 2 (producers sleep on full), 1 consumer and a racing close is safe", () => {
  assertSafe({ ...BASE, consumers: 1 }, 1_000_000);
});

Deno.test("RingBuffer model: every schedule of 1 producer x 3 items, 2 consumers, capacity 2 and a racing close is safe", () => {
  assertSafe({ ...BASE, producers: 1, itemsPerProducer: 3 }, 500_000);
});

const MUTANTS: Array<[Mutation, Partial<ModelConfig>, RegExp]> = [
  ["no-claim-recheck", { consumers: 1, itemsPerProducer: 1 }, /lost item/],
  ["announce-after-retry", { consumers: 1, itemsPerProducer: 1 }, /deadlock/],
  ["notify-before-bump", { consumers: 1, itemsPerProducer: 1 }, /deadlock/],
  ["drained-head-first", { consumers: 1, itemsPerProducer: 1 }, /lost item/],
  ["wake-one-after-close", { producers: 1 }, /deadlock/],
];

for (const [mutation, shape, expected] of MUTANTS) {
  Deno.test(`RingBuffer model catches a broken protocol: ${mutation}`, () => {
    const result = explore({ ...BASE, ...shape, mutation });
    assert.match(result.violation ?? "no violation found", expected);
  });
}

if (import.meta.main) {
  // deno run tests/ring_model_test.ts '{"itemsPerProducer":2}': explore one configuration.
  exploreFromArgs(BASE, explore);
}
