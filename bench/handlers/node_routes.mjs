// The bench routes for Node (`node:http` and the `node:http2` compatibility
// API alike): the twin of handler.ts, with the same work functions.
import {
  body64k,
  CHUNK_BYTES,
  parseTarget,
  spin,
  TAGGED_STATUS,
} from "./work.mjs";

const TEXT = "text/plain;charset=UTF-8";
const BINARY = "application/octet-stream";

/**
 * Writes a whole response with its length.
 *
 * @param {import("node:http").ServerResponse} res The response.
 * @param {string} type Its content type.
 * @param {string | Buffer} body Its body.
 * @param {number} [status] Its status.
 */
export function send(res, type, body, status = 200) {
  res.writeHead(status, {
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

function download(res, mib) {
  res.writeHead(200, { "content-type": BINARY });
  let left = mib * (1024 * 1024 / CHUNK_BYTES);
  const pump = () => {
    while (left > 0) {
      left--;
      if (!res.write(new Uint8Array(CHUNK_BYTES).fill(121))) {
        return res.once("drain", pump);
      }
    }
    res.end();
  };
  pump();
}

/**
 * Answers one request of the bench routes (see handler.ts for the list).
 *
 * @param {import("node:http").IncomingMessage} req The request.
 * @param {import("node:http").ServerResponse} res Its response.
 */
export function handle(req, res) {
  const { path, n } = parseTarget(req.url ?? "/");
  switch (path) {
    case "/hello":
      return send(res, TEXT, "Hello");
    case "/cpu":
    case "/fast":
    case "/slow":
      return send(res, TEXT, String(spin(n)));
    case "/slow203":
      return send(res, TEXT, String(spin(n)), TAGGED_STATUS);
    case "/wait":
      return setTimeout(() => send(res, TEXT, "waited"), n);
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
    case "/download":
      return download(res, n);
    default:
      send(res, TEXT, "Not Found", 404);
  }
}
