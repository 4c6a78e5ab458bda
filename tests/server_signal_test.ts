// request.signal on the main thread. ringpool watches a client leaving only
// for handlers that looked at their signal: touching it makes Deno 2.9
// (legacy abort, the default) print a notice once a request succeeds, which
// `deno serve` prints only for handlers that touch it themselves.
import assert from "node:assert/strict";

const PROBE = new URL("./fixtures/legacy_abort_probe.ts", import.meta.url);
const NOTICE = /request\.signal aborts on successful responses/;

async function probe(...args: string[]): Promise<{ out: string; err: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", PROBE.pathname, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const out = new TextDecoder().decode(output.stdout);
  const err = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `the probe failed:\n${out}\n${err}`);
  assert.match(out, /done/);
  return { out, err };
}

Deno.test("slow requests and upgrades whose handlers never look at request.signal print no legacy-abort notice", async () => {
  const { err } = await probe();
  assert.doesNotMatch(err, NOTICE, `stderr:\n${err}`);
});

Deno.test("a handler that looks at request.signal still sees the client leave", async () => {
  const { out } = await probe("touch");
  assert.match(out, /aborted/);
});
