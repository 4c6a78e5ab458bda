// The wire format of job arguments and results in a slot's data region.
//
// Plain JSON values (the common case) are JSON text: measured here
// JSON + TextEncoder costs ~1.7 µs for a small object where node:v8
// serialize + deserialize costs 10-20 µs. Anything JSON would change
// (undefined, NaN, -0, Date, Map, Set, typed arrays, cycles, class
// instances, ...) goes through node:v8 serialize so it keeps
// structured-clone semantics. A cheap recursive check picks the format.
import { deserialize, serialize } from "node:v8";

/** No bytes: the value is `undefined`. */
export const KIND_UNDEFINED = 0;
/** UTF-8 JSON text. */
export const KIND_JSON = 1;
/** node:v8 `serialize` output (structured clone). */
export const KIND_V8 = 2;
/** Too large for the slot (or has transferables): sent with `postMessage`. */
export const KIND_MESSAGE = 3;
/** Low bits of a kind word that hold one of the kinds above. */
export const KIND_MASK = 0xf;
/** Flag on a result kind: the job threw an `Error`; the value is its WireError (_common/wire_error.ts). */
export const FLAG_ERROR = 0x10;
/** Flag on a result kind: the job threw a value that is not an `Error`. */
export const FLAG_THROWN_VALUE = 0x20;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
// Plain-value checks deeper than this are not worth it (and catch cycles).
const MAX_PLAIN_DEPTH = 16;

/** Whether JSON round-trips `value` exactly. */
export function isPlainJson(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (depth >= MAX_PLAIN_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          // Holes read as undefined, which is not plain: JSON makes them null.
          if (!isPlainJson(value[i], depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value) {
        if (
          !isPlainJson((value as Record<string, unknown>)[key], depth + 1)
        ) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/**
 * Encodes `value` into `target`.
 *
 * @returns `[kind, byteLength]`, or `undefined` if it does not fit or
 * needs `postMessage` (which then reports values that cannot be cloned).
 */
export function encodeInto(
  value: unknown,
  target: Uint8Array,
): [number, number] | undefined {
  if (value === undefined) return [KIND_UNDEFINED, 0];
  if (isPlainJson(value)) {
    const text = JSON.stringify(value);
    // UTF-8 needs at most 3 bytes per UTF-16 unit; below that it always fits.
    if (text.length > target.length) return undefined;
    const { read, written } = encoder.encodeInto(text, target);
    return read === text.length ? [KIND_JSON, written] : undefined;
  }
  let bytes: Uint8Array;
  try {
    bytes = serialize(value);
  } catch {
    // node:v8 refuses some things postMessage clones (SharedArrayBuffer,
    // MessagePort, ...): let the message path decide.
    return undefined;
  }
  if (bytes.length > target.length) return undefined;
  target.set(bytes);
  return [KIND_V8, bytes.length];
}

/** Decodes what {@linkcode encodeInto} wrote. */
export function decode(kind: number, bytes: Uint8Array): unknown {
  switch (kind & KIND_MASK) {
    case KIND_UNDEFINED:
      return undefined;
    case KIND_JSON:
      return JSON.parse(decodeText(bytes));
    case KIND_V8:
      // Copy out of shared memory: the slot is reused once we return.
      return deserialize(bytes.slice());
    default:
      throw new TypeError(`Cannot decode payload of kind ${kind}`);
  }
}

// Below this many bytes a JS loop beats TextDecoder, whose call costs
// ~1-2 µs here (more on shared memory) whatever the length.
const SHORT_TEXT = 48;

/** Decodes UTF-8 text from (shared) memory. */
export function decodeText(bytes: Uint8Array): string {
  const length = bytes.length;
  if (length <= SHORT_TEXT) {
    let text = "";
    for (let i = 0; i < length; i++) {
      const byte = bytes[i]!;
      if (byte > 0x7f) return decoder.decode(bytes.slice());
      text += String.fromCharCode(byte);
    }
    return text;
  }
  // Copying out first is faster than decoding shared memory directly.
  return decoder.decode(bytes.slice());
}

/** Encodes UTF-8 text into `target`; `undefined` if it does not fit. */
export function encodeText(
  text: string,
  target: Uint8Array,
): number | undefined {
  const { read, written } = encoder.encodeInto(text, target);
  return read === text.length ? written : undefined;
}
