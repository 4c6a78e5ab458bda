// The per-request work shared by every contender: the Deno handler
// (`handler.ts`) and the Node cluster server (`node_cluster.mjs`) both import
// this file, so all contenders run the same code for the same URL.

/** Largest iteration count a request may ask for (~1 s of CPU), so a typo cannot wedge a server. */
const MAX_ITERATIONS = 1e9;

/**
 * The status `/slow203` answers with (203 Non-Authoritative Information): a
 * 2xx every driver counts as success, and the only per-request mark h2load's
 * `--log-file` keeps.
 */
export const TAGGED_STATUS = 203;

/** Bytes in one chunk of `/download`. */
export const CHUNK_BYTES = 64 * 1024;

/**
 * Integer work: `n` rounds of xorshift32. Returns the state so the loop
 * cannot be optimised away; the harness calibrates `n` per machine.
 *
 * @param {number} n Rounds to run.
 * @returns {number} The final state.
 */
export function spin(n) {
  let x = 0x9e3779b9 | 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x >>> 0;
}

/**
 * Splits a request target (`/cpu?n=1000`, or an absolute URL as Deno gives
 * it) into its path and the integer query parameter `n` (0 when absent).
 * Hand-rolled so both runtimes pay the same small cost.
 *
 * @param {string} target The request URL or path.
 * @returns {{ path: string, n: number }} The route and its parameter.
 */
export function parseTarget(target) {
  let start = 0;
  if (target.charCodeAt(0) !== 47 /* "/" */) {
    start = target.indexOf("/", target.indexOf("//") + 2);
    if (start < 0) return { path: "/", n: 0 };
  }
  const q = target.indexOf("?", start);
  if (q < 0) return { path: target.slice(start), n: 0 };
  const match = /(?:^|&)n=(\d+)/.exec(target.slice(q + 1));
  const n = match ? Math.min(Number(match[1]), MAX_ITERATIONS) : 0;
  return { path: target.slice(start, q), n };
}

/**
 * A fresh 64 KiB body. Fresh per request because a pool may transfer (and
 * so detach) the buffer it is given.
 *
 * @returns {Uint8Array<ArrayBuffer>} 65536 bytes of "x".
 */
export function body64k() {
  return new Uint8Array(65536).fill(120);
}
