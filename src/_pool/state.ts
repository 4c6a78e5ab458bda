// The state every part of ThreadPool's engine shares, declared in one place.
// The parts (slots.ts, jobs.ts, dispatch.ts, collect.ts, reclaim.ts,
// keep_alive.ts, lifecycle.ts, stats.ts) are functions over this object;
// engine.ts builds it and wires them to the workers.
//
// The pool's life (`phase`):
//
//   open ──close()───────────────────▶ closing ──terminate()──▶ terminated
//     │                                   ▲                         ▲
//     ├──the module fails to load─────────┘ (sets `failure`)        │
//     └──terminate()────────────────────────────────────────────────┘
//
// A module that fails to load while closing sets `failure` too. Once the
// pool is not open and no worker is left, it has finished (`isFinished`):
// the completion loop ends and `finished` resolves.
//
// A slot's states in shared memory are drawn in layout.ts. On the main
// thread a slot is free (in `free`; while callers wait for room, only until
// the microtask that hands it to the oldest, see slots.ts), or holds a job
// (`jobs[slot]`, maybe settled already: an aborted job keeps its slot until
// a worker hands the id back), or was settled from a dead worker's memory
// and waits for its id to come through the completion ring (`lateIds`). An
// id in `retry` belongs to a slot holding a job whose push found no room yet.
import type { ResourceLimits } from "node:worker_threads";
import type { WorkerSet } from "../_workers/worker_set.ts";
import { PoolMemory } from "./memory.ts";
import { WaitQueue } from "./waiters.ts";

/** ThreadPool's options, checked, with their defaults applied. */
export interface PoolSettings {
  /** The job module. */
  module: URL;
  size: number;
  concurrency: number;
  queueCapacity: number;
  /** Bytes per slot, rounded up to a multiple of 8. */
  slotBytes: number;
  /** `queueCapacity + size * concurrency`. */
  slots: number;
  resourceLimits: ResourceLimits | undefined;
}

/** What `run()` accepts besides the name and arguments. */
export interface JobOptions {
  signal?: AbortSignal;
  transfer?: Transferable[];
  wait?: boolean;
}

/** The promise of a job that holds a slot. */
export interface Job {
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  settled: boolean;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** Large or transferable arguments, handed over when the worker asks. */
export interface Payload {
  args: unknown;
  transfer?: Transferable[];
}

/** Where the pool is in its life; see the drawing above. */
export type Phase = "open" | "closing" | "terminated";

/** The pool's workers: WorkerSet keeps no data of the pool's per member. */
export type PoolWorkers = WorkerSet<undefined>;

/** The engine's shared state. */
export class PoolState {
  readonly settings: PoolSettings;
  readonly memory: PoolMemory;

  // ---- slots (main thread side) ----
  /** The job of each slot in use. */
  readonly jobs: (Job | undefined)[];
  readonly free: number[] = [];
  /** Callers of `run(…, { wait: true })` waiting for a slot (waiters.ts). */
  readonly waiters = new WaitQueue();
  /** `startWaiters` is queued as a microtask (slots.ts). */
  startScheduled = false;
  readonly payloads = new Map<number, Payload>();
  /** Ids a push found no room for yet (a transient race), in order. */
  readonly retry: number[] = [];
  retryTimer: ReturnType<typeof setTimeout> | undefined;

  // ---- completions ----
  /** Results that came by message before their id came through the ring. */
  readonly resultMessages = new Map<number, unknown>();
  /** Slots whose completion came through the ring before their message. */
  readonly awaitingMessage = new Set<number>();
  /** Slots settled from a dead worker's memory whose id may still be in the completion ring. */
  readonly lateIds = new Set<number>();
  /** Timers of a second look at dead workers' slots (reclaim.ts). */
  readonly lookAgain = new Set<ReturnType<typeof setTimeout>>();

  // ---- life ----
  phase: Phase = "open";
  /** Why the module failed to load, once it did. */
  failure: Error | undefined;
  readonly ready: PromiseWithResolvers<void> = Promise.withResolvers();
  readySettled = false;
  readonly finished: PromiseWithResolvers<void> = Promise.withResolvers();
  isFinished = false;
  /** Job promises not yet settled; the workers stay ref'd while any are. */
  pending = 0;

  /** Started last: the set's constructor already calls `hooks.prepare`. */
  readonly workers: PoolWorkers;

  constructor(
    settings: PoolSettings,
    startWorkers: (state: PoolState) => PoolWorkers,
  ) {
    this.settings = settings;
    this.memory = PoolMemory.allocate(
      settings.size,
      settings.slots,
      settings.slotBytes,
    );
    this.jobs = new Array(settings.slots).fill(undefined);
    for (let slot = settings.slots - 1; slot >= 0; slot--) this.free.push(slot);
    // Nobody has to observe it for an unhandled rejection to be avoided.
    this.ready.promise.catch(() => {});
    this.workers = startWorkers(this);
  }
}
