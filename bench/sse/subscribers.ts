// The subscriber process's script and how the benchmark starts it: one
// Node process holds every stream, apart from the server and the driver.
import { LineProcess } from "./line_process.ts";
import type { SseConfig } from "./types.ts";

// The subscriber process (Node, raw sockets). Opens `count` streams in
// batches, reports {type:"ready"} once each has answered 200 and sent its
// first comment, then answers "count" on stdin with the events so far and
// "stop" with the totals, and exits.
const SUBSCRIBERS = String.raw`
import net from "node:net";
const cfg = JSON.parse(process.argv[1]);
const request = Buffer.from("GET " + cfg.path + " HTTP/1.1\r\nHost: " + cfg.host + ":" + cfg.port + "\r\nAccept: text/event-stream\r\n\r\n");
let subscribed = 0, failed = 0, ended = 0, events = 0, stopping = false;
const sockets = [];
function open() {
  return new Promise((resolve) => {
    const socket = net.connect({ host: cfg.host, port: cfg.port });
    let head = "", settled = false;
    const settle = (ok) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ok) subscribed++; else { failed++; socket.destroy(); }
      resolve();
    };
    const timer = setTimeout(() => settle(false), cfg.timeoutMs);
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk) => {
      if (!settled) {
        head += chunk.toString("latin1");
        if (head.length >= 12 && !head.startsWith("HTTP/1.1 200")) return settle(false);
        if (head.includes(": subscribed")) settle(true);
      }
      for (let at = chunk.indexOf("data: "); at !== -1; at = chunk.indexOf("data: ", at + 6)) events++;
    });
    socket.on("error", () => settle(false));
    socket.on("close", () => { if (settled && !stopping) ended++; settle(false); });
    sockets.push(socket);
  });
}
// Batches start spread over rampMs (one event interval), so the streams'
// events are spread over each second as independent clients' would be.
const started = performance.now();
const batches = [];
for (let i = 0, b = 0; i < cfg.count; i += cfg.batch, b++) {
  const size = Math.min(cfg.batch, cfg.count - i);
  const due = started + (b * cfg.batch * cfg.rampMs) / cfg.count;
  await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
  batches.push(Promise.all(Array.from({ length: size }, open)));
}
await Promise.all(batches);
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
say({ type: "ready", subscribed, failed, connectMs: Math.round(performance.now() - started) });
let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (data) => {
  pending += data;
  for (let nl = pending.indexOf("\n"); nl !== -1; nl = pending.indexOf("\n")) {
    const command = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    if (command === "count") say({ type: "count", events, ended, at: performance.now() });
    if (command === "stop") {
      stopping = true;
      say({ type: "done", subscribed, failed, ended, events });
      for (const socket of sockets) socket.destroy();
      process.exit(0);
    }
  }
});
process.stdin.on("end", () => process.exit(0));
`;

/** Starts the subscriber process against `port`; it reports when ready. */
export function startSubscribers(port: number, config: SseConfig): LineProcess {
  return new LineProcess("node", [
    "--input-type=module",
    "-e",
    SUBSCRIBERS,
    JSON.stringify({
      host: "127.0.0.1",
      port,
      path: `/events?every=${config.eventEveryMs}`,
      count: config.subscribers,
      batch: 25,
      rampMs: config.rampMs,
      timeoutMs: 10_000,
    }),
  ]);
}
