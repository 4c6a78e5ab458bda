/**
 * Serving files from the main thread, without a hop to a worker.
 *
 * @module
 */

import mime from "npm:mime@4.1.2";
import { join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

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

// Files are streamed in chunks of this size, so a large file never sits in
// memory whole.
const CHUNK_SIZE = 64 * 1024;

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
  const url = new URL(request.url);
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
  if (segments === undefined) return textResponse(404, "Not Found");
  const wantsFolder = pathname.endsWith("/");

  if (root instanceof URL) {
    if (segments.length === 0 && !wantsFolder) return redirectToFolder(url);

    return await fetchRemote(request, root, segments, wantsFolder);
  }
  return await serveFile(request, url, root, segments, wantsFolder);
}

/** Turns `options.root` into an absolute path, or a URL for remote roots. */
function parseRoot(root: string | URL): string | URL {
  let url: URL | undefined;
  if (root instanceof URL) url = root;
  else if (/^(file|https?):/i.test(root)) url = new URL(root);
  if (url === undefined) {
    if (typeof root !== "string" || root === "") {
      throw new TypeError(
        `Cannot serve static files as 'root' must be a path or a file:, http: or https: URL: received ${
          String(root)
        }`,
      );
    }
    return resolve(root);
  }
  if (url.protocol === "file:") return fileURLToPath(url);
  if (url.protocol === "http:" || url.protocol === "https:") {
    // A trailing slash makes relative resolution stay below the root.
    return url.pathname.endsWith("/") ? url : new URL(url.href + "/");
  }
  throw new TypeError(
    `Cannot serve static files as 'root' must be a path or a file:, http: or https: URL: received ${url.href}`,
  );
}

function normalisePrefix(prefix: string): string {
  if (typeof prefix !== "string" || !prefix.startsWith("/")) {
    throw new TypeError(
      `Cannot serve static files as 'prefix' must start with "/": received ${
        JSON.stringify(prefix)
      }`,
    );
  }
  // "/" and "/assets/" become "" and "/assets", so the match below is one rule.
  return prefix.replace(/\/+$/, "");
}

/**
 * Splits the path below the prefix into decoded segments, or `undefined` if
 * any segment could escape the root or is not valid percent-encoding.
 */
function decodeSegments(rest: string): string[] | undefined {
  const segments: string[] = [];
  for (const raw of rest.split("/")) {
    if (raw === "") continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    // An encoded "/" or "\" would let one segment hold several path steps, and
    // a NUL byte truncates paths in some system calls: refuse them outright.
    if (
      segment === "." || segment === ".." || segment.includes("/") ||
      segment.includes("\\") || segment.includes("\0")
    ) {
      return undefined;
    }
    segments.push(segment);
  }
  return segments;
}

async function serveFile(
  request: Request,
  url: URL,
  root: string,
  segments: string[],
  wantsFolder: boolean,
): Promise<Response> {
  // Path lookups use the synchronous calls on purpose: they are answered from
  // the kernel's caches in microseconds, while each async call hops through a
  // thread pool that costs more than the call itself (measured with wrk on
  // a small file: 6.5k req/s all async, 14k req/s with sync lookups). File
  // contents, which may need the disk, are still read asynchronously.
  let realRoot: string;
  try {
    realRoot = Deno.realPathSync(root);
  } catch {
    return textResponse(404, "Not Found");
  }
  let target = containedRealPath(realRoot, join(root, ...segments));
  if (target === undefined) return textResponse(404, "Not Found");
  let info = statOrUndefined(target);
  if (info?.isDirectory) {
    if (!wantsFolder) return redirectToFolder(url);
    target = containedRealPath(realRoot, join(target, "index.html"));
    if (target === undefined) return textResponse(404, "Not Found");
    info = statOrUndefined(target);
  }
  // Not found any more (deleted since realPath), or a FIFO, socket, device.
  if (info === undefined || !info.isFile) return textResponse(404, "Not Found");

  const size = info.size;
  const mtime = info.mtime;
  const etag = `"${size.toString(16)}-${(mtime?.getTime() ?? 0).toString(16)}"`;
  const headers = new Headers({
    "accept-ranges": "bytes",
    "content-type": contentType(target),
    etag,
  });
  if (mtime) headers.set("last-modified", mtime.toUTCString());

  if (isNotModified(request.headers, etag, mtime)) {
    headers.delete("content-type");
    headers.delete("accept-ranges");
    return new Response(null, { status: 304, headers });
  }

  let status = 200;
  let start = 0;
  let end = size - 1;
  const range = request.headers.get("range");
  if (range !== null && ifRangeMatches(request.headers, etag, mtime)) {
    const parsed = parseRange(range, size);
    if (parsed === "unsatisfiable") {
      headers.set("content-range", `bytes */${size}`);
      headers.delete("content-type");
      return new Response(null, { status: 416, headers });
    }
    if (parsed !== undefined) {
      status = 206;
      [start, end] = parsed;
      headers.set("content-range", `bytes ${start}-${end}/${size}`);
    }
  }
  const length = end - start + 1;
  headers.set("content-length", String(length));
  if (request.method === "HEAD" || length === 0) {
    return new Response(null, { status, headers });
  }
  if (length <= CHUNK_SIZE) {
    // Small files in one read: a byte body takes Deno.serve's fast path,
    // which a stream does not.
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await readRange(target, start, length);
    } catch {
      return textResponse(404, "Not Found");
    }
    return new Response(bytes, { status, headers });
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(target, { read: true });
  } catch {
    return textResponse(404, "Not Found");
  }
  return new Response(fileStream(file, start, length), { status, headers });
}

/**
 * Resolves symlinks in `path` and returns it if it lies inside `realRoot`;
 * `undefined` if it does not exist or lies outside.
 */
function containedRealPath(
  realRoot: string,
  path: string,
): string | undefined {
  let real: string;
  try {
    real = Deno.realPathSync(path);
  } catch {
    return undefined;
  }
  const inside = real === realRoot ||
    real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
  return inside ? real : undefined;
}

function statOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch {
    return undefined;
  }
}

function contentType(path: string): string {
  const type = mime.getType(path) ?? "application/octet-stream";
  // Browsers guess the charset of text without one; our text files are UTF-8.
  const isText = type.startsWith("text/") || type === "application/json" ||
    type === "application/xml" || type.endsWith("+xml") ||
    type.endsWith("+json");
  return isText ? `${type}; charset=UTF-8` : type;
}

/** RFC 9110 §13.1.2 and §13.1.3: If-None-Match wins over If-Modified-Since. */
function isNotModified(
  headers: Headers,
  etag: string,
  mtime: Date | null,
): boolean {
  const ifNoneMatch = headers.get("if-none-match");
  if (ifNoneMatch !== null) {
    // Weak comparison: a W/ prefix on either side does not matter here.
    const bare = etag.replace(/^W\//, "");
    return ifNoneMatch.split(",").some((tag) => {
      const candidate = tag.trim();
      return candidate === "*" || candidate.replace(/^W\//, "") === bare;
    });
  }
  const ifModifiedSince = headers.get("if-modified-since");
  if (ifModifiedSince !== null && mtime !== null) {
    const since = Date.parse(ifModifiedSince);
    // HTTP dates have whole seconds, so compare at that precision.
    return !Number.isNaN(since) &&
      Math.floor(mtime.getTime() / 1000) <= Math.floor(since / 1000);
  }
  return false;
}

/** RFC 9110 §13.1.5: a Range only applies if If-Range (if any) still matches. */
function ifRangeMatches(
  headers: Headers,
  etag: string,
  mtime: Date | null,
): boolean {
  const ifRange = headers.get("if-range");
  if (ifRange === null) return true;
  // An entity tag must match strongly; ours are strong.
  if (ifRange.startsWith('"')) return ifRange === etag;
  const date = Date.parse(ifRange);
  return mtime !== null && !Number.isNaN(date) &&
    Math.floor(mtime.getTime() / 1000) === Math.floor(date / 1000);
}

/**
 * Parses a single `bytes=` range against a file of `size` bytes: the
 * inclusive `[start, end]`, `"unsatisfiable"` (416), or `undefined` for a
 * header we ignore (malformed, another unit, or several ranges — RFC 9110
 * lets a server answer those with the whole file).
 */
function parseRange(
  header: string,
  size: number,
): [number, number] | "unsatisfiable" | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return undefined;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return undefined;
  if (first === "") {
    // "bytes=-N": the last N bytes.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== "" && Number(last) < start) return undefined;
  if (start >= size) return "unsatisfiable";
  return [start, end];
}

/** Reads `length` bytes of the file at `path` from `start`. */
async function readRange(
  path: string,
  start: number,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  if (start === 0) {
    const bytes = await Deno.readFile(path);
    // The file may have grown since it was stat'ed; send what was announced.
    if (bytes.length >= length) return bytes.subarray(0, length);
    throw new Error("The file got shorter while being sent");
  }
  using file = await Deno.open(path, { read: true });
  await file.seek(start, Deno.SeekMode.Start);
  const bytes = new Uint8Array(length);
  let offset = 0;
  while (offset < length) {
    const read = await file.read(bytes.subarray(offset));
    if (read === null) throw new Error("The file got shorter while being sent");
    offset += read;
  }
  return bytes;
}

/** Streams `length` bytes of `file` from `start`, closing the file at the end. */
function fileStream(
  file: Deno.FsFile,
  start: number,
  length: number,
): ReadableStream<Uint8Array> {
  let remaining = length;
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      file.close();
    }
  };
  return new ReadableStream<Uint8Array>({
    async start() {
      if (start > 0) await file.seek(start, Deno.SeekMode.Start);
    },
    async pull(controller) {
      try {
        const buffer = new Uint8Array(Math.min(CHUNK_SIZE, remaining));
        const read = await file.read(buffer);
        if (read === null) {
          // The file shrank under us: end the body rather than hang.
          close();
          controller.error(new Error("The file got shorter while being sent"));
          return;
        }
        remaining -= read;
        controller.enqueue(buffer.subarray(0, read));
        if (remaining === 0) {
          close();
          controller.close();
        }
      } catch (error) {
        close();
        controller.error(error);
      }
    },
    cancel() {
      close();
    },
  });
}

async function fetchRemote(
  request: Request,
  root: URL,
  segments: string[],
  wantsFolder: boolean,
): Promise<Response> {
  const path = segments.map(encodeURIComponent).join("/");
  const target = new URL(
    wantsFolder ? (path === "" ? "index.html" : `${path}/index.html`) : path,
    root,
  );
  const headers = new Headers();
  for (
    const name of [
      "range",
      "if-range",
      "if-none-match",
      "if-modified-since",
    ]
  ) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  let upstream: Response;
  try {
    upstream = await fetch(target, {
      method: request.method,
      headers,
      signal: request.signal,
    });
  } catch {
    return textResponse(502, "Bad Gateway");
  }
  if (upstream.status === 404 || upstream.status === 403) {
    await upstream.body?.cancel();
    return textResponse(404, "Not Found");
  }
  const out = new Headers();
  for (
    const name of [
      "accept-ranges",
      "cache-control",
      "content-length",
      "content-range",
      "etag",
      "last-modified",
    ]
  ) {
    const value = upstream.headers.get(name);
    if (value !== null) out.set(name, value);
  }
  if (upstream.status !== 304 && upstream.status !== 416) {
    // Our type table, not the remote server's: hosts differ on e.g. `.ts`.
    out.set("content-type", contentType(target.pathname));
  }
  return new Response(upstream.body, { status: upstream.status, headers: out });
}

/** Relative links in an index page only work from the folder's own URL. */
function redirectToFolder(url: URL): Response {
  return new Response(null, {
    status: 301,
    headers: { location: `${url.pathname}/${url.search}` },
  });
}

function textResponse(
  status: number,
  body: string,
  extra: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=UTF-8", ...extra },
  });
}
