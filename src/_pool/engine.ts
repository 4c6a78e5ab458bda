// ThreadPool's engine, the composition root: it builds the shared state,
// starts the workers through a WorkerSet whose hooks are the pool's own
// policy (reset a position's counters, reclaim a dead worker's slots,
// replace it unless the pool is done, fail on a module that does not load),
// runs the completion loop, and hands each call to the part that does it.
import { WorkerSet, type WorkerSetHooks } from "../_workers/worker_set.ts";
import { collectLoop, onResultMessage } from "./collect.ts";
import { run, sendPayload } from "./dispatch.ts";
import {
  type PoolWorkerData,
  W_COMPLETED,
  W_FAILED,
  W_ID,
  type WorkerMessage,
  workerWord,
} from "./layout.ts";
import {
  close,
  fail,
  finishIfDone,
  loadError,
  markReady,
  terminate,
} from "./lifecycle.ts";
import { reclaim } from "./reclaim.ts";
import { type PoolCounters, readCounters } from "./stats.ts";
import {
  type JobOptions,
  type PoolSettings,
  PoolState,
  type PoolWorkers,
} from "./state.ts";

// WorkerSet starts it through spawnWorker(), which wraps it in a data:
// module when this package is imported over http(s), as from JSR.
const WORKER_URL = new URL("./worker.ts", import.meta.url);

/** A running pool: what ThreadPool's methods delegate to. */
export class PoolEngine {
  readonly #state: PoolState;

  constructor(settings: PoolSettings) {
    const state = new PoolState(settings, startWorkers);
    this.#state = state;
    state.workers.ready.then(() => markReady(state), () => {
      // A load failure already failed the pool (see onLoadFailure).
    });
    void collectLoop(state);
  }

  get size(): number {
    return this.#state.settings.size;
  }

  get ready(): Promise<void> {
    return this.#state.ready.promise;
  }

  run(
    name: string,
    args: readonly unknown[],
    options: JobOptions,
  ): Promise<unknown> {
    return run(this.#state, name, args, options);
  }

  stats(): PoolCounters {
    return readCounters(this.#state);
  }

  close(): Promise<void> {
    return close(this.#state);
  }

  terminate(): Promise<void> {
    return terminate(this.#state);
  }
}

function startWorkers(state: PoolState): PoolWorkers {
  const { settings } = state;
  return new WorkerSet({
    url: WORKER_URL,
    // Shown in Deno's report of an uncaught error in a worker.
    name: "ringpool ThreadPool worker",
    size: settings.size,
    resourceLimits: settings.resourceLimits,
    hooks: poolHooks(state),
  });
}

function poolHooks(state: PoolState): WorkerSetHooks<undefined> {
  const { memory, settings } = state;
  const workerData: PoolWorkerData = {
    ...memory.buffers(),
    module: settings.module.href,
    concurrency: settings.concurrency,
  };
  return {
    prepare(index, id) {
      const control = memory.control;
      Atomics.store(control, workerWord(index, W_COMPLETED), 0);
      Atomics.store(control, workerWord(index, W_FAILED), 0);
      Atomics.store(control, workerWord(index, W_ID), id);
      return { workerData, data: undefined };
    },
    onMessage(member, data) {
      const message = data as WorkerMessage;
      if (message.type === "need") sendPayload(state, member, message.slot);
      else if (message.type === "result") {
        onResultMessage(state, message.slot, message.value);
      }
    },
    reclaim: (member, code) => reclaim(state, member, code),
    // Whether that was the last worker is known once the set has decided
    // on a replacement.
    exited: () => finishIfDone(state),
    // Replace it unless the pool is done with workers: a closing pool still
    // has jobs to run until its ring is drained.
    shouldReplace: () =>
      state.failure === undefined && state.phase !== "terminated" &&
      !(memory.jobs.closed && memory.jobs.length === 0),
    loadError: (failure) => loadError(settings.module, failure),
    // Any load failure fails the whole pool (during start-up, or for a
    // replacement after it): every job rejects.
    onLoadFailure(_member, error) {
      fail(state, error);
      return "stop";
    },
  };
}
