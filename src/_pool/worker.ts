// The worker entry of ThreadPool: wrap the pool's shared memory, load the
// job module, report to the WorkerSet whether it loaded, then run jobs
// (worker_loop.ts, worker_jobs.ts) until the job ring is closed and drained.
import process from "node:process";
import { setTimeout as setNodeTimeout } from "node:timers";
import { parentPort, workerData } from "node:worker_threads";
import {
  reportLoadError,
  reportReady,
  supervisionData,
} from "../_workers/child.ts";
import { type PoolWorkerData, S_TAKER, SLOT_STRIDE } from "./layout.ts";
import { PoolMemory } from "./memory.ts";
import { JobRunner, PayloadRequests } from "./worker_jobs.ts";
import { WorkerLoop } from "./worker_loop.ts";

// How long a drained worker waits for open handles before it exits anyway.
const EXIT_GRACE_MS = 200;

async function main(): Promise<void> {
  const config = workerData as PoolWorkerData;
  const port = parentPort!;
  const payloads = new PayloadRequests(port);
  port.on("message", payloads.onMessage);
  let module: Record<string, unknown>;
  try {
    module = await import(config.module);
  } catch (error) {
    reportLoadError(error);
    // Nothing keeps us alive now; the main thread terminates us anyway.
    port.off("message", payloads.onMessage);
    return;
  }
  const memory = PoolMemory.from(config);
  const { index, id } = supervisionData();
  const taker = {
    words: memory.control,
    base: memory.slotWord(0, S_TAKER),
    stride: SLOT_STRIDE,
    id,
  };
  const loop = new WorkerLoop(memory.jobs, config.concurrency, () => {
    // Exit once the event loop is empty, so messages already posted are
    // delivered; but if the job module left timers or sockets open, force
    // the exit a little later, because close() joins us.
    port.off("message", payloads.onMessage);
    setNodeTimeout(() => process.exit(0), EXIT_GRACE_MS).unref();
  }, taker);
  reportReady();
  loop.start(new JobRunner(port, module, payloads, loop, memory, index, id));
}

await main();
