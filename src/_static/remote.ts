// Answering a static request from an http(s): root, as a package imported
// from a URL has no file system to read: fetch the file below the root,
// forwarding the conditional and Range headers, and pass the answer through.

import { contentType, notFound, textResponse } from "./responses.ts";

/** The request headers forwarded, so the remote server answers 206 or 304. */
const FORWARDED = ["range", "if-range", "if-none-match", "if-modified-since"];

/** The response headers passed back (Content-Type is ours, see below). */
const PASSED_BACK = [
  "accept-ranges",
  "cache-control",
  "content-length",
  "content-range",
  "etag",
  "last-modified",
];

/**
 * Fetches `segments` (already checked by `decodeSegments()`) below `root`, a
 * URL that ends in "/" (with `index.html` appended for a folder URL): 502 if
 * the fetch fails, 404 for the remote's 404 or 403, else its answer.
 */
export async function fetchRemote(
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
  let upstream: Response;
  try {
    upstream = await fetch(target, {
      method: request.method,
      headers: pick(request.headers, FORWARDED),
      signal: request.signal,
    });
  } catch {
    return textResponse(502, "Bad Gateway");
  }
  if (upstream.status === 404 || upstream.status === 403) {
    await upstream.body?.cancel();
    return notFound();
  }
  const out = pick(upstream.headers, PASSED_BACK);
  if (upstream.status !== 304 && upstream.status !== 416) {
    // Our type table, not the remote server's: hosts differ on e.g. `.ts`.
    out.set("content-type", contentType(target.pathname));
  }
  return new Response(upstream.body, { status: upstream.status, headers: out });
}

/** The headers of `names` that `from` has. */
function pick(from: Headers, names: readonly string[]): Headers {
  const picked = new Headers();
  for (const name of names) {
    const value = from.get(name);
    if (value !== null) picked.set(name, value);
  }
  return picked;
}
