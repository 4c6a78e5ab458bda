// The worker side of one job: claim a slot the loop popped, read the
// export's name and arguments from it, call the export, write the outcome
// into the slot and hand the id back through the completion ring.
import type { MessagePort } from "node:worker_threads";
import { setImmediate } from "node:timers";
import { toWireError } from "../_common/wire_error.ts";
import {
  decode,
  decodeText,
  encodeInto,
  FLAG_ERROR,
  FLAG_THROWN_VALUE,
  KIND_MESSAGE,
} from "./codec.ts";
import {
  CANCELLED,
  COMPLETED_COUNT,
  DONE,
  FAILED_COUNT,
  type MainMessage,
  OWNER_SHIFT,
  QUEUED,
  RUNNING,
  S_NAME_LEN,
  S_REQ_KIND,
  S_REQ_LEN,
  S_RES_KIND,
  S_RES_LEN,
  S_STATE,
  W_COMPLETED,
  W_FAILED,
  type WorkerMessage,
  workerWord,
} from "./layout.ts";
import type { PoolMemory } from "./memory.ts";

type JobFunction = (...args: unknown[]) => unknown;

// The kind and length of a result that travels by message.
const BY_MESSAGE = [KIND_MESSAGE, 0] as const;

/** Where a runner reports async work (the loop, which must keep turning). */
export interface Tracker {
  track(work: Promise<void>): void;
}

/** Arguments asked of the main thread ("need"), until its "payload" reply. */
export class PayloadRequests {
  readonly #port: MessagePort;
  readonly #waiters = new Map<number, (message: MainMessage) => void>();

  constructor(port: MessagePort) {
    this.#port = port;
  }

  /** The listener for the main thread's messages. */
  readonly onMessage = (message: MainMessage): void => {
    if (message.type === "payload") {
      const resolve = this.#waiters.get(message.slot);
      this.#waiters.delete(message.slot);
      resolve?.(message);
    }
  };

  /** Asks for the arguments of `slot`. */
  request(slot: number): Promise<MainMessage> {
    return new Promise<MainMessage>((resolve) => {
      this.#waiters.set(slot, resolve);
      this.#port.postMessage({ type: "need", slot } satisfies WorkerMessage);
    });
  }
}

/** Runs the jobs of one worker, at position `index`, from its slots. */
export class JobRunner {
  readonly #port: MessagePort;
  readonly #module: Record<string, unknown>;
  readonly #payloads: PayloadRequests;
  readonly #tracker: Tracker;
  readonly #memory: PoolMemory;
  readonly #control: Int32Array;
  readonly #data: Uint8Array;
  readonly #slotBytes: number;
  /** `RUNNING | owner` and `DONE | owner` claim and finish our slots. */
  readonly #owner: number;
  readonly #completedWord: number;
  readonly #failedWord: number;

  constructor(
    port: MessagePort,
    module: Record<string, unknown>,
    payloads: PayloadRequests,
    tracker: Tracker,
    memory: PoolMemory,
    index: number,
    id: number,
  ) {
    this.#port = port;
    this.#module = module;
    this.#payloads = payloads;
    this.#tracker = tracker;
    this.#memory = memory;
    this.#control = memory.control;
    this.#data = memory.data;
    this.#slotBytes = memory.slotBytes;
    this.#owner = id << OWNER_SHIFT;
    this.#completedWord = workerWord(index, W_COMPLETED);
    this.#failedWord = workerWord(index, W_FAILED);
  }

  /** Claims a popped slot and starts its job. */
  take(slot: number): void {
    const memory = this.#memory;
    const control = this.#control;
    // The CAS both claims the job and records us as its owner; it fails if
    // the main thread cancelled the queued job (an aborted signal).
    const seen = Atomics.compareExchange(
      control,
      memory.slotWord(slot, S_STATE),
      QUEUED,
      RUNNING | this.#owner,
    );
    if (seen !== QUEUED) {
      // The main thread frees a cancelled slot once its id comes back.
      if (seen === CANCELLED) memory.completions.push(slot);
      return;
    }
    const base = slot * this.#slotBytes;
    const nameLength = control[memory.slotWord(slot, S_NAME_LEN)]!;
    const name = decodeText(this.#data.subarray(base, base + nameLength));
    const kind = control[memory.slotWord(slot, S_REQ_KIND)]!;
    if (kind === KIND_MESSAGE) {
      this.#takeByMessage(slot, name);
      return;
    }
    let args: unknown;
    try {
      const length = control[memory.slotWord(slot, S_REQ_LEN)]!;
      const start = base + nameLength;
      args = decode(kind, this.#data.subarray(start, start + length));
    } catch (error) {
      this.#finish(slot, error, true);
      return;
    }
    this.#invoke(slot, name, args);
  }

  /**
   * Large or transferable arguments: ask the main thread for them. The
   * answer arrives as a message, so this job counts as async.
   */
  #takeByMessage(slot: number, name: string): void {
    this.#tracker.track(
      this.#payloads.request(slot).then((reply) =>
        new Promise<void>((resolve) => {
          // Call the job from a macrotask, as the loop does (see there).
          setImmediate(() => {
            if (reply.failed) {
              // Already rejected on the main thread; just free the slot.
              this.#finish(slot, new TypeError("Arguments not sent"), true);
            } else this.#invoke(slot, name, reply.args);
            resolve();
          });
        })
      ),
    );
  }

  /** Calls the export; sync results finish at once, promises are tracked. */
  #invoke(slot: number, name: string, args: unknown): void {
    const module = this.#module;
    const job = Object.hasOwn(module, name) ? module[name] : undefined;
    if (typeof job !== "function") {
      const names = Object.keys(module).filter((key) =>
        typeof module[key] === "function"
      );
      this.#finish(
        slot,
        new TypeError(
          `Cannot run job '${name}' as the pool's module does not export a function of that name: it exports ${
            names.length === 0 ? "no functions" : names.join(", ")
          }`,
        ),
        true,
      );
      return;
    }
    let result: unknown;
    try {
      result = (job as JobFunction)(...(args as unknown[]));
    } catch (error) {
      this.#finish(slot, error, true);
      return;
    }
    if (
      result !== null && typeof result === "object" &&
      typeof (result as PromiseLike<unknown>).then === "function"
    ) {
      this.#tracker.track(
        Promise.resolve(result).then(
          (value) => this.#finish(slot, value, false),
          (error) => this.#finish(slot, error, true),
        ),
      );
    } else {
      this.#finish(slot, result, false);
    }
  }

  /** Writes the outcome into the slot, then publishes it. */
  #finish(slot: number, value: unknown, threw: boolean): void {
    const memory = this.#memory;
    const control = this.#control;
    const base = slot * this.#slotBytes;
    const region = this.#data.subarray(base, base + this.#slotBytes);
    let payload = value;
    let flags = 0;
    if (threw) {
      if (value instanceof Error) {
        payload = toWireError(value);
        flags = FLAG_ERROR;
      } else {
        flags = FLAG_THROWN_VALUE;
      }
    }
    let encoded: readonly [number, number];
    try {
      encoded = this.#encode(slot, payload, region);
    } catch (error) {
      // The value cannot be cloned (a function, a symbol, ...): report that.
      threw = true;
      flags = FLAG_ERROR;
      const wire = toWireError(
        error instanceof Error ? error : new TypeError(String(error)),
      );
      encoded = this.#encode(slot, wire, region);
    }
    const [kind, length] = encoded;
    control[memory.slotWord(slot, S_RES_KIND)] = kind | flags;
    control[memory.slotWord(slot, S_RES_LEN)] = length;
    Atomics.add(control, threw ? FAILED_COUNT : COMPLETED_COUNT, 1);
    Atomics.add(control, threw ? this.#failedWord : this.#completedWord, 1);
    // DONE before the push: if we die in between, the main thread still
    // finds the finished result by scanning the slots we own.
    Atomics.store(control, memory.slotWord(slot, S_STATE), DONE | this.#owner);
    memory.completions.push(slot);
  }

  /**
   * Writes `value` into the slot's `region`, or posts it if it does not fit:
   * `[kind, byteLength]`. Throws if it cannot be cloned.
   */
  #encode(
    slot: number,
    value: unknown,
    region: Uint8Array,
  ): readonly [number, number] {
    const encoded = encodeInto(value, region);
    if (encoded !== undefined) return encoded;
    // Posted before the id is pushed; the main thread waits for it.
    this.#port.postMessage(
      { type: "result", slot, value } satisfies WorkerMessage,
    );
    return BY_MESSAGE;
  }
}
