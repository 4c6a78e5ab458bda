// WebSockets through ringpool, with real clients: Deno's WebSocket and the
// npm `ws` client (fragments, pings). The socket lives on the main thread;
// its messages are relayed to the worker that ran the handler.
import assert from "node:assert/strict";
import NodeWebSocket from "npm:ws@8.18.3";
import { type PoolServer, serve, type ServeOptions } from "../src/server.ts";
import {
  assertNoLiveWorkers,
  startServerProcess,
  waitFor,
} from "./_helpers.ts";

const WS = new URL("./fixtures/handlers/ws.ts", import.meta.url);
const ECHO = new URL("./fixtures/handlers/ws_echo.ts", import.meta.url);

function start(options: Partial<ServeOptions> = {}): Promise<PoolServer> {
  return serve({
    handler: WS,
    hostname: "127.0.0.1",
    port: 0,
    workers: 2,
    handleSignals: false,
    onListen: () => {},
    ...options,
  });
}

function wsUrl(server: PoolServer, path: string): string {
  return `ws://127.0.0.1:${server.addr.port}${path}`;
}

type Close = { code: number; reason: string; wasClean: boolean };

/** Polls the handler's record of close events until `done` holds: the
 * close event reaches the worker after main has counted the socket gone. */
async function closesUntil(
  server: PoolServer,
  done: (closes: Close[]) => boolean,
  ms = 20_000,
): Promise<Close[]> {
  const deadline = performance.now() + ms;
  while (true) {
    const response = await fetch(
      `http://127.0.0.1:${server.addr.port}/closes`,
    );
    const closes: Close[] = await response.json();
    if (done(closes)) return closes;
    if (performance.now() > deadline) {
      throw new Error(
        `Timed out: the handler saw ${JSON.stringify(closes)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A Deno WebSocket client with its messages queued, and a bounded next(). */
class Client {
  readonly socket: WebSocket;
  readonly messages: (string | ArrayBuffer)[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  #wake: (() => void) | undefined;

  constructor(url: string, protocols?: string[]) {
    this.socket = new WebSocket(url, protocols);
    this.socket.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.socket.onopen = () => resolve();
      this.socket.onerror = () => reject(new Error(`Could not open ${url}`));
    });
    // Not every test awaits it (a socket the server closes at once).
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.socket.addEventListener("close", (event) => resolve(event));
    });
    this.socket.onmessage = (event) => {
      this.messages.push(event.data);
      this.#wake?.();
    };
  }

  static async open(url: string, protocols?: string[]): Promise<Client> {
    const client = new Client(url, protocols);
    await client.opened;
    return client;
  }

  /** The next message, within `ms`. */
  async next(ms = 10_000): Promise<string | ArrayBuffer> {
    const deadline = performance.now() + ms;
    while (this.messages.length === 0) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error("No message came");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
    return this.messages.shift()!;
  }

  async close(): Promise<CloseEvent> {
    this.socket.close();
    return await this.closed;
  }
}

function sockets(server: PoolServer): number {
  return server.stats().workers.reduce((sum, w) => sum + w.sockets, 0);
}

Deno.test("the issue's echo module runs unchanged: text echo, counted in stats()", async () => {
  const server = await start({ handler: ECHO, metricsPath: "/metrics" });
  try {
    const client = await Client.open(wsUrl(server, "/"));
    client.socket.send("hi");
    assert.equal(await client.next(), "echo:hi");
    const stats = server.stats();
    assert.equal(sockets(server), 1);
    assert.equal(stats.messagesIn, 1);
    assert.equal(stats.messagesOut, 1);
    const metrics = await (await fetch(
      `http://127.0.0.1:${server.addr.port}/metrics`,
    )).text();
    assert.match(metrics, /^ringpool_websockets\{worker="\d"\} 1$/m);
    assert.match(
      metrics,
      /^ringpool_websocket_messages_total\{direction="in"\} 1$/m,
    );
    assert.match(
      metrics,
      /^ringpool_websocket_messages_total\{direction="out"\} 1$/m,
    );
    await client.close();
    await waitFor(() => sockets(server) === 0, "the socket is gone");
    const plain = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(await plain.text(), "plain");
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("binary messages, a 16 MiB message, and Blob/view sends arrive intact and in order", async () => {
  const server = await start();
  try {
    const client = await Client.open(wsUrl(server, "/echo"));
    const small = new Uint8Array([0, 1, 2, 253, 254, 255]);
    client.socket.send(small);
    assert.deepEqual(new Uint8Array(await client.next() as ArrayBuffer), small);
    const big = new Uint8Array(16 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i >> 12) & 0xff;
    client.socket.send(big);
    assert.deepEqual(
      new Uint8Array(await client.next(60_000) as ArrayBuffer),
      big,
    );
    await client.close();
    const sends = await Client.open(wsUrl(server, "/blob"));
    assert.equal(
      new TextDecoder().decode(await sends.next() as ArrayBuffer),
      "blob parts",
    );
    assert.deepEqual(
      new Uint8Array(await sends.next() as ArrayBuffer),
      new Uint8Array([2, 3]),
    );
    assert.equal(await sends.next(), "after");
    await sends.close();
    // Every frame the server sent arrives before its close: nothing twice.
    assert.deepEqual(sends.messages, []);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("the npm ws client: fragmented messages are whole for the handler, pings are answered", async () => {
  const server = await start();
  try {
    const ws = new NodeWebSocket(wsUrl(server, "/echo"));
    await new Promise((resolve) => ws.once("open", resolve));
    const pong = new Promise((resolve) =>
      ws.once("pong", (data: unknown) => resolve(String(data)))
    );
    ws.ping("are you there");
    assert.equal(await pong, "are you there");
    const echoed = new Promise((resolve) =>
      ws.once("message", (data: unknown) => resolve(String(data)))
    );
    ws.send("frag", { fin: false });
    ws.send("men", { fin: false });
    ws.send("ted", { fin: true });
    assert.equal(await echoed, "fragmented");
    const closed = new Promise((resolve) => ws.once("close", resolve));
    ws.close(4002, "done");
    await closed;
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("close codes and reasons cross in both directions", async () => {
  const server = await start({ workers: 1 });
  try {
    const closedByServer = new Client(
      wsUrl(server, "/close?code=4001&reason=bye"),
    );
    const event = await closedByServer.closed;
    assert.equal(event.code, 4001);
    assert.equal(event.reason, "bye");
    const client = await Client.open(wsUrl(server, "/echo"));
    client.socket.close(4002, "client says bye");
    await client.closed;
    await waitFor(() => sockets(server) === 0, "both sockets are gone");
    await closesUntil(
      server,
      (closes) =>
        closes.some((c) => c.code === 4002 && c.reason === "client says bye"),
    );
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("the subprotocol the handler picks is the one the client gets", async () => {
  const server = await start();
  try {
    const client = await Client.open(wsUrl(server, "/protocol"), [
      "one",
      "two",
    ]);
    assert.equal(client.socket.protocol, "two");
    await client.close();
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("idleTimeout closes a socket whose client does not answer pings", async () => {
  const server = await start({ workers: 1 });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  try {
    // A raw handshake; afterwards the client reads nothing and sends nothing.
    await conn.write(new TextEncoder().encode(
      "GET /echo?idle=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    ));
    const buffer = new Uint8Array(4096);
    const head = new TextDecoder().decode(
      buffer.subarray(0, (await conn.read(buffer)) ?? 0),
    );
    assert.match(head, /^HTTP\/1\.1 101 /);
    await waitFor(() => sockets(server) === 1, "the socket is open");
    // Deno pings after 1 s; without a pong the socket is closed.
    await waitFor(
      () => sockets(server) === 0,
      "the idle socket closed",
      15_000,
    );
  } finally {
    conn.close();
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("1,000 concurrent sockets spread evenly over the workers", async () => {
  const count = 1000;
  const server = await start({ workers: 4 });
  const clients: Client[] = [];
  try {
    for (let i = 0; i < count; i += 100) {
      clients.push(
        ...await Promise.all(
          Array.from(
            { length: 100 },
            () => Client.open(wsUrl(server, "/whoami")),
          ),
        ),
      );
    }
    const seen = await Promise.all(clients.map((c) => c.next(30_000)));
    const perWorker = new Map<string, number>();
    for (const who of seen) {
      perWorker.set(String(who), (perWorker.get(String(who)) ?? 0) + 1);
    }
    assert.equal(perWorker.size, 4, `sockets by worker: ${[...perWorker]}`);
    for (const [who, n] of perWorker) {
      assert.ok(
        Math.abs(n - count / 4) <= 10,
        `${who} has ${n} of ${count} sockets`,
      );
    }
    assert.equal(sockets(server), count);
    // Beside them, plain requests still go through at once.
    const plain = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(await plain.text(), "plain");
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await waitFor(() => sockets(server) === 0, "all sockets closed");
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a chat room over BroadcastChannel: sockets on every worker see each message once", async () => {
  const server = await start({ workers: 4 });
  const clients: Client[] = [];
  try {
    for (let i = 0; i < 8; i++) {
      clients.push(await Client.open(wsUrl(server, "/chat")));
    }
    const workers = server.stats().workers.filter((w) => w.sockets > 0);
    assert.equal(workers.length, 4, "the room spans every worker");
    clients[0]!.socket.send("hello room");
    for (const client of clients) {
      assert.equal(await client.next(), "hello room");
    }
    // ...and only once each.
    clients[3]!.socket.send("second");
    for (const client of clients) assert.equal(await client.next(), "second");
    for (const client of clients) assert.deepEqual(client.messages, []);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a listener that throws does not take the worker down", async () => {
  const server = await start({ workers: 1 });
  try {
    const client = await Client.open(wsUrl(server, "/throw"));
    client.socket.send("throw");
    client.socket.send("again");
    assert.equal(await client.next(), "still here: again");
    await client.close();
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a worker that dies closes its sockets with 1011 and is replaced", async () => {
  const server = await start({ workers: 1 });
  try {
    const doomed = await Client.open(wsUrl(server, "/crash"));
    doomed.socket.send("die");
    assert.equal((await doomed.closed).code, 1011);
    await waitFor(
      () => server.stats().workers[0]!.sockets === 0,
      "its sockets are gone",
    );
    const next = await Client.open(wsUrl(server, "/echo"));
    next.socket.send("alive");
    assert.equal(await next.next(), "alive");
    await next.close();
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a client that vanishes fires close in the worker", async () => {
  const server = await start({ workers: 1 });
  try {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    await conn.write(new TextEncoder().encode(
      "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    ));
    await conn.read(new Uint8Array(4096));
    await waitFor(() => sockets(server) === 1, "the socket is open");
    conn.close(); // no close frame
    await waitFor(() => sockets(server) === 0, "the server noticed");
    const closes = await closesUntil(server, (closes) => closes.length > 0);
    assert.equal(closes.length, 1, `the handler saw ${JSON.stringify(closes)}`);
    assert.equal(closes[0]!.wasClean, false);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("shutdown() drains HTTP, then closes open sockets with 1001 and joins the workers", async () => {
  const server = await start();
  const clients = await Promise.all(
    Array.from({ length: 4 }, () => Client.open(wsUrl(server, "/echo"))),
  );
  await server.shutdown();
  for (const client of clients) {
    const event = await client.closed;
    assert.equal(event.code, 1001);
  }
  assertNoLiveWorkers();
});

Deno.test("an upgrade that comes after a deadline sweep still opens", async () => {
  // The sweep watches request.signal of requests that outlive it; Deno
  // aborts that signal when the request is upgraded.
  const server = await start({ workers: 1 });
  try {
    const client = await Client.open(wsUrl(server, "/delayed?ms=700"));
    client.socket.send("late");
    assert.equal(await client.next(), "late");
    await client.close();
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a message over maxMessageSize closes the socket with 1009", async () => {
  const server = await start({ workers: 1, maxMessageSize: 1024 });
  try {
    const client = await Client.open(wsUrl(server, "/echo"));
    client.socket.send(new Uint8Array(1024));
    assert.equal((await client.next() as ArrayBuffer).byteLength, 1024);
    client.socket.send(new Uint8Array(1025));
    assert.equal((await client.closed).code, 1009);
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a client that does not read raises bufferedAmount in the worker, not main's memory", async () => {
  const server = await start({ workers: 1 });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  try {
    await conn.write(new TextEncoder().encode(
      "GET /flood?mb=48 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    ));
    // Reads the handshake only; the 48 MiB the handler sends stay unread.
    await conn.read(new Uint8Array(1024));
    const buffered = async () =>
      await (await fetch(`http://127.0.0.1:${server.addr.port}/buffered`))
        .json() as number[];
    let seen: number[] = [];
    const deadline = performance.now() + 20_000;
    while ((seen = await buffered()).length < 4) {
      if (performance.now() > deadline) {
        throw new Error("The handler never reported its bufferedAmount");
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    // Main took at most its window and what Deno buffers; the rest waits
    // in the worker.
    const last = seen.at(-1)!;
    assert.ok(last > 32 * 1024 * 1024, `bufferedAmount in the worker: ${last}`);
  } finally {
    conn.close();
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

/** A compatibility case: what to send, and what to wait for before closing. */
interface Case {
  path: string;
  send: (string | Uint8Array)[];
  /** Messages the server sends by itself. */
  expect?: number;
  /** The server closes the socket itself. */
  serverCloses?: boolean;
  protocols?: string[];
}

function frame(data: string | ArrayBuffer): string {
  return typeof data === "string"
    ? `text ${data}`
    : `binary ${[...new Uint8Array(data)]}`;
}

/** What a client sees of one socket: every frame, then the close. */
async function transcript(base: string, c: Case): Promise<string[]> {
  const client = new Client(base.replace("http:", "ws:") + c.path, c.protocols);
  const seen: string[] = [];
  await client.opened;
  seen.push(`open protocol=${client.socket.protocol}`);
  for (const data of c.send) {
    client.socket.send(data);
    seen.push(frame(await client.next()));
  }
  for (let i = 0; i < (c.expect ?? 0); i++) {
    seen.push(frame(await client.next()));
  }
  if (!c.serverCloses) client.socket.close(4000, "client done");
  const closed = await client.closed;
  seen.push(`close ${closed.code} ${closed.reason}`);
  return seen;
}

Deno.test("the same module gives the same frames under `deno serve` and under ringpool's CLI", async () => {
  const reference = await startServerProcess([
    "serve",
    "-A",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    WS.pathname,
  ]);
  const ringpool = await startServerProcess([
    "run",
    "-A",
    new URL("../mod.ts", import.meta.url).pathname,
    WS.pathname,
    "--hostname",
    "127.0.0.1",
    "--port",
    "0",
    "--workers",
    "2",
  ]);
  try {
    const cases: Case[] = [
      { path: "/echo", send: ["hello", new Uint8Array([1, 2, 3]), "ünïcödé"] },
      { path: "/blob", send: [], expect: 3 },
      { path: "/close?code=4001&reason=bye", send: [], serverCloses: true },
      { path: "/protocol", send: ["x"], protocols: ["one", "two"] },
    ];
    for (const c of cases) {
      const expected = await transcript(reference.base, c);
      const actual = await transcript(ringpool.base, c);
      assert.deepEqual(actual, expected, c.path);
    }
  } finally {
    await ringpool.stop();
    await reference.stop();
  }
});
