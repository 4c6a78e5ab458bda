// Small pure helpers the server's main thread uses on requests: reading a
// body into buffers of our own, finding a URL's path. (Copies between
// shared memory and buffers are in ../_common/bytes.ts.)

/** A BYOB reader of a request body, or undefined if it is not a byte stream. */
export function byobReader(
  body: ReadableStream<Uint8Array>,
): ReadableStreamBYOBReader | undefined {
  try {
    return body.getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
}

/** The path of an absolute request URL, without parsing the whole URL. */
export function pathOf(url: string): string {
  // Deno.serve's request.url is always "scheme://authority/path?query".
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  let end = url.indexOf("?", start);
  if (end < 0) end = url.length;
  const hash = url.indexOf("#", start);
  if (hash >= 0 && hash < end) end = hash;
  return url.slice(start, end);
}
