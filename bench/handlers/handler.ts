// The one handler module every Deno contender serves (`deno serve`, the
// single-isolate server, the postMessage pool and ringpool). Routes:
//   GET  /hello          "Hello"
//   GET  /cpu?n=N        N rounds of integer work (~2 ms when calibrated)
//   GET  /fast?n=N       the same, ~0.1 ms
//   GET  /slow?n=N       the same, ~40 ms
//   GET  /slow203?n=N    the same work answered 203, so a load generator
//                        that logs only status codes (h2load) can tell it
//                        apart from /fast
//   GET  /wait?n=MS      an awaited MS-millisecond timer, no CPU (I/O-bound)
//   GET  /64k            a 64 KiB body
//   POST /echo           the request body, buffered and sent back
//   POST /upload         the body streamed and counted (RSS test)
//   GET  /download?n=M   M MiB streamed in 64 KiB chunks (RSS test)
import {
  body64k,
  CHUNK_BYTES,
  parseTarget,
  spin,
  TAGGED_STATUS,
} from "./work.mjs";

const TEXT = { "content-type": "text/plain;charset=UTF-8" };
const BINARY = { "content-type": "application/octet-stream" };

async function countBody(request: Request): Promise<number> {
  let total = 0;
  if (request.body === null) return 0;
  for await (const chunk of request.body) total += chunk.byteLength;
  return total;
}

function download(mib: number): ReadableStream<Uint8Array> {
  let left = mib * (1024 * 1024 / CHUNK_BYTES);
  // Pull-based, so a slow reader applies backpressure instead of the whole
  // body being queued in memory.
  return new ReadableStream({
    pull(controller) {
      if (left-- <= 0) return controller.close();
      controller.enqueue(new Uint8Array(CHUNK_BYTES).fill(121));
    },
  });
}

export default {
  async fetch(request: Request): Promise<Response> {
    const { path, n } = parseTarget(request.url);
    switch (path) {
      case "/hello":
        return new Response("Hello", { headers: TEXT });
      case "/cpu":
      case "/fast":
      case "/slow":
        return new Response(String(spin(n)), { headers: TEXT });
      case "/slow203":
        return new Response(String(spin(n)), {
          status: TAGGED_STATUS,
          headers: TEXT,
        });
      case "/wait":
        await new Promise((resolve) => setTimeout(resolve, n));
        return new Response("waited", { headers: TEXT });
      case "/64k":
        return new Response(body64k(), { headers: BINARY });
      case "/echo":
        return new Response(await request.arrayBuffer(), { headers: BINARY });
      case "/upload":
        return new Response(String(await countBody(request)), {
          headers: TEXT,
        });
      case "/download":
        return new Response(download(n), { headers: BINARY });
      default:
        return new Response("Not Found", { status: 404, headers: TEXT });
    }
  },
} satisfies Deno.ServeDefaultExport;
