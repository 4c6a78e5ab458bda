// The Node.js contender: `cluster` + `node:http`, the same routes and the
// same work functions as handler.ts. Usage:
//   WORKERS=2 PORT=8000 node bench/handlers/node_cluster.mjs
import cluster from "node:cluster";
import http from "node:http";
import { body64k, CHUNK_BYTES, parseTarget, spin } from "./work.mjs";

const TEXT = "text/plain;charset=UTF-8";
const BINARY = "application/octet-stream";

function send(res, type, body) {
  res.writeHead(200, {
    "content-type": type,
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

function readAll(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function handle(req, res) {
  const { path, n } = parseTarget(req.url ?? "/");
  switch (path) {
    case "/hello":
      return send(res, TEXT, "Hello");
    case "/cpu":
    case "/fast":
    case "/slow":
      return send(res, TEXT, String(spin(n)));
    case "/64k":
      return send(res, BINARY, Buffer.from(body64k().buffer));
    case "/echo":
      return readAll(req).then((body) => send(res, BINARY, body));
    case "/upload": {
      let total = 0;
      req.on("data", (c) => total += c.length);
      req.on("end", () => send(res, TEXT, String(total)));
      return;
    }
    case "/download": {
      res.writeHead(200, { "content-type": BINARY });
      let left = n * (1024 * 1024 / CHUNK_BYTES);
      const pump = () => {
        while (left > 0) {
          left--;
          if (!res.write(new Uint8Array(CHUNK_BYTES).fill(121))) {
            return res.once("drain", pump);
          }
        }
        res.end();
      };
      return pump();
    }
    default:
      res.writeHead(404, { "content-type": TEXT, "content-length": 9 });
      res.end("Not Found");
  }
}

const workers = Number(process.env.WORKERS ?? "2");
const port = Number(process.env.PORT ?? "8000");

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else {
  const server = http.createServer(handle);
  // Like Deno.serve: keep idle keep-alive connections open between rounds.
  server.keepAliveTimeout = 65_000;
  server.listen(port, "127.0.0.1");
}
