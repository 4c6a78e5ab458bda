// SIGTERM under load, in a subprocess: every request accepted before the
// signal completes with 200 — uploads still arriving included — new
// connections are refused, and the process exits 0 by itself.
import assert from "node:assert/strict";

const CONCURRENT_SLEEPS = 40;
const UPLOADS = 4;
const UPLOAD_CHUNKS = 8;
const CHUNK_BYTES = 64 * 1024;

function startServer(): {
  child: Deno.ChildProcess;
  port: Promise<number>;
  rest: Promise<string>;
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./fixtures/handlers/serve_main.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const { promise: port, resolve } = Promise.withResolvers<number>();
  const rest = (async () => {
    let seen = "";
    for await (
      const text of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      seen += text;
      const match = /port (\d+)/.exec(seen);
      if (match) resolve(Number(match[1]));
    }
    return seen;
  })();
  return { child, port, rest };
}

/** A body that keeps arriving for a while, so it is mid-upload at the signal. */
function slowBody(): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    async pull(controller) {
      if (sent === UPLOAD_CHUNKS) return controller.close();
      await new Promise((r) => setTimeout(r, 60));
      controller.enqueue(new Uint8Array(CHUNK_BYTES).fill(sent + 1));
      sent++;
    },
  });
}

Deno.test("SIGTERM under load: every request accepted before the signal completes with 200", async () => {
  const { child, port: portPromise, rest } = startServer();
  const port = await portPromise;
  const base = `http://127.0.0.1:${port}`;

  const sleeps = Array.from(
    { length: CONCURRENT_SLEEPS },
    () =>
      fetch(`${base}/sleep?ms=400`).then(async (
        r,
      ) => [r.status, await r.text()]),
  );
  const uploads = Array.from(
    { length: UPLOADS },
    () =>
      fetch(
        `${base}/echo`,
        { method: "POST", body: slowBody(), duplex: "half" } as RequestInit,
      )
        .then(async (r) => [r.status, (await r.bytes()).byteLength]),
  );
  // Loopback connections are accepted at once; give the requests time to land.
  await new Promise((r) => setTimeout(r, 150));
  child.kill("SIGTERM");

  for (const [status, body] of await Promise.all(sleeps)) {
    assert.equal(status, 200);
    assert.equal(body, "slept 400");
  }
  for (const [status, body] of await Promise.all(uploads)) {
    assert.equal(status, 200);
    assert.equal(body, UPLOAD_CHUNKS * CHUNK_BYTES);
  }

  // The listener is gone: a new connection is refused, not queued.
  await assert.rejects(fetch(`${base}/hello`).then((r) => r.body?.cancel()));

  const { code } = await child.status;
  assert.equal(code, 0);
  assert.match(await rest, /finished/);
});
