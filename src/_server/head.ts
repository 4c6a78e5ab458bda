// Decoding of the response head a worker writes into its slot's RES_AREA
// ("status\nname\nvalue\n..."; see src/_server_wire.ts), with a one-entry
// cache because most handlers answer with the same head every time.

const decoder = new TextDecoder();
const HOP_BY_HOP = new Set(["transfer-encoding", "connection", "keep-alive"]);

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
   * @throws {TypeError} If the header list is torn or a content-length is
   * not a decimal number.
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
 * @throws {TypeError} If the header list is torn or a content-length is
 * not a decimal number.
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
    headers.push([name, value]);
  }
  return { status, headers, declared };
}
