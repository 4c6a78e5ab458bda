// The Node.js contender: `cluster` + `node:http`, serving the bench routes
// (node_routes.mjs, the twin of handler.ts) or the SSR app (ssr_node.mjs,
// the twin of ssr.ts). Usage:
//   WORKERS=2 PORT=8000 [APP=ssr] [H2C=1] node bench/handlers/node_cluster.mjs
// H2C=1 also speaks HTTP/2 with prior knowledge on the same port, as
// Deno.serve does: each connection's first bytes pick node:http2 (the
// "PRI * HTTP/2.0" preface) or node:http. Off by default, since the sniffing
// costs every new connection a little JavaScript.
import cluster from "node:cluster";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

const workers = Number(process.env.WORKERS ?? "2");
const port = Number(process.env.PORT ?? "8000");

async function loadHandler() {
  if (process.env.APP === "ssr") {
    return (await import("./ssr_node.mjs")).createHandler();
  }
  return (await import("./node_routes.mjs")).handle;
}

// Hands each connection to the server its first bytes ask for. The peeked
// chunk goes back with unshift() before the server sees the socket (read
// with "readable", since node:http2 reads the socket natively and takes
// over whatever the stream still buffers).
function sniffing(h1, h2) {
  return net.createServer({ pauseOnConnect: true }, (socket) => {
    const onReadable = () => {
      const chunk = socket.read();
      if (chunk === null) return;
      socket.off("readable", onReadable);
      socket.unshift(chunk);
      const preface = chunk.toString("latin1", 0, 3) === "PRI";
      (preface ? h2 : h1).emit("connection", socket);
    };
    socket.on("readable", onReadable);
    socket.on("error", () => socket.destroy());
  });
}

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else {
  const handle = await loadHandler();
  const server = http.createServer(handle);
  // Like Deno.serve: keep idle keep-alive connections open between rounds.
  server.keepAliveTimeout = 65_000;
  if (process.env.H2C === "1") {
    sniffing(server, http2.createServer(handle)).listen(port, "127.0.0.1");
  } else {
    server.listen(port, "127.0.0.1");
  }
}
