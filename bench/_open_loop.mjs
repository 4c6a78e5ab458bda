// Open-loop (constant-rate) HTTP/1.1 load driver, run by Node as its own
// process: `node bench/_open_loop.mjs '<json config>'`; prints one JSON line.
//
// Why open loop: a closed-loop client (wrk, hey) waits for a response before
// sending the next request on a connection, so when the server stalls it
// also stops sending, and the stall is recorded once instead of for every
// request that should have been sent meanwhile ("coordinated omission").
// Here each request has an intended send time on a fixed schedule
// (start + i / rate) and its latency is measured from that time, whether it
// was sent on time, waited for a free connection, or is still unanswered
// when the run ends (then it counts with the time it has waited so far;
// so does a request that failed, with a socket error or a non-2xx status).
//
// Why Node and raw sockets: Node's timers fire ~1.1 ms apart here against
// Deno's ~2.1 ms, and a hand-written HTTP/1.1 client costs the shared CPU
// less than a full client. The driver's own timer lateness is reported
// (`timerLag`) so it can be told apart from the server's latency.
import net from "node:net";

const config = JSON.parse(process.argv[2] ?? "{}");
const host = config.host ?? "127.0.0.1";
const port = config.port;
const durationMs = config.durationMs ?? 2000;
const drainMs = config.drainMs ?? 2000;
const now = () => performance.now();
const CRLFCRLF = Buffer.from("\r\n\r\n");

class Stream {
  constructor(spec) {
    this.name = spec.name;
    this.request = Buffer.from(
      `GET ${spec.path} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`,
    );
    this.interval = 1000 / spec.rate;
    this.count = Math.max(1, Math.floor((spec.rate * durationMs) / 1000));
    this.maxConns = spec.maxConns ?? 128;
    this.preconnect = Math.min(spec.preconnect ?? 4, this.maxConns);
    this.next = 0;
    this.done = 0;
    this.errors = 0;
    this.non2xx = 0;
    this.conns = new Set();
    this.idle = [];
    this.queue = [];
    this.latency = new Float64Array(this.count).fill(NaN);
    this.service = new Float64Array(this.count).fill(NaN);
    this.timerLag = new Float64Array(this.count).fill(NaN);
    // 1 where the request failed (socket error or non-2xx status).
    this.failed = new Uint8Array(this.count);
  }
}

class Conn {
  constructor(stream) {
    this.stream = stream;
    this.job = null; // { index, intended, sent }
    this.buf = Buffer.alloc(0);
    this.socket = net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.ready = new Promise((resolve) => this.socket.once("connect", resolve));
    this.socket.on("data", (d) => this.onData(d));
    this.socket.on("error", () => {});
    this.socket.on("close", () => this.onClose());
    stream.conns.add(this);
  }

  send(job) {
    this.job = job;
    this.ready.then(() => {
      job.sent = now();
      this.socket.write(this.stream.request);
    });
  }

  onData(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.job !== null) {
      const used = parseResponse(this.buf);
      if (used === 0) return;
      const { status, length } = used;
      this.buf = this.buf.subarray(length);
      finish(this, status >= 200 && status < 300);
    }
  }

  onClose() {
    this.stream.conns.delete(this);
    const i = this.stream.idle.indexOf(this);
    if (i >= 0) this.stream.idle.splice(i, 1);
    if (this.job !== null) {
      const { stream } = this;
      stream.errors++;
      stream.done++;
      stream.failed[this.job.index] = 1;
      this.job = null;
      // Someone waiting for a connection gets a new one.
      if (stream.queue.length && !finished) {
        new Conn(stream).send(stream.queue.shift());
      }
    }
  }
}

// Returns 0 while the response is incomplete, else its status and length.
function parseResponse(buf) {
  const headEnd = buf.indexOf(CRLFCRLF);
  if (headEnd < 0) return 0;
  const head = buf.toString("latin1", 0, headEnd);
  const status = Number(head.slice(9, 12));
  const bodyStart = headEnd + 4;
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (cl) {
    const end = bodyStart + Number(cl[1]);
    return buf.length >= end ? { status, length: end } : 0;
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    let at = bodyStart;
    for (;;) {
      const lineEnd = buf.indexOf("\r\n", at);
      if (lineEnd < 0) return 0;
      const size = parseInt(buf.toString("latin1", at, lineEnd), 16);
      if (size === 0) {
        // Last chunk: no trailers are expected, just the final CRLF.
        return buf.length >= lineEnd + 4 ? { status, length: lineEnd + 4 } : 0;
      }
      at = lineEnd + 2 + size + 2;
      if (buf.length < at) return 0;
    }
  }
  // No length at all: only valid for bodiless statuses.
  return { status, length: bodyStart };
}

function finish(conn, ok) {
  const { stream, job } = conn;
  const t = now();
  stream.service[job.index] = t - job.sent;
  if (ok) {
    stream.latency[job.index] = t - job.intended;
  } else {
    stream.non2xx++;
    stream.failed[job.index] = 1;
  }
  stream.done++;
  conn.job = null;
  const waiting = stream.queue.shift();
  if (waiting !== undefined && !finished) conn.send(waiting);
  else stream.idle.push(conn);
}

function dispatch(stream, index, intended) {
  const job = { index, intended, sent: NaN };
  stream.timerLag[index] = now() - intended;
  const conn = stream.idle.pop();
  if (conn !== undefined) conn.send(job);
  else if (stream.conns.size < stream.maxConns) new Conn(stream).send(job);
  else stream.queue.push(job);
}

function summary(values) {
  const v = Array.from(values).filter((x) => !Number.isNaN(x)).sort((a, b) =>
    a - b
  );
  const pct = (p) =>
    // The epsilon keeps 99.9% of 1000 at rank 999 (0.999 * 1000 > 999 in floats).
    v.length
      ? v[
        Math.min(
          v.length - 1,
          Math.max(0, Math.ceil((p / 100) * v.length - 1e-9) - 1),
        )
      ]
      : null;
  const r = (x) => x === null ? null : Math.round(x * 1000) / 1000;
  return {
    n: v.length,
    p50: r(pct(50)),
    p90: r(pct(90)),
    p99: r(pct(99)),
    p999: r(pct(99.9)),
    max: r(v.length ? v[v.length - 1] : null),
  };
}

let finished = false;
const streams = config.streams.map((spec) => new Stream(spec));

// Open a few connections up front so connection setup is not measured as
// latency at the start of the run.
await Promise.all(
  streams.flatMap((s) =>
    Array.from({ length: s.preconnect }, () => {
      const c = new Conn(s);
      return c.ready.then(() => s.idle.push(c));
    })
  ),
);

const start = now();
await new Promise((resolve) => {
  const tick = () => {
    const t = now();
    let nextDue = Infinity;
    for (const s of streams) {
      while (s.next < s.count && start + s.next * s.interval <= t) {
        dispatch(s, s.next, start + s.next * s.interval);
        s.next++;
      }
      if (s.next < s.count) {
        nextDue = Math.min(nextDue, start + s.next * s.interval);
      }
    }
    if (nextDue === Infinity) return resolve();
    setTimeout(tick, Math.max(0, nextDue - now()));
  };
  tick();
});
const sendEnd = now();

// Drain: wait (bounded) for the answers still outstanding.
const deadline = sendEnd + drainMs;
while (now() < deadline && streams.some((s) => s.done < s.count)) {
  await new Promise((r) => setTimeout(r, 5));
}
finished = true;
const end = now();
const result = { elapsedMs: Math.round(sendEnd - start), streams: {} };
for (const s of streams) {
  let unfinished = 0;
  for (let i = 0; i < s.next; i++) {
    if (Number.isNaN(s.latency[i])) {
      // Censored: a request still waiting at the end, or one that failed
      // (an error answered fast must not look like a fast answer), counts
      // with the time from its intended send to the end of the run.
      s.latency[i] = end - (start + i * s.interval);
      if (!s.failed[i]) unfinished++;
    }
  }
  for (const c of s.conns) c.socket.destroy();
  result.streams[s.name] = {
    intended: s.count,
    sent: s.next,
    completed: s.done - s.errors - s.non2xx,
    errors: s.errors,
    non2xx: s.non2xx,
    unfinished,
    latencyMs: summary(s.latency),
    serviceMs: summary(s.service),
    timerLagMs: summary(s.timerLag),
  };
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(0);
