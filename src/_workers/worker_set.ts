// The one worker supervisor, shared by ThreadPool and serve(): it starts
// workers, learns whether each loaded its module, and when one exits lets
// the engine reclaim what it held before it starts a replacement. Joining
// at shutdown and terminating stragglers live here too.
//
// A member's life (state names as in the code):
//
//   starting ──"ready" / LOADED word──▶ ready ──exit──▶ exited
//       │                                  │
//       └──"load-error" or exit─────▶ exited (a load failure)
//
// After every exit: hooks.reclaim(member) first, then the replace policy,
// then hooks.exited. A member that had loaded is replaced at once if
// hooks.shouldReplace says so; one that never loaded is a load failure:
// during start-up it rejects `ready`; hooks.onLoadFailure then decides
// whether to try again (after RETRY_MS, so a module that no longer loads
// does not spin up thread after thread).
import type { ResourceLimits, Worker } from "node:worker_threads";
import { fromWireError, isWireError } from "../_common/wire_error.ts";
import { spawnWorker } from "./live.ts";
import {
  HEAP_MIB,
  LOADED,
  RETIRE,
  STRIDE,
  supervisionBytes,
  type SupervisionData,
  type SupervisionMessage,
} from "./supervision.ts";

/** How long a position waits before a worker that failed to load is retried. */
export const RETRY_MS = 1000;

/** Where a member is in its life; see the drawing above. */
export type MemberState = "starting" | "ready" | "exited";

/** Why a worker did not load: its module threw, or it exited first. */
export interface LoadFailure {
  /** The module's own error, if it threw while loading. */
  error?: Error;
  /** The exit code, if the worker exited before loading. */
  exitCode?: number;
  /** What the worker reported before exiting (an uncaught error), if anything. */
  cause?: unknown;
}

/** One worker thread of a {@linkcode WorkerSet}, with the engine's data for it. */
export interface Member<T> {
  /** Position in the set (0-based); a replacement takes the same one. */
  readonly index: number;
  /** Unique per started worker within the set (1-based). */
  readonly id: number;
  readonly worker: Worker;
  /** What the engine keeps on the main thread for this worker. */
  readonly data: T;
  state: MemberState;
  /** Told to terminate; engines stop giving it work. */
  stopping: boolean;
  /** The last error the worker reported (an uncaught exception). */
  error: unknown;
  /** Resolves with the exit code once the thread has ended. */
  readonly exited: Promise<number>;
  /** Resolves once it loaded its module; rejects if it failed to. */
  readonly ready: Promise<void>;
}

/** What an engine plugs into its {@linkcode WorkerSet}. */
export interface WorkerSetHooks<T> {
  /** The engine's part of `workerData` for a new worker, and its own data for it. */
  prepare(index: number, id: number): { workerData: object; data: T };
  /** The thread of a new member exists (its module is still loading). */
  started?(member: Member<T>): void;
  /** Any message other than the supervision ones. */
  onMessage(member: Member<T>, message: unknown): void;
  /** A member exited: give back what it held. Runs before any replacement. */
  reclaim(member: Member<T>, code: number): void;
  /** Whether an exited member that had loaded gets a replacement. */
  shouldReplace(member: Member<T>, code: number): boolean;
  /** Builds the error that reports a load failure (and rejects `ready` during start-up). */
  loadError(failure: LoadFailure, member: Member<T>): Error;
  /**
   * A worker failed to load: `"retry"` starts another at the same position
   * after {@linkcode RETRY_MS}, `"stop"` leaves it empty. Called for every
   * load failure; `starting` is true while `ready` has not settled (it has
   * just been rejected with `error`).
   */
  onLoadFailure(
    member: Member<T>,
    error: Error,
    starting: boolean,
  ): "retry" | "stop";
  /** After every exit, once the replacement (if any) has started. */
  exited?(member: Member<T>, replaced: boolean): void;
}

/** Options of a {@linkcode WorkerSet}. */
export interface WorkerSetOptions<T> {
  /** The worker entry module. */
  url: URL;
  /** Thread name prefix, shown in Deno's report of an uncaught error. */
  name: string;
  /** Members started at once, at positions 0 to size - 1. */
  size: number;
  /** Positions there may ever be at once (at least `size`). */
  capacity?: number;
  resourceLimits?: ResourceLimits;
  hooks: WorkerSetHooks<T>;
}

/** Starts, supervises, replaces and joins a set of worker threads. */
export class WorkerSet<T> {
  readonly #options: WorkerSetOptions<T>;
  readonly #supervision: Int32Array;
  readonly #members: (Member<T> | undefined)[];
  readonly #retries = new Set<ReturnType<typeof setTimeout>>();
  readonly #ready = Promise.withResolvers<void>();
  readonly #loaded = new Map<Member<T>, PromiseWithResolvers<void>>();
  #readySettled = false;
  #nextId = 0;
  #closed = false;
  #refd = true;

  constructor(options: WorkerSetOptions<T>) {
    this.#options = options;
    const capacity = Math.max(options.capacity ?? options.size, options.size);
    this.#supervision = new Int32Array(
      new SharedArrayBuffer(supervisionBytes(capacity)),
    );
    this.#members = new Array(capacity).fill(undefined);
    // Nobody has to observe it for a rejection to be handled.
    this.#ready.promise.catch(() => {});
    for (let index = 0; index < options.size; index++) this.#spawn(index);
    if (options.size === 0) this.#settleReady();
  }

  /** Resolves once every first member has loaded; rejects on the first load failure. */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** Whether start-up is over (`ready` settled). */
  get started(): boolean {
    return this.#readySettled;
  }

  /** Whether {@linkcode WorkerSet.close} was called: no more replacements. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The member at `index`, if one is there. */
  at(index: number): Member<T> | undefined {
    return this.#members[index];
  }

  /** The live member whose id is `id`: none once that thread has exited. */
  byId(id: number): Member<T> | undefined {
    for (const member of this.#members) {
      if (member?.id === id && member.state !== "exited") return member;
    }
    return undefined;
  }

  /** Every current member, by position. */
  members(): Member<T>[] {
    return this.#members.filter((member) => member !== undefined);
  }

  /** Members whose thread has not ended. */
  get alive(): number {
    let count = 0;
    for (const member of this.#members) {
      if (member !== undefined && member.state !== "exited") count++;
    }
    return count;
  }

  /**
   * Starts one more member at the lowest free position (a rolling reload's
   * new worker, an adaptive pool growing); its `ready` says whether it loaded.
   *
   * @throws {RangeError} If every position up to the capacity is taken.
   */
  add(): Member<T> {
    if (this.#closed) {
      throw new Error("Cannot start another worker as the set is closed");
    }
    const index = this.#members.indexOf(undefined);
    if (index === -1) {
      throw new RangeError(
        `Cannot start another worker as all ${this.#members.length} positions are taken`,
      );
    }
    return this.#spawn(index);
  }

  /** Whether the member at its position has loaded its module. */
  loaded(member: Member<T>): boolean {
    return member.state === "ready" ||
      Atomics.load(this.#supervision, member.index * STRIDE + LOADED) ===
        member.id;
  }

  /** The member's V8 heap in use, in MiB, as it last stored it. */
  heapMiB(member: Member<T>): number {
    return Atomics.load(this.#supervision, member.index * STRIDE + HEAP_MIB);
  }

  /** Whether the member was asked to retire. */
  retiring(member: Member<T>): boolean {
    return Atomics.load(this.#supervision, member.index * STRIDE + RETIRE) ===
      1;
  }

  /**
   * Asks the member to take no new work, finish what it has and exit (the
   * engine wakes it so it sees the word); it is not replaced.
   */
  retire(member: Member<T>): void {
    member.stopping = true;
    Atomics.store(this.#supervision, member.index * STRIDE + RETIRE, 1);
  }

  /** Terminates one member; its exit is handled like any other. */
  terminate(member: Member<T>): void {
    member.stopping = true;
    void member.worker.terminate();
  }

  /** No replacements from now on; pending retries are dropped. */
  close(): void {
    this.#closed = true;
    for (const retry of this.#retries) clearTimeout(retry);
    this.#retries.clear();
  }

  /** Closes the set and terminates every member; resolves once all have exited. */
  async terminateAll(): Promise<void> {
    this.close();
    const members = this.members();
    for (const member of members) this.terminate(member);
    await Promise.all(members.map((member) => member.exited));
  }

  /**
   * Closes the set and waits for every member to exit by itself,
   * terminating any still alive after `graceMs`; `onJoined` is called as
   * each is joined.
   */
  async join(
    graceMs: number,
    onJoined?: (member: Member<T>) => void,
  ): Promise<void> {
    this.close();
    await Promise.all(
      this.members().map(async (member) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<"late">((resolve) => {
          timer = setTimeout(() => resolve("late"), graceMs);
        });
        if (await Promise.race([member.exited, late]) === "late") {
          this.terminate(member);
          await member.exited;
        }
        clearTimeout(timer);
        onJoined?.(member);
      }),
    );
  }

  /**
   * Keeps the process alive through the workers (ref) or not (unref).
   * `Atomics.waitAsync` alone does not keep Deno's event loop alive.
   */
  setRef(ref: boolean): void {
    if (ref === this.#refd) return;
    this.#refd = ref;
    for (const member of this.#members) {
      if (member === undefined || member.state === "exited") continue;
      if (ref) member.worker.ref();
      else member.worker.unref();
    }
  }

  #spawn(index: number): Member<T> {
    const id = ++this.#nextId;
    const { hooks } = this.#options;
    Atomics.store(this.#supervision, index * STRIDE + LOADED, 0);
    Atomics.store(this.#supervision, index * STRIDE + HEAP_MIB, 0);
    Atomics.store(this.#supervision, index * STRIDE + RETIRE, 0);
    const prepared = hooks.prepare(index, id);
    const supervision: SupervisionData = {
      supervision: this.#supervision.buffer as SharedArrayBuffer,
      index,
      id,
    };
    const worker = spawnWorker(this.#options.url, {
      workerData: { ...prepared.workerData, ...supervision },
      resourceLimits: this.#options.resourceLimits,
      name: `${this.#options.name} ${id}`,
    });
    let resolveExited!: (code: number) => void;
    const loaded = Promise.withResolvers<void>();
    // Nobody has to observe it for a rejection to be handled.
    loaded.promise.catch(() => {});
    const member: Member<T> = {
      index,
      id,
      worker,
      data: prepared.data,
      state: "starting",
      stopping: false,
      error: undefined,
      exited: new Promise((resolve) => resolveExited = resolve),
      ready: loaded.promise,
    };
    this.#loaded.set(member, loaded);
    let failure: LoadFailure | undefined;
    this.#members[index] = member;
    hooks.started?.(member);
    worker.on("message", (message: SupervisionMessage | { type?: unknown }) => {
      if (message?.type === "ready") {
        member.state = "ready";
        loaded.resolve();
        this.#settleReady();
      } else if (message?.type === "load-error") {
        const { error } = message as { error: unknown };
        failure = {
          error: isWireError(error) ? fromWireError(error) : new Error(
            String(error),
          ),
        };
        // Reported now, not at its exit: timers the module started before
        // it threw may keep the thread alive.
        this.#loadFailed(member, failure);
        this.terminate(member);
      } else hooks.onMessage(member, message);
    });
    // An uncaught error is reported here, then "exit" follows.
    worker.on("error", (error: unknown) => member.error = error);
    // Deno 2.9 emits "exit" synchronously inside worker.terminate(): the
    // hooks below may run within a call of terminate() or terminateAll().
    worker.once("exit", (code: number) => {
      const loaded = this.loaded(member);
      member.state = "exited";
      hooks.reclaim(member, code);
      if (this.#members[index] === member) this.#members[index] = undefined;
      let replaced = false;
      if (loaded) {
        if (!this.#closed && hooks.shouldReplace(member, code)) {
          this.#spawn(index);
          replaced = true;
        }
      } else if (failure === undefined) {
        this.#loadFailed(member, { exitCode: code, cause: member.error });
      }
      hooks.exited?.(member, replaced);
      this.#loaded.delete(member);
      resolveExited(code);
    });
    if (!this.#refd) worker.unref();
    return member;
  }

  #settleReady(): void {
    if (this.#readySettled) return;
    for (let index = 0; index < this.#options.size; index++) {
      if (this.#members[index]?.state !== "ready") return;
    }
    this.#readySettled = true;
    this.#ready.resolve();
  }

  #loadFailed(member: Member<T>, failure: LoadFailure): void {
    const { hooks } = this.#options;
    const error = hooks.loadError(failure, member);
    this.#loaded.get(member)?.reject(error);
    const starting = !this.#readySettled;
    if (starting) {
      this.#readySettled = true;
      this.#ready.reject(error);
    }
    if (hooks.onLoadFailure(member, error, starting) === "stop") return;
    if (this.#closed) return;
    const retry = setTimeout(() => {
      this.#retries.delete(retry);
      if (!this.#closed && this.#members[member.index] === undefined) {
        this.#spawn(member.index);
      }
    }, RETRY_MS);
    this.#retries.add(retry);
  }
}
