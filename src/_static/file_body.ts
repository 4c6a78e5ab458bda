// Reading a local file's bytes for a response: small files in one read (a
// byte body takes Deno.serve's fast path), larger ones streamed in chunks so
// a large file never sits in memory whole.

/** Files are streamed in chunks of this size. */
const CHUNK_SIZE = 64 * 1024;

/**
 * The body for `length` bytes of the file at `path` from `start`, or
 * `undefined` if the file cannot be opened or read (gone since it was found).
 */
export async function fileBody(
  path: string,
  start: number,
  length: number,
): Promise<Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | undefined> {
  if (length <= CHUNK_SIZE) {
    try {
      return await readRange(path, start, length);
    } catch {
      return undefined;
    }
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return undefined;
  }
  return fileStream(file, start, length);
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
