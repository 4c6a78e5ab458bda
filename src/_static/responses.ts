// The small responses every part of serveStatic answers with, and the
// Content-Type table local and remote files share.

import mime from "npm:mime@4.1.2";

/** A plain-text response, e.g. `textResponse(404, "Not Found")`. */
export function textResponse(
  status: number,
  body: string,
  extra: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=UTF-8", ...extra },
  });
}

/** The 404 for anything missing, outside the root or not a regular file. */
export function notFound(): Response {
  return textResponse(404, "Not Found");
}

/**
 * Relative links in an index page only work from the folder's own URL. Runs
 * of slashes (and backslashes, which the URL parser turns into slashes in
 * http: URLs) are collapsed: `//sub` would give `location: //sub/`, a
 * protocol-relative URL that sends the browser to the host `sub`. So the
 * location is always a path on this host, the folder's canonical one.
 */
export function redirectToFolder(url: URL): Response {
  const path = url.pathname.replace(/[/\\]{2,}/g, "/");
  return new Response(null, {
    status: 301,
    headers: { location: `${path}/${url.search}` },
  });
}

/** The Content-Type for a file name, with a UTF-8 charset for text. */
export function contentType(path: string): string {
  const type = mime.getType(path) ?? "application/octet-stream";
  // Browsers guess the charset of text without one; our text files are UTF-8.
  const isText = type.startsWith("text/") || type === "application/json" ||
    type === "application/xml" || type.endsWith("+xml") ||
    type.endsWith("+json");
  return isText ? `${type}; charset=UTF-8` : type;
}
