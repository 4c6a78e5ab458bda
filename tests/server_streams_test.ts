// Long-lived requests leave their slot: streamed responses and streamed
// request bodies go on over the channel, so however many there are, the
// slots stay free for short requests (issue: slow streams starved them).
import assert from "node:assert/strict";
import { type PoolServer, serve, type ServeOptions } from "../src/server.ts";
import { assertNoLiveWorkers, waitFor } from "./_helpers.ts";

const BEHAVIOURS = new URL(
  "./fixtures/handlers/behaviours.ts",
  import.meta.url,
);
/** More streams than the default slots (cores + 1 workers x concurrency 16: 48 on 2 cores). */
const STREAMS = 80;

function start(options: Partial<ServeOptions> = {}): Promise<PoolServer> {
  return serve({
    handler: BEHAVIOURS,
    hostname: "127.0.0.1",
    port: 0,
    handleSignals: false,
    onListen: () => {},
    ...options,
  });
}

function url(server: PoolServer, path: string): string {
  return `http://127.0.0.1:${server.addr.port}${path}`;
}

function streams(server: PoolServer): number {
  return server.stats().workers.reduce((sum, w) => sum + w.streams, 0);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A raw client: the test closes its socket itself, so the server sees it
 * leave (Deno's own fetch, aborted in this process, may keep the
 * connection open).
 */
async function connect(
  server: PoolServer,
  request: string,
  until: RegExp,
): Promise<Deno.Conn> {
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  await conn.write(encoder.encode(request));
  let text = "";
  const buffer = new Uint8Array(4096);
  while (!until.test(text)) {
    const read = await conn.read(buffer);
    if (read === null) throw new Error(`Closed early: ${JSON.stringify(text)}`);
    text += decoder.decode(buffer.subarray(0, read));
  }
  return conn;
}

const TRICKLE = "GET /trickle HTTP/1.1\r\nHost: x\r\n\r\n";
/** A chunked upload that sends one chunk, then nothing. */
const STALLED_UPLOAD =
  "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
  "a\r\n0123456789\r\n";

Deno.test(`${STREAMS} never-ending responses hold no slot: other requests are still answered`, async () => {
  // Defaults for the pool; a short timeout so the old behaviour (every
  // slot held, the next request queued until it times out) fails fast.
  const server = await start({ requestTimeout: 5000 });
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < STREAMS; i++) {
      conns.push(await connect(server, TRICKLE, /data: hello/));
    }
    await waitFor(() => streams(server) === STREAMS, "every stream counted");
    assert.equal(server.stats().inFlight, 0, "a stream holds no slot");
    const hello = await fetch(url(server, "/hello"));
    assert.equal(hello.status, 200);
    assert.equal(await hello.text(), "hello");
  } finally {
    for (const conn of conns) conn.close();
    await waitFor(() => streams(server) === 0, "the streams close");
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test(`${STREAMS} uploads that stall mid-body hold no slot, and each still times out`, async () => {
  const server = await start({ requestTimeout: 3000 });
  const conns: Deno.Conn[] = [];
  try {
    const answered: Promise<Deno.Conn>[] = [];
    for (let i = 0; i < STREAMS; i++) {
      // Each is answered 504 at requestTimeout, like any slow request.
      answered.push(connect(server, STALLED_UPLOAD, /^HTTP\/1\.1 504 /));
    }
    await waitFor(() => streams(server) === STREAMS, "every upload counted");
    assert.equal(server.stats().inFlight, 0, "an upload holds no slot");
    const hello = await fetch(url(server, "/hello"));
    assert.equal(hello.status, 200);
    assert.equal(await hello.text(), "hello");
    conns.push(...await Promise.all(answered));
  } finally {
    for (const conn of conns) conn.close();
    await waitFor(() => streams(server) === 0, "the uploads end");
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("a client that leaves a streamed response cancels the handler's stream on its worker", async () => {
  const server = await start({ workers: 1 });
  try {
    const conn = await connect(server, TRICKLE, /data: hello/);
    conn.close();
    await waitFor(() => streams(server) === 0, "the stream closes");
    const cancelled = await (await fetch(url(server, "/trickle-cancelled")))
      .json();
    assert.deepEqual(cancelled, { cancelled: 1 });
  } finally {
    await server.shutdown();
  }
  assertNoLiveWorkers();
});
