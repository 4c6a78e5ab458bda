// The WebSocket echo client of bench/ws.ts, run by Node as its own process:
// `node bench/ws/client.mjs '<json config>'`. It prints JSON lines:
//   {type:"open", ...}    every socket has opened (or failed to)
//   {type:"start"}        the measured window begins (after the warm-up)
//   {type:"stop"}         it ends; no new message is sent after this
//   {type:"result", ...}  the figures, after the in-flight echoes came back
// and exits.
//
// Each socket is a closed loop: send one message, wait for its echo, check
// it byte for byte, send the next. Throughput counts the echoes that arrive
// inside the window; round trips count the messages sent inside it.
//
// Config: { url, modulesDir, sockets, kind: "text" | "binary", bytes,
//   warmupMs, seconds, maxMessages, openTimeoutMs, drainMs }
// `maxMessages` ends the window early once that many echoes arrived in it.
//
// Why Node and `ws`: a widely used client nobody here wrote, run outside the
// server's process. Its cost is kept low: no permessage-deflate (Deno
// declines it anyway), no UTF-8 validation (every echo is compared with what
// was sent), and an all-zero mask, which RFC 6455 allows and which lets `ws`
// skip masking 64 KiB in JavaScript — a client-side cost that would make
// the client, not the server, the bottleneck of the large shape.
import { createRequire } from "node:module";
import process from "node:process";

const cfg = JSON.parse(process.argv[2]);
const WebSocket = createRequire(`${cfg.modulesDir}/package.json`)("ws");
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const zeroMask = (mask) => mask.fill(0);
const PAD = ".".repeat(cfg.bytes);

let phase = "warmup"; // -> "measure" -> "drain"
let windowStart = 0;
let windowEnd = 0;
let echoed = 0; // echoes that arrived inside the window
let mismatched = 0;
let closedEarly = 0;
let errors = 0;
let cpuStart = process.cpuUsage();
const rtts = [];

/** One socket's closed loop. */
class Loop {
  constructor(id) {
    this.id = id;
    this.seq = 0;
    this.sentAt = -1; // -1: nothing in flight
    this.inWindow = 0;
    this.expected = cfg.kind === "binary"
      ? Buffer.alloc(cfg.bytes, 0x41 + (id % 26))
      : "";
    this.ws = new WebSocket(cfg.url, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      generateMask: zeroMask,
      maxPayload: cfg.bytes * 2,
    });
    this.isOpen = false;
    this.opened = new Promise((resolve) => {
      this.ws.once("open", () => resolve(this.isOpen = true));
      this.ws.once("error", () => resolve(false));
    });
    this.closed = new Promise((resolve) => this.ws.once("close", resolve));
    // A socket that never opened counts once, as openFailed.
    this.ws.on("error", () => {
      if (this.isOpen) errors++;
    });
    this.ws.on("close", () => {
      if (this.isOpen && phase !== "closing") closedEarly++;
    });
    this.ws.on("message", (data, isBinary) => this.#onEcho(data, isBinary));
  }

  send() {
    if (phase === "drain" || phase === "closing") return;
    this.seq++;
    if (cfg.kind === "binary") {
      // The template is ours again: the previous echo is back. `ws` sends a
      // Buffer as is (zero mask), so it is not changed under us.
      this.expected.writeUInt32LE(this.seq, 0);
      this.expected.writeUInt32LE(this.id, 4);
    } else {
      const head = `${this.id}:${this.seq}:`;
      this.expected = head + PAD.slice(head.length);
    }
    this.sentAt = performance.now();
    this.ws.send(this.expected, { binary: cfg.kind === "binary" });
  }

  #onEcho(data, isBinary) {
    const now = performance.now();
    const ok = this.sentAt >= 0 && isBinary === (cfg.kind === "binary") &&
      data.length === cfg.bytes &&
      (isBinary
        ? data.equals(this.expected)
        : data.toString("latin1") === this.expected);
    if (!ok) mismatched++;
    if (phase === "measure") {
      echoed++;
      this.inWindow++;
      if (this.sentAt >= windowStart) rtts.push(now - this.sentAt);
      if (echoed >= cfg.maxMessages) stop();
    }
    this.sentAt = -1;
    this.send();
  }
}

function stop() {
  if (phase !== "measure") return;
  windowEnd = performance.now();
  phase = "drain";
  say({ type: "stop" });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length - 1e-9);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

const round = (x) => x === null ? null : Math.round(x * 1000) / 1000;

async function within(promise, ms) {
  let timer;
  const late = new Promise((r) => timer = setTimeout(() => r("late"), ms));
  const outcome = await Promise.race([promise, late]);
  clearTimeout(timer);
  return outcome;
}

const openStart = performance.now();
const loops = Array.from({ length: cfg.sockets }, (_, id) => new Loop(id));
const opened = await within(
  Promise.all(loops.map((l) => l.opened)),
  cfg.openTimeoutMs,
);
const open = opened === "late" ? [] : loops.filter((_, i) => opened[i]);
say({
  type: "open",
  opened: open.length,
  failed: cfg.sockets - open.length,
  openMs: Math.round(performance.now() - openStart),
});

for (const loop of open) loop.send();
await new Promise((r) => setTimeout(r, cfg.warmupMs));
phase = "measure";
windowStart = performance.now();
cpuStart = process.cpuUsage();
say({ type: "start" });
const timer = setTimeout(stop, cfg.seconds * 1000);
while (phase === "measure") await new Promise((r) => setTimeout(r, 20));
clearTimeout(timer);
const cpu = process.cpuUsage(cpuStart);

// Let the messages in flight at the stop come back: one still missing after
// drainMs is a stalled socket.
const drainUntil = performance.now() + cfg.drainMs;
while (
  open.some((l) => l.sentAt >= 0) && performance.now() < drainUntil
) await new Promise((r) => setTimeout(r, 5));
const unanswered = open.filter((l) => l.sentAt >= 0).length;
phase = "closing";
for (const loop of loops) loop.ws.close(1000, "done");
await within(Promise.all(loops.map((l) => l.closed)), 2000);

rtts.sort((a, b) => a - b);
const perSocket = open.map((l) => l.inWindow).sort((a, b) => a - b);
const seconds = (windowEnd - windowStart) / 1000;
say({
  type: "result",
  opened: open.length,
  openFailed: cfg.sockets - open.length,
  echoed,
  seconds: round(seconds),
  messagesPerS: Math.round(echoed / seconds),
  rttMs: {
    p50: round(percentile(rtts, 50)),
    p99: round(percentile(rtts, 99)),
    max: round(rtts.at(-1) ?? null),
  },
  perSocket: { min: perSocket[0] ?? 0, max: perSocket.at(-1) ?? 0 },
  mismatched,
  unanswered,
  closedEarly,
  errors,
  clientCpuCores: round((cpu.user + cpu.system) / 1000 / 1e3 / seconds),
});
process.exit(0);
