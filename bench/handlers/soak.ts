// The handler bench/soak.ts serves: ordinary routes of mixed sizes, and
// routes that kill the worker that runs them, each in its own way.
//
//   GET  /small              "ok"
//   GET  /64k                64 KiB (bytes i & 0xff)
//   POST /echo               the request body, sent back (the soak posts 1 MiB)
//   GET  /stream             256 KiB streamed as 8 chunks of 32 KiB, 2 ms apart
//   GET  /kill/exit          process.exit(1): the worker exits at once (502)
//   GET  /kill/spin          a busy loop: requestTimeout answers 504, then the
//                            worker is terminated
//   GET  /kill/heap          allocates until the worker's resourceLimits heap is
//                            exhausted (synchronous code: it exits, 502)
//   GET  /kill/heap-async    the same after an await (a promise job): measured
//                            on Deno 2.9.6 the request gets 504 at the timeout
//                            and the worker usually serves on (sometimes it
//                            exits: 502)
//
// Successful answers carry `x-worker` (info.workerId), for diagnosis.
import process from "node:process";

const CHUNK = 32 * 1024;
const CHUNKS = 8;
const BODY_64K = Uint8Array.from({ length: 64 * 1024 }, (_, i) => i & 0xff);
const CHUNK_BYTES = Uint8Array.from({ length: CHUNK }, (_, i) => i & 0xff);

function stream(): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    async pull(controller) {
      if (sent > 0) await new Promise((r) => setTimeout(r, 2));
      controller.enqueue(CHUNK_BYTES.slice());
      if (++sent === CHUNKS) controller.close();
    },
  });
}

// Keeps what it allocates reachable until the heap limit is hit.
function exhaustHeap(): never {
  const hoard: number[][] = [];
  for (;;) hoard.push(new Array(100_000).fill(hoard.length));
}

function headers(info: { workerId?: number }, type: string): HeadersInit {
  return { "content-type": type, "x-worker": String(info.workerId ?? 0) };
}

export default {
  async fetch(
    request: Request,
    info: Deno.ServeHandlerInfo & { workerId?: number },
  ): Promise<Response> {
    const path = new URL(request.url).pathname;
    switch (path) {
      case "/small":
        return new Response("ok", { headers: headers(info, "text/plain") });
      case "/64k":
        return new Response(BODY_64K, {
          headers: headers(info, "application/octet-stream"),
        });
      case "/echo":
        return new Response(await request.arrayBuffer(), {
          headers: headers(info, "application/octet-stream"),
        });
      case "/stream":
        return new Response(stream(), {
          headers: headers(info, "application/octet-stream"),
        });
      case "/kill/exit":
        process.exit(1);
        break;
      case "/kill/spin":
        for (;;) {
          // busy: only terminating the worker ends this
        }
      case "/kill/heap":
        exhaustHeap();
        break;
      case "/kill/heap-async":
        await null;
        exhaustHeap();
        break;
    }
    return new Response("Not Found", {
      status: 404,
      headers: headers(info, "text/plain"),
    });
  },
};
