// Clients that misbehave, one defect each: none may hold the server's
// shutdown open, starve it, or crash it.
import assert from "node:assert/strict";
import { type PoolServer, serve, type ServeOptions } from "../src/server.ts";
import { assertNoLiveWorkers } from "./_helpers.ts";

const BEHAVIOURS = new URL(
  "./fixtures/handlers/behaviours.ts",
  import.meta.url,
);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function start(options: Partial<ServeOptions> = {}): Promise<PoolServer> {
  return serve({
    handler: BEHAVIOURS,
    hostname: "127.0.0.1",
    port: 0,
    workers: 1,
    handleSignals: false,
    onListen: () => {},
    ...options,
  });
}

/** Reads from `conn` until the response head is in, within `ms`. */
async function readHead(conn: Deno.Conn, ms: number): Promise<string> {
  let late = false;
  // Closing the connection ends a read that waits too long.
  const timer = setTimeout(() => {
    late = true;
    conn.close();
  }, ms);
  let text = "";
  const buffer = new Uint8Array(4096);
  try {
    while (!text.includes("\r\n\r\n")) {
      const read = await conn.read(buffer).catch(() => null);
      if (late) {
        throw new Error(
          `No response within ${ms} ms; got ${JSON.stringify(text)}`,
        );
      }
      if (read === null) break;
      text += decoder.decode(buffer.subarray(0, read));
    }
  } finally {
    clearTimeout(timer);
  }
  return text;
}

Deno.test("a Content-Length body that never arrives in full gets 504 at requestTimeout", async () => {
  const server = await start({ requestTimeout: 500 });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addr.port,
  });
  try {
    // Small enough to be read whole before any worker sees it.
    await conn.write(encoder.encode(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" +
        "0123456789",
    ));
    const head = await readHead(conn, 10_000);
    assert.match(head, /^HTTP\/1\.1 504 /);
  } finally {
    conn.close();
    await server.shutdown();
  }
  assertNoLiveWorkers();
});

Deno.test("SIGTERM: the process exits within drainTimeout while a client holds an incomplete body", async () => {
  const drainTimeout = 1500;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./fixtures/handlers/serve_main.ts", import.meta.url).pathname,
    ],
    env: { DRAIN_TIMEOUT: String(drainTimeout) },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let seen = "";
  while (!/port (\d+)/.test(seen)) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`The server ended before listening: ${seen}`);
    seen += value;
  }
  const port = Number(/port (\d+)/.exec(seen)![1]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    // A chunked upload that sends one chunk, then nothing, and stays open.
    await conn.write(encoder.encode(
      "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "a\r\n0123456789\r\n",
    ));
    // The upload is under way on a worker before the signal.
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      child.status,
      new Promise<"late">((resolve) =>
        timer = setTimeout(() => resolve("late"), drainTimeout + 15_000)
      ),
    ]);
    clearTimeout(timer);
    if (exited === "late") {
      child.kill("SIGKILL");
      await child.status;
      assert.fail("the process was still running 15 s after drainTimeout");
    }
    assert.equal(exited.code, 0);
    // The client was answered before the process went.
    assert.match(await readHead(conn, 1000), /^HTTP\/1\.1 50[34] /);
  } finally {
    conn.close();
    await lines.cancel();
  }
});
