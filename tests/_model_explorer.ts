// The explorer behind the exhaustive interleaving models
// (tests/ring_model_test.ts, tests/doorbell_model_test.ts).
//
// A model is a step machine: a state is a flat array of integers (the
// shared words, then one block per thread) and a step is one shared-memory
// operation of one thread followed by its local computation up to its next
// shared access. A thread may have several steps to choose from (which
// macrotask its event loop runs next, say) or none (finished, or blocked in
// a wait). explore() runs a depth-first search over every schedule with
// state hashing and reports the first violation with the schedule that
// reached it:
// - whatever the model's step or final check throws as a Violation;
// - a state with no step left that the model's final check rejects (a
//   thread blocked forever is how a lost wake-up shows up);
// - a reachable cycle: a schedule that runs forever (livelock). The state
//   holds every progress counter of the model, so a cycle is a run of steps
//   that makes no progress.
// Symmetries (renamings of interchangeable threads) are an exact
// reduction: a state is stored under the smallest hash of itself and its
// renamed twins, so each class of mirror states is explored once. A model
// may instead name one twin of each class itself (`canonical`): the same
// classes, one hash per state instead of one per twin.
//
// Visited states are stored as 64-bit hashes (hash compaction): a
// collision could only hide states, with odds around n²/2^65 for n states
// (below 1e-6 for the shapes the suite runs).

import assert from "node:assert/strict";

/** Thrown by a model's step or final check when the protocol is broken. */
export class Violation extends Error {}

/** A protocol re-stated as a step machine over a flat integer state. */
export interface StepMachine {
  /** The state every schedule starts from. */
  readonly initial: readonly number[];
  /** How many threads there are; they are numbered from 0. */
  readonly threads: number;
  /** How many different steps thread `t` can take in `s` (0: none). */
  choices(s: readonly number[], t: number): number;
  /** Takes step `choice` of thread `t` on `s`, in place; may throw a Violation. */
  step(s: number[], t: number, choice: number): void;
  /** Names step `choice` of thread `t` in `s`, for the failing schedule. */
  describe(s: readonly number[], t: number, choice: number): string;
  /** Checks a state in which no thread can step; throws a Violation. */
  checkFinal(s: readonly number[]): void;
  /** Renamings of interchangeable threads, each returning the renamed state. */
  readonly symmetries?: ReadonlyArray<
    (s: readonly number[]) => readonly number[]
  >;
  /**
   * Instead of `symmetries`: the one twin of `s` that stands for all of
   * them (the same for every twin), possibly `s` itself.
   */
  canonical?(s: readonly number[]): readonly number[];
}

/** What explore() found. */
export interface ExploreResult {
  /** Distinct states visited (up to symmetry). */
  states: number;
  /** States in which no thread could step. */
  finals: number;
  /** The first violation and the schedule that reached it, if any. */
  violation?: string;
}

/** A set of 64-bit state hashes with a mark per entry (open addressing). */
class StateTable {
  #low = new Int32Array(1 << 16);
  #high = new Int32Array(1 << 16);
  #marks = new Uint8Array(1 << 16); // 0 empty, 1 on the DFS stack, 2 done
  size = 0;

  /** Returns the slot of (low, high), claiming an empty one if absent. */
  slot(low: number, high: number): number {
    if (this.size * 2 >= this.#marks.length) this.#grow();
    const mask = this.#marks.length - 1;
    for (let i = low & mask;; i = (i + 1) & mask) {
      if (this.#marks[i] === 0) {
        this.#low[i] = low;
        this.#high[i] = high;
        return i;
      }
      if (this.#low[i] === low && this.#high[i] === high) return i;
    }
  }

  mark(slot: number): number {
    return this.#marks[slot]!;
  }

  setMark(slot: number, mark: 1 | 2): void {
    if (this.#marks[slot] === 0) this.size++;
    this.#marks[slot] = mark;
  }

  #grow(): void {
    const low = this.#low, high = this.#high, marks = this.#marks;
    this.#low = new Int32Array(low.length * 2);
    this.#high = new Int32Array(low.length * 2);
    this.#marks = new Uint8Array(low.length * 2);
    const mask = this.#marks.length - 1;
    for (let j = 0; j < marks.length; j++) {
      if (marks[j] === 0) continue;
      let i = low[j]! & mask;
      while (this.#marks[i] !== 0) i = (i + 1) & mask;
      this.#low[i] = low[j]!;
      this.#high[i] = high[j]!;
      this.#marks[i] = marks[j]!;
    }
  }
}

/** Two 32-bit hashes of a state in one pass. */
class StateHash {
  low = 0;
  high = 0;

  of(s: readonly number[]): void {
    let a = 0x9e3779b9 | 0;
    let b = 0x85ebca6b | 0;
    for (let i = 0; i < s.length; i++) {
      const v = s[i]!;
      a = Math.imul(a ^ v, 0x5bd1e995);
      a ^= a >>> 15;
      b = Math.imul(b + v, 0x27d4eb2f);
      b ^= b >>> 13;
    }
    this.low = Math.imul(a ^ (a >>> 13), 0x27d4eb2d) ^ (a >>> 16);
    this.high = Math.imul(b ^ (b >>> 16), 0x165667b1) ^ (b >>> 15);
  }
}

/** Explores every schedule of the machine; stops at the first violation. */
export function explore(machine: StepMachine): ExploreResult {
  const { threads } = machine;
  const symmetries = machine.symmetries ?? [];
  const hash = new StateHash();
  let low = 0, high = 0;
  const canonical = machine.canonical?.bind(machine);
  const canonicalHash = (s: readonly number[]) => {
    hash.of(canonical === undefined ? s : canonical(s));
    low = hash.low;
    high = hash.high;
    if (canonical !== undefined) return;
    for (const rename of symmetries) {
      hash.of(rename(s));
      if (hash.low < low || (hash.low === low && hash.high < high)) {
        low = hash.low;
        high = hash.high;
      }
    }
  };

  const table = new StateTable();
  const path: number[] = []; // thread * 256 + choice of each step taken
  let finals = 0;
  const visit = (s: number[]): void => {
    canonicalHash(s);
    const myLow = low, myHigh = high;
    const slot = table.slot(myLow, myHigh);
    const mark = table.mark(slot);
    if (mark === 2) return;
    if (mark === 1) throw new Violation("a schedule runs forever (livelock)");
    table.setMark(slot, 1);
    let runnable = 0;
    for (let t = 0; t < threads; t++) {
      const choices = machine.choices(s, t);
      if (choices > 0) runnable++;
      for (let c = 0; c < choices; c++) {
        const next = s.slice();
        path.push(t * 256 + c);
        machine.step(next, t, c);
        visit(next);
        path.pop();
      }
    }
    if (runnable === 0) {
      finals++;
      machine.checkFinal(s);
    }
    // The slot may have moved if the table grew meanwhile: look it up again.
    table.setMark(table.slot(myLow, myHigh), 2);
  };
  try {
    visit(machine.initial.slice());
  } catch (error) {
    if (!(error instanceof Violation)) throw error;
    return {
      states: table.size,
      finals,
      violation: `${error.message}\nschedule (thread:step): ${
        replay(machine, path)
      }`,
    };
  }
  return { states: table.size, finals };
}

/** Names the steps of a schedule by running it again from the start. */
function replay(machine: StepMachine, path: readonly number[]): string {
  const s = machine.initial.slice();
  const names: string[] = [];
  for (const n of path) {
    const t = n >> 8, c = n & 255;
    names.push(machine.describe(s, t, c));
    try {
      machine.step(s, t, c);
    } catch (error) {
      if (!(error instanceof Violation)) throw error;
    }
  }
  return names.join(" ");
}

/**
 * Asserts that exploring found no violation, and visited at least
 * `minStates` states: a guard against a model that stops early and so
 * checks nothing.
 */
export function assertNoViolation(
  result: ExploreResult,
  minStates: number,
): void {
  assert.equal(result.violation, undefined);
  assert.ok(
    result.states >= minStates,
    `only ${result.states} states explored`,
  );
}

/**
 * For `deno run -A <model file> '<json>'`: explores one configuration, the
 * model's base one with the JSON's fields over it, and prints the result.
 */
export function exploreFromArgs<Config>(
  base: Config,
  check: (config: Config) => ExploreResult,
): void {
  const config = { ...base, ...JSON.parse(Deno.args[0] ?? "{}") };
  const started = performance.now();
  const result = check(config);
  console.log(
    JSON.stringify(config),
    result,
    `${Math.round(performance.now() - started)} ms`,
  );
}
