/**
 * Serving files from the main thread, without a hop to a worker.
 *
 * @module
 */

import { serveFile } from "./_static/local.ts";
import { decodeSegments, normalisePrefix, parseRoot } from "./_static/paths.ts";
import { fetchRemote } from "./_static/remote.ts";
import {
  notFound,
  redirectToFolder,
  textResponse,
} from "./_static/responses.ts";

/** Options for {@linkcode serveStatic}. */
export interface ServeStaticOptions {
  /**
   * The folder to serve: a path (relative ones resolve against the current
   * working directory), a `file:` URL, or an `http:`/`https:` URL. With an
   * `http(s):` root the files are fetched from there instead of read from
   * disk, so a package imported from a URL (as JSR users get it) can serve the
   * files that ship beside it.
   */
  root: string | URL;
  /**
   * The URL path the files live under; requests outside it are not handled.
   * `"/assets"` serves `/assets/app.css` from `<root>/app.css`.
   *
   * @default {"/"}
   */
  prefix?: string;
}

const ALLOWED_METHODS = "GET, HEAD";

/**
 * Answers a request from the files under `options.root`, like a static file
 * server: the right `Content-Type`, `ETag` and `Last-Modified` validators
 * (`If-None-Match` / `If-Modified-Since` give 304), `HEAD`, a single byte
 * `Range` (206, or 416 when it cannot be satisfied), `index.html` for folders
 * (a folder URL without its trailing slash is redirected to it), 404 for what
 * is missing and 405 for methods other than `GET` and `HEAD`.
 *
 * No request reaches outside the root: `..` segments (also percent-encoded),
 * encoded slashes or backslashes and NUL bytes are refused, and the resolved
 * path (after following symlinks) must lie inside the resolved root, so a
 * symlink that points outside answers 404.
 *
 * With an `http:`/`https:` root the file is fetched from the URL below the
 * root instead (with `index.html` appended for folder URLs), forwarding the
 * conditional and `Range` headers, so the remote server's answer (200, 206,
 * 304, 404, ...) is passed through.
 *
 * @param request The request to answer.
 * @param options Where the files are and which URL path they live under.
 * @returns The response, or `undefined` when the request's path is not under
 *   `options.prefix` (the caller handles it some other way).
 * @throws {TypeError} If `options.root` is not a path or a `file:`, `http:` or
 *   `https:` URL, or `options.prefix` does not start with `/`.
 *
 * @example Serve a folder under /assets
 * ```ts
 * import { serveStatic } from "@ringpool/ringpool";
 * import assert from "node:assert/strict";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/hello.txt`, "Hello!");
 *
 * const ok = await serveStatic(
 *   new Request("http://localhost/assets/hello.txt"),
 *   { root, prefix: "/assets" },
 * );
 * assert.equal(ok?.status, 200);
 * assert.equal(ok?.headers.get("content-type"), "text/plain; charset=UTF-8");
 * assert.equal(await ok?.text(), "Hello!");
 *
 * // Outside the prefix: not ours to answer.
 * const other = await serveStatic(new Request("http://localhost/api"), {
 *   root,
 *   prefix: "/assets",
 * });
 * assert.equal(other, undefined);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function serveStatic(
  request: Request,
  options: ServeStaticOptions,
): Promise<Response | undefined> {
  const root = parseRoot(options.root);
  const prefix = normalisePrefix(options.prefix ?? "/");
  // A request URL Deno.serve passes on but the URL parser refuses (a Host
  // with a space, say) is not a file request: the handler gets it.
  const url = URL.parse(request.url);
  if (url === null) return undefined;
  // The URL parser has already resolved literal and %2e-encoded dot segments,
  // so a request that climbs out of the prefix simply lands outside it.
  const pathname = url.pathname;
  if (
    prefix !== "" && pathname !== prefix && !pathname.startsWith(prefix + "/")
  ) {
    return undefined;
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return textResponse(405, "Method Not Allowed", { allow: ALLOWED_METHODS });
  }
  const segments = decodeSegments(pathname.slice(prefix.length));
  if (segments === undefined) return notFound();
  const wantsFolder = pathname.endsWith("/");

  if (root instanceof URL) {
    if (segments.length === 0 && !wantsFolder) return redirectToFolder(url);
    return await fetchRemote(request, root, segments, wantsFolder);
  }
  return await serveFile(request, url, root, segments, wantsFolder);
}
