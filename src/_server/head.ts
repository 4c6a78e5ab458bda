// Decoding of the response head a worker writes into its slot's RES_AREA
// ("status\nname\nvalue\n..."; see ./wire.ts), with a one-entry cache
// because most handlers answer with the same head every time. A head is
// checked as it is decoded, so a cached head was checked once.

const decoder = new TextDecoder();
const HOP_BY_HOP = new Set(["transfer-encoding", "connection", "keep-alive"]);

/**
 * RFC 9110 `tchar`s by char code: what a header name may hold, and what
 * Deno's HTTP/1 writer accepts (libs/http_h1/write.rs, valid_header_name).
 */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = TOKEN[c + 0x20] = 1;

/** A decoded response head; shared between responses, never mutated. */
export interface ResponseHead {
  status: number;
  /** Without content-length and hop-by-hop fields. */
  headers: [string, string][];
  /** The content-length the handler set, or -1. */
  declared: number;
}

/** Decodes response heads and remembers the last one it decoded. */
export class HeadDecoder {
  #last: { bytes: Uint8Array; head: ResponseHead } | undefined;

  /**
   * The last decoded head if the `length` bytes at `area` are the same
   * bytes again, else undefined.
   */
  cached(
    bytes: Uint8Array,
    area: number,
    length: number,
  ): ResponseHead | undefined {
    // Comparing ~50 bytes is far cheaper than decoding and splitting them.
    const last = this.#last;
    if (last !== undefined && last.bytes.length === length) {
      const cached = last.bytes;
      let i = 0;
      while (i < length && bytes[area + i] === cached[i]) i++;
      if (i === length) return last.head;
    }
    return undefined;
  }

  /**
   * Decodes the `length` bytes at `area` and remembers them.
   *
   * @throws {RangeError} If the status is not an integer from 200 to 599.
   * @throws {TypeError} If the header list is torn, a content-length is
   * not a decimal number, or a header name or value is not valid.
   */
  decode(bytes: Uint8Array, area: number, length: number): ResponseHead {
    const head = parseHead(decoder.decode(bytes.subarray(area, area + length)));
    this.#last = { bytes: bytes.slice(area, area + length), head };
    return head;
  }
}

/**
 * Parses an encoded head ("status\nname\nvalue\n...").
 *
 * @throws {RangeError} If the status is not an integer from 200 to 599.
 * @throws {TypeError} If the header list is torn, a content-length is not
 * a decimal number, or a header name or value is not valid (see checkField).
 */
export function parseHead(text: string): ResponseHead {
  const fields = text.split("\n");
  const status = Number(fields[0]);
  const headers: [string, string][] = [];
  let declared = -1;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(`Invalid status ${fields[0]}`);
  }
  if (fields.length % 2 !== 1) throw new TypeError("Torn header list");
  for (let i = 1; i < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    if (name === "content-length") {
      if (!/^\d{1,15}$/.test(value)) {
        throw new TypeError(`Invalid content-length ${value}`);
      }
      declared = Number(value);
      continue;
    }
    if (HOP_BY_HOP.has(name)) continue;
    checkField(name, value);
    headers.push([name, value]);
  }
  return { status, headers, declared };
}

/**
 * Refuses a header Deno's HTTP/1 writer would panic on, taking the whole
 * process down (Deno 2.9.6; `Headers` refuses only NUL, CR and LF): a name
 * that is not a token, a value with a control character other than HTAB
 * (RFC 9110 field-value: VCHAR, obs-text, SP, HTAB). Values arrive as
 * Headers left them (ByteStrings, no leading or trailing whitespace).
 *
 * @throws {TypeError} Naming the header.
 */
function checkField(name: string, value: string): void {
  let valid = name.length > 0;
  for (let i = 0; valid && i < name.length; i++) {
    valid = TOKEN[name.charCodeAt(i)] === 1;
  }
  if (!valid) {
    throw new TypeError(`Invalid response header name ${quote(name)}`);
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 ? c !== 0x09 : c === 0x7f || c > 0xff) {
      const code = c.toString(16).toUpperCase().padStart(4, "0");
      throw new TypeError(
        `Invalid value of response header ${name} (U+${code} at ${i}): ${
          quote(value)
        }`,
      );
    }
  }
}

/** A string for an error message: escaped, and cut short if long. */
function quote(text: string): string {
  const cut = text.length > 64 ? text.slice(0, 64) + "…" : text;
  return JSON.stringify(cut).replaceAll("\x7f", "\\u007f");
}
