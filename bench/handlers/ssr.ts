// The SSR app every Deno contender serves for the "ssr" workload (Node's
// twin: ssr_node.mjs; both render with ssr_page.mjs). Routes:
//   GET /ssr?n=N          listing page N, ~50 KiB of HTML rendered per request
//   GET /api?n=ID         a small JSON document (one product)
//   GET /static/app.css   a file from ./static/, read per request (ringpool
//                         serves it with its `static` option instead, on the
//                         main thread, before a worker sees the request)
//   GET /hello            "Hello" (the harness's readiness probe)
import { createContext, h, renderToString, useContext } from "./ssr_deps.ts";
import { createSsr } from "./ssr_page.mjs";
import { parseTarget } from "./work.mjs";

const ssr = createSsr({ h, createContext, useContext, renderToString });
const STATIC = new URL("./static/", import.meta.url);
const TYPES: Record<string, string> = {
  css: "text/css; charset=UTF-8",
  js: "text/javascript; charset=UTF-8",
  svg: "image/svg+xml",
};
const TEXT = { "content-type": "text/plain;charset=UTF-8" };

// A file server's minimum: one flat folder, names of safe characters only.
async function file(name: string): Promise<Response> {
  if (!/^[a-z0-9_-]+\.[a-z0-9]+$/.test(name)) {
    return new Response("Not Found", { status: 404, headers: TEXT });
  }
  try {
    const body = await Deno.readFile(new URL(name, STATIC));
    const type = TYPES[name.slice(name.lastIndexOf(".") + 1)] ??
      "application/octet-stream";
    return new Response(body, { headers: { "content-type": type } });
  } catch {
    return new Response("Not Found", { status: 404, headers: TEXT });
  }
}

export default {
  fetch(request: Request): Response | Promise<Response> {
    const { path, n } = parseTarget(request.url);
    if (path === "/ssr") {
      return new Response(ssr.page(n), {
        headers: { "content-type": "text/html; charset=UTF-8" },
      });
    }
    if (path === "/api") {
      return new Response(ssr.product(n), {
        headers: { "content-type": "application/json" },
      });
    }
    if (path.startsWith("/static/")) return file(path.slice(8));
    if (path === "/hello") return new Response("Hello", { headers: TEXT });
    return new Response("Not Found", { status: 404, headers: TEXT });
  },
} satisfies Deno.ServeDefaultExport;
