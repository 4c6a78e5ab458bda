// The slow load of a floor measurement, in a process of its own: the same
// integer loop (handlers/work.mjs), the same iteration count and the same
// schedule as the shape's /slow requests, but no server involved, so what
// it costs /fast is only the CPU contention on the shared cores.
//
//   deno run -A bench/_burn.ts '{"iters":N,"rate":R,"burst":B,"durationMs":D,"threads":T}'
//
// Job i is due at start + floor(i / B) / R seconds and runs on the first of
// T worker threads that is free (jobs queue when all are busy, as requests
// queue for a server's workers). Prints "ready" once the threads are up,
// then one JSON line when every job is done (or 2 s after the schedule).
import { Worker } from "node:worker_threads";

const config = JSON.parse(Deno.args[0] ?? "{}") as {
  iters: number;
  rate: number;
  burst?: number;
  durationMs: number;
  threads?: number;
};
const burst = config.burst ?? 1;
const interval = 1000 / config.rate;
const jobs = Math.max(1, Math.floor(config.rate * config.durationMs / 1000)) *
  burst;
const threads = Array.from(
  { length: config.threads ?? 1 },
  () => new Worker(new URL("./_burn_worker.ts", import.meta.url)),
);
await Promise.all(
  threads.map((w) => new Promise((resolve) => w.once("online", resolve))),
);

const idle = [...threads];
const queue: number[] = [];
const late: number[] = [];
let done = 0;
let next = 0;
const start = performance.now();

function run(worker: Worker, due: number): void {
  late.push(performance.now() - due);
  worker.postMessage(config.iters);
}
for (const worker of threads) {
  worker.on("message", () => {
    done++;
    const due = queue.shift();
    if (due === undefined) idle.push(worker);
    else run(worker, due);
  });
}

console.log("ready");
await new Promise<void>((resolve) => {
  const tick = () => {
    const t = performance.now();
    while (next < jobs && start + Math.floor(next / burst) * interval <= t) {
      const due = start + Math.floor(next / burst) * interval;
      const worker = idle.shift();
      if (worker === undefined) queue.push(due);
      else run(worker, due);
      next++;
    }
    if (next >= jobs) return resolve();
    const due = start + Math.floor(next / burst) * interval;
    setTimeout(tick, Math.max(0, due - performance.now()));
  };
  tick();
});
const deadline = performance.now() + 2000;
while (done < jobs && performance.now() < deadline) {
  await new Promise((r) => setTimeout(r, 5));
}
late.sort((a, b) => a - b);
console.log(JSON.stringify({
  jobs,
  done,
  elapsedMs: Math.round(performance.now() - start),
  startLateP99Ms: Math.round((late[Math.floor(late.length * 0.99)] ?? 0) * 10) /
    10,
}));
Deno.exit(0);
