// The handler bench/sse.ts serves with every contender (ringpool's serve(),
// `deno serve`, `deno serve --parallel`). Routes:
//   GET /            "Hello" — the request whose latency is measured
//   GET /events      a server-sent-event stream that stays open: a comment at
//                    once (so the client knows it is subscribed), then one
//                    event every `?every=` ms (default 1000) until the client
//                    goes away
const TEXT = { "content-type": "text/plain;charset=UTF-8" };
const SSE = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
};
const encoder = new TextEncoder();
const SUBSCRIBED = encoder.encode(": subscribed\n\n");

function events(everyMs: number): ReadableStream<Uint8Array> {
  let timer: ReturnType<typeof setInterval> | undefined;
  let id = 0;
  return new ReadableStream({
    start(controller) {
      controller.enqueue(SUBSCRIBED);
      timer = setInterval(() => {
        id++;
        controller.enqueue(
          encoder.encode(
            `id: ${id}\ndata: {"tick":${id},"at":${Date.now()}}\n\n`,
          ),
        );
      }, everyMs);
    },
    cancel() {
      clearInterval(timer);
    },
  });
}

export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/":
        return new Response("Hello", { headers: TEXT });
      case "/events": {
        const every = Number(url.searchParams.get("every") ?? 1000);
        return new Response(events(every > 0 ? every : 1000), {
          headers: SSE,
        });
      }
      default:
        return new Response("Not Found", { status: 404, headers: TEXT });
    }
  },
} satisfies Deno.ServeDefaultExport;
