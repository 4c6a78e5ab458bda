// Open-loop (constant-rate) HTTP/1.1 load driver, run by Node as its own
// process: `node bench/_open_loop.mjs '<json config>'`; prints one JSON line.
//
// Why open loop: a closed-loop client (wrk, hey) waits for a response before
// sending the next request on a connection, so when the server stalls it
// also stops sending, and the stall is recorded once instead of for every
// request that should have been sent meanwhile ("coordinated omission").
// Here each request has an intended send time on a fixed schedule and its
// latency is measured from that time, whether it was sent on time, waited
// for a free connection, or is still unanswered when the run ends (then it
// counts with the time it has waited so far; so does a request that failed,
// with a socket error or a non-2xx status).
//
// Config: { port, durationMs, drainMs, streams: [stream, ...] }. A stream is
// a schedule and a pool of keep-alive connections:
//   rate        ticks per second; `burst` requests are due at each tick
//               (default 1), so request i is due at start + floor(i/burst)/rate
//   path        the one route of the stream (reported under `name`), or
//   routes      [{ name, path, weight }]: routes interleaved evenly by weight
//               (smooth weighted round robin: weights 199 and 1 put the second
//               route at every 200th request), each reported under its name
//   maxConns    connections the pool may open (default 128)
//   preconnect  connections opened before the schedule starts (default 4)
//   pick        how a request finds a connection (HTTP/1.1 without
//               pipelining: a connection carries one request at a time):
//     "mru"     (default) the most recently idle connection, else a new one
//               up to maxConns, else wait in the pool's FIFO for the first
//               connection to come free
//     "lru"     the same, taking the connection idle the longest (spreads
//               requests over every connection, as a browser's pool does
//               under load)
//     "pinned"  request i waits for connection i mod maxConns, even while
//               that connection waits for a slow answer and others are idle
//               (a diagnostic: the client's own head-of-line blocking)
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

/** The figures of one route. */
class Route {
  constructor(spec, count) {
    this.name = spec.name;
    this.weight = spec.weight ?? 1;
    this.request = Buffer.from(
      `GET ${spec.path} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`,
    );
    this.count = count;
    this.errors = 0;
    this.non2xx = 0;
    this.done = 0;
    this.latency = new Float64Array(count).fill(NaN);
    this.service = new Float64Array(count).fill(NaN);
    this.intended = new Float64Array(count).fill(NaN);
    // 1 where the request failed (socket error or non-2xx status).
    this.failed = new Uint8Array(count);
  }
}

// Which route each request of a stream takes: smooth weighted round robin,
// so a route of weight 1 among 199 comes exactly every 200th request.
function assignRoutes(weights, count) {
  const total = weights.reduce((a, w) => a + w, 0);
  const current = weights.map(() => 0);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let r = 0; r < weights.length; r++) {
      current[r] += weights[r];
      if (current[r] > current[best]) best = r;
    }
    current[best] -= total;
    out[i] = best;
  }
  return out;
}

class Stream {
  constructor(spec) {
    const specs = spec.routes ?? [{ name: spec.name, path: spec.path }];
    this.interval = 1000 / spec.rate;
    this.burst = spec.burst ?? 1;
    const ticks = Math.max(1, Math.floor((spec.rate * durationMs) / 1000));
    this.count = ticks * this.burst;
    this.routeOf = assignRoutes(specs.map((r) => r.weight ?? 1), this.count);
    const perRoute = specs.map(() => 0);
    this.slotOf = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) {
      this.slotOf[i] = perRoute[this.routeOf[i]]++;
    }
    this.routes = specs.map((r, i) => new Route(r, perRoute[i]));
    this.pick = spec.pick ?? "mru";
    this.maxConns = spec.maxConns ?? 128;
    this.preconnect = this.pick === "pinned"
      ? this.maxConns
      : Math.min(spec.preconnect ?? 4, this.maxConns);
    this.next = 0;
    this.conns = new Set();
    this.idle = [];
    this.queue = [];
    /** pinned: the connection at each position. */
    this.pinned = [];
    this.timerLag = new Float64Array(this.count).fill(NaN);
  }

  due(i) {
    return Math.floor(i / this.burst) * this.interval;
  }
}

class Conn {
  constructor(stream, position = -1) {
    this.stream = stream;
    this.position = position;
    this.job = null; // { route, slot, intended, sent }
    this.queue = []; // pinned: the requests waiting for this connection
    this.buf = Buffer.alloc(0);
    this.socket = net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.ready = new Promise((resolve) => this.socket.once("connect", resolve));
    this.socket.on("data", (d) => this.onData(d));
    this.socket.on("error", () => {});
    this.socket.on("close", () => this.onClose());
    stream.conns.add(this);
    if (position >= 0) stream.pinned[position] = this;
  }

  send(job) {
    this.job = job;
    this.ready.then(() => {
      job.sent = now();
      this.socket.write(job.route.request);
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
    const { stream } = this;
    stream.conns.delete(this);
    const i = stream.idle.indexOf(this);
    if (i >= 0) stream.idle.splice(i, 1);
    const waiting = this.queue;
    if (this.job !== null) {
      const { route, slot } = this.job;
      route.errors++;
      route.done++;
      route.failed[slot] = 1;
      this.job = null;
    }
    if (finished) return;
    if (this.position >= 0) {
      // A pinned position gets a new connection, which takes its queue.
      const next = new Conn(stream, this.position);
      next.queue = waiting;
      if (waiting.length) next.send(waiting.shift());
    } else if (stream.queue.length) {
      // Someone waiting for a connection gets a new one.
      new Conn(stream).send(stream.queue.shift());
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
  const { route, slot } = job;
  const t = now();
  route.service[slot] = t - job.sent;
  if (ok) {
    route.latency[slot] = t - job.intended;
  } else {
    route.non2xx++;
    route.failed[slot] = 1;
  }
  route.done++;
  conn.job = null;
  const waiting = conn.position >= 0
    ? conn.queue.shift()
    : stream.queue.shift();
  if (waiting !== undefined && !finished) conn.send(waiting);
  else if (conn.position < 0) stream.idle.push(conn);
}

function dispatch(stream, index, intended) {
  const route = stream.routes[stream.routeOf[index]];
  const slot = stream.slotOf[index];
  const job = { route, slot, intended, sent: NaN };
  route.intended[slot] = intended;
  stream.timerLag[index] = now() - intended;
  if (stream.pick === "pinned") {
    const conn = stream.pinned[index % stream.maxConns];
    if (conn.job === null) conn.send(job);
    else conn.queue.push(job);
    return;
  }
  const conn = stream.pick === "lru" ? stream.idle.shift() : stream.idle.pop();
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
    Array.from({ length: s.preconnect }, (_, i) => {
      const c = new Conn(s, s.pick === "pinned" ? i : -1);
      return c.ready.then(() => {
        if (s.pick !== "pinned") s.idle.push(c);
      });
    })
  ),
);

const start = now();
await new Promise((resolve) => {
  const tick = () => {
    const t = now();
    let nextDue = Infinity;
    for (const s of streams) {
      while (s.next < s.count && start + s.due(s.next) <= t) {
        dispatch(s, s.next, start + s.due(s.next));
        s.next++;
      }
      if (s.next < s.count) {
        nextDue = Math.min(nextDue, start + s.due(s.next));
      }
    }
    if (nextDue === Infinity) return resolve();
    setTimeout(tick, Math.max(0, nextDue - now()));
  };
  tick();
});
const sendEnd = now();

// Drain: wait (bounded) for the answers still outstanding.
const pending = () =>
  streams.some((s) => s.routes.some((r) => r.done < r.count));
const deadline = sendEnd + drainMs;
while (now() < deadline && pending()) {
  await new Promise((r) => setTimeout(r, 5));
}
finished = true;
const end = now();
const result = { elapsedMs: Math.round(sendEnd - start), streams: {} };
for (const s of streams) {
  const lag = summary(s.timerLag);
  for (const route of s.routes) {
    let unfinished = 0;
    let sent = 0;
    for (let i = 0; i < route.count; i++) {
      if (Number.isNaN(route.intended[i])) continue;
      sent++;
      if (Number.isNaN(route.latency[i])) {
        // Censored: a request still waiting at the end, or one that failed
        // (an error answered fast must not look like a fast answer), counts
        // with the time from its intended send to the end of the run.
        route.latency[i] = end - route.intended[i];
        if (!route.failed[i]) unfinished++;
      }
    }
    result.streams[route.name] = {
      intended: route.count,
      sent,
      completed: route.done - route.errors - route.non2xx,
      errors: route.errors,
      non2xx: route.non2xx,
      unfinished,
      latencyMs: summary(route.latency),
      serviceMs: summary(route.service),
      timerLagMs: lag,
    };
  }
  for (const c of s.conns) c.socket.destroy();
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(0);
