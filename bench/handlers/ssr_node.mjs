// The SSR app for Node (the twin of ssr.ts, the same routes and the same
// rendering code, ssr_page.mjs). The library comes from an npm-installed
// copy of the versions pinned in ssr_deps.ts, whose entry module the
// harness passes in SSR_DEPS (see contenders/node_ssr_deps.ts).
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { send } from "./node_routes.mjs";
import { createSsr } from "./ssr_page.mjs";
import { parseTarget } from "./work.mjs";

const STATIC = new URL("./static/", import.meta.url);
const TYPES = {
  css: "text/css; charset=UTF-8",
  js: "text/javascript; charset=UTF-8",
  svg: "image/svg+xml",
};
const TEXT = "text/plain;charset=UTF-8";

async function file(res, name) {
  if (!/^[a-z0-9_-]+\.[a-z0-9]+$/.test(name)) {
    return send(res, TEXT, "Not Found", 404);
  }
  try {
    const body = await readFile(new URL(name, STATIC));
    const type = TYPES[name.slice(name.lastIndexOf(".") + 1)] ??
      "application/octet-stream";
    send(res, type, body);
  } catch {
    send(res, TEXT, "Not Found", 404);
  }
}

/**
 * Loads the library and returns the request handler.
 *
 * @returns {Promise<(req: import("node:http").IncomingMessage,
 *   res: import("node:http").ServerResponse) => void>} The handler.
 */
export async function createHandler() {
  const deps = process.env.SSR_DEPS;
  if (!deps) throw new Error("SSR_DEPS must name the installed library entry");
  const lib = await import(pathToFileURL(deps).href);
  const ssr = createSsr(lib);
  return (req, res) => {
    const { path, n } = parseTarget(req.url ?? "/");
    if (path === "/ssr") {
      return send(res, "text/html; charset=UTF-8", ssr.page(n));
    }
    if (path === "/api") return send(res, "application/json", ssr.product(n));
    if (path.startsWith("/static/")) return file(res, path.slice(8));
    if (path === "/hello") return send(res, TEXT, "Hello");
    send(res, TEXT, "Not Found", 404);
  };
}
