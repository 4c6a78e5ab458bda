// Conditional requests and ranges for local files (RFC 9110 §13 and §14):
// the validators a file gets, whether a request's validators make it a 304,
// and which bytes a Range header asks for.

/** A file's strong entity tag, from its size and modification time. */
export function etagOf(size: number, mtime: Date | null): string {
  return `"${size.toString(16)}-${(mtime?.getTime() ?? 0).toString(16)}"`;
}

/** RFC 9110 §13.1.2 and §13.1.3: If-None-Match wins over If-Modified-Since. */
export function isNotModified(
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

/**
 * The bytes a request asks for of a file of `size` bytes: the inclusive
 * `[start, end]` (206), `"unsatisfiable"` (416), or `undefined` for the whole
 * file (no Range, one we ignore, or an If-Range that no longer matches).
 */
export function requestedRange(
  headers: Headers,
  size: number,
  etag: string,
  mtime: Date | null,
): [number, number] | "unsatisfiable" | undefined {
  const range = headers.get("range");
  if (range === null || !ifRangeMatches(headers, etag, mtime)) return undefined;
  return parseRange(range, size);
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
