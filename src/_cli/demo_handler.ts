// The handler of the demo server that `deno run -A mod.ts` starts: the web
// server of the last chapter of "The Rust Programming Language", on ringpool.
//
//   GET /       -> static/hello.html
//   GET /sleep  -> static/hello.html after 5 seconds, blocking this worker
//   otherwise   -> static/404.html with status 404
//
// It runs on the worker threads, one copy per worker.

import { threadId } from "node:worker_threads";

/** What ringpool's server passes as the handler's second argument. */
interface DemoInfo {
  /** The pool-local id of the worker running the handler. */
  workerId?: number;
}

/** How long `/sleep` blocks, like the book's `thread::sleep(Duration::from_secs(5))`. */
const SLEEP_MS = 5_000;

// A private SharedArrayBuffer nobody ever notifies: Atomics.wait on it is a
// plain blocking sleep of this thread, which is the point of the demo (the
// other workers keep answering while this one sleeps).
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Reads a file shipped beside this module. Read through `fetch` when the
 * package was imported from a URL, since there is no file system to read.
 */
async function load(relative: string): Promise<string> {
  const url = new URL(relative, import.meta.url);
  if (url.protocol === "file:") return await Deno.readTextFile(url);
  const response = await fetch(url);
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`Cannot load ${url.href}: HTTP ${response.status}`);
  }
  return await response.text();
}

// Loaded once per worker when the module is imported: a worker that cannot
// find its pages fails at start-up, where serve() reports it, not per request.
const [hello, notFound] = await Promise.all([
  load("../../static/hello.html"),
  load("../../static/404.html"),
]);

function page(body: string, status = 200): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/html; charset=UTF-8" },
  });
}

/** The demo's handler, in the `deno serve` shape ringpool's workers load. */
export default {
  fetch(request: Request, info?: DemoInfo): Response {
    // Before the server passes a pool-local id, the thread id still tells
    // workers apart.
    const id = info?.workerId ?? threadId;
    console.log(`Worker ${id} got a job; executing.`);
    const { pathname } = new URL(request.url);
    // HEAD is GET without the body, which Deno.serve drops for us.
    const get = request.method === "GET" || request.method === "HEAD";
    if (get && pathname === "/") return page(hello);
    if (get && pathname === "/sleep") {
      Atomics.wait(sleeper, 0, 0, SLEEP_MS);
      return page(hello);
    }
    return page(notFound, 404);
  },
};
