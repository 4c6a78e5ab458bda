// Answering a static request from the local file system: find the file
// inside the root, then 304, 416, 206 or 200 with its validators, and the
// bytes (none for HEAD).

import { etagOf, isNotModified, requestedRange } from "./conditional.ts";
import { fileBody } from "./file_body.ts";
import { findFile } from "./paths.ts";
import { contentType, notFound, redirectToFolder } from "./responses.ts";

/**
 * Answers a GET or HEAD for `segments` (already checked by
 * `decodeSegments()`) below the folder `root`; `url` is the request's URL,
 * for the redirect of a folder asked for without its trailing slash.
 */
export async function serveFile(
  request: Request,
  url: URL,
  root: string,
  segments: string[],
  wantsFolder: boolean,
): Promise<Response> {
  const found = findFile(root, segments, wantsFolder);
  if (found === "redirect") return redirectToFolder(url);
  if (found === undefined) return notFound();
  const { path, info: { size, mtime } } = found;
  const etag = etagOf(size, mtime);
  const headers = new Headers({
    "accept-ranges": "bytes",
    "content-type": contentType(path),
    etag,
  });
  if (mtime) headers.set("last-modified", mtime.toUTCString());

  if (isNotModified(request.headers, etag, mtime)) {
    headers.delete("content-type");
    headers.delete("accept-ranges");
    return new Response(null, { status: 304, headers });
  }
  const range = requestedRange(request.headers, size, etag, mtime);
  if (range === "unsatisfiable") {
    headers.set("content-range", `bytes */${size}`);
    headers.delete("content-type");
    return new Response(null, { status: 416, headers });
  }
  const [start, end] = range ?? [0, size - 1];
  if (range !== undefined) {
    headers.set("content-range", `bytes ${start}-${end}/${size}`);
  }
  const status = range === undefined ? 200 : 206;
  const length = end - start + 1;
  headers.set("content-length", String(length));
  if (request.method === "HEAD" || length === 0) {
    return new Response(null, { status, headers });
  }
  const body = await fileBody(path, start, length);
  return body === undefined
    ? notFound()
    : new Response(body, { status, headers });
}
