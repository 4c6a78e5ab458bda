// One thread of bench/_burn.ts: runs the integer loop for each job it is sent.
import { parentPort } from "node:worker_threads";
import { spin } from "./handlers/work.mjs";

parentPort!.on("message", (iters: number) => {
  spin(iters);
  parentPort!.postMessage(0);
});
