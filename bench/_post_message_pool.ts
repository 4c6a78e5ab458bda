// The baseline for bench/pool.ts: the smallest useful postMessage pool.
// Each job is one message to a worker (round robin) and one message back.
import { Worker } from "node:worker_threads";

const WORKER_SOURCE = `
import { parentPort, workerData } from "node:worker_threads";
const jobs = await import(workerData.module);
parentPort.on("message", ({ id, name, args }) => {
  try {
    parentPort.postMessage({ id, ok: true, value: jobs[name](...args) });
  } catch (error) {
    parentPort.postMessage({ id, ok: false, value: error });
  }
});
parentPort.postMessage({ ready: true });
`;

/** A minimal round-robin pool over `postMessage`, for comparison only. */
export class PostMessagePool {
  #workers: Worker[] = [];
  #next = 0;
  #id = 0;
  #pending = new Map<
    number,
    { resolve(value: unknown): void; reject(error: unknown): void }
  >();
  readonly ready: Promise<void>;

  constructor(module: URL, size: number) {
    const url = new URL(
      `data:text/javascript,${encodeURIComponent(WORKER_SOURCE)}`,
    );
    const ready: Promise<void>[] = [];
    for (let i = 0; i < size; i++) {
      const worker = new Worker(url, { workerData: { module: module.href } });
      ready.push(
        new Promise((resolve) => {
          worker.on("message", (message) => {
            if (message.ready) return resolve();
            const job = this.#pending.get(message.id)!;
            this.#pending.delete(message.id);
            if (message.ok) job.resolve(message.value);
            else job.reject(message.value);
          });
        }),
      );
      this.#workers.push(worker);
    }
    this.ready = Promise.all(ready).then(() => {});
  }

  run<T>(name: string, args: unknown[]): Promise<T> {
    const id = this.#id++;
    const worker = this.#workers[this.#next++ % this.#workers.length]!;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, {
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      worker.postMessage({ id, name, args });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
  }
}
