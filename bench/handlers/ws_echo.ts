// The handler bench/ws.ts serves with every contender (ringpool's serve(),
// `deno serve`, `deno serve --parallel`). Routes:
//   GET /            "ok" — readiness
//   GET /echo?n=N    a WebSocket upgrade; every message is sent back as it
//                    came (text as text, binary as binary), after N rounds
//                    of the calibrated integer loop (0 when absent; the
//                    harness picks N for ~1 ms on the machine)
import { parseTarget, spin } from "./work.mjs";

const TEXT = { "content-type": "text/plain;charset=UTF-8" };

function echo(request: Request, n: number): Response {
  const { socket, response } = Deno.upgradeWebSocket(request);
  // An ArrayBuffer goes back without a Blob round trip on either runtime.
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => {
    if (n > 0) spin(n);
    socket.send(event.data);
  };
  return response;
}

export default {
  fetch(request: Request): Response {
    const { path, n } = parseTarget(request.url);
    if (path === "/echo" && request.headers.get("upgrade") === "websocket") {
      return echo(request, n);
    }
    if (path === "/") return new Response("ok", { headers: TEXT });
    return new Response("Not Found", { status: 404, headers: TEXT });
  },
} satisfies Deno.ServeDefaultExport;
