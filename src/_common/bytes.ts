// Copies between shared memory and buffers of our own, for every engine.

/**
 * Copies `bytes[start, end)` into a new buffer of its own. Measured on Deno
 * 2.9: `slice()` of a view on a SharedArrayBuffer takes ~9 µs for 64 KiB,
 * allocating and `set()`ting ~6 µs.
 */
export function copyOut(
  bytes: Uint8Array,
  start: number,
  end: number,
): Uint8Array<ArrayBuffer> {
  const copy = new Uint8Array(end - start);
  copy.set(bytes.subarray(start, end));
  return copy;
}

/** The bytes as a whole ArrayBuffer of their own, safe to transfer. */
export function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  const buffer = bytes.buffer;
  if (
    buffer instanceof ArrayBuffer && bytes.byteOffset === 0 &&
    bytes.byteLength === buffer.byteLength
  ) return buffer;
  return bytes.slice().buffer as ArrayBuffer;
}
