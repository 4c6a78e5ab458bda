// The promise to users: a module that runs under `deno serve` runs on ringpool
// unchanged. Both run as real subprocesses here — `deno serve` and ringpool's
// CLI — and every answer must match, all headers included, apart from `Date`
// and how the body is framed (a stream that completes at once may go out with
// a Content-Length instead of chunked).
import assert from "node:assert/strict";
import { COMPAT_CASES } from "./fixtures/handlers/compat_cases.ts";
import { startServerProcess as start } from "./_helpers.ts";

const COMPAT = new URL("./fixtures/handlers/compat.ts", import.meta.url);
const MOD = new URL("../mod.ts", import.meta.url);
const FRAMING = new Set(["date", "content-length", "transfer-encoding"]);

async function describe(base: string, path: string, init?: RequestInit) {
  const response = await fetch(base + path, { ...init, redirect: "manual" });
  const headers: [string, string][] = [];
  for (const [name, value] of response.headers) {
    if (!FRAMING.has(name)) headers.push([name, value]);
  }
  return {
    status: response.status,
    statusText: response.statusText,
    headers: headers.map(([name, value]) => [
      name,
      value.replace(base, "BASE"),
    ]),
    body: [...await response.bytes()],
  };
}

Deno.test("a module answers the same under `deno serve` and under ringpool's CLI", async () => {
  const reference = await start([
    "serve",
    "-A",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    COMPAT.pathname,
  ]);
  const ringpool = await start([
    "run",
    "-A",
    MOD.pathname,
    COMPAT.pathname,
    "--hostname",
    "127.0.0.1",
    "--port",
    "0",
    "--workers",
    "2",
  ]);
  try {
    for (const [path, init] of COMPAT_CASES) {
      const expected = await describe(reference.base, path, init);
      const actual = await describe(ringpool.base, path, init);
      assert.deepEqual(actual, expected, `${init?.method ?? "GET"} ${path}`);
    }
  } finally {
    await ringpool.stop();
    await reference.stop();
  }
});
