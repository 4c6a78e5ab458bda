// Deno's fast path for plain responses, used to skip a ReadableStream.
import type { WorkerContext } from "./context.ts";
import { finish } from "./finish.ts";
import { sendBulk } from "./respond.ts";
import type { Task } from "./task.ts";
import {
  BULK_BYTES,
  C_RES_HEAD_LEN,
  C_RES_LEN,
  EV_RESPONSE_FULL,
  RES_AREA,
  RES_BYTES,
} from "../wire.ts";

const encoder = new TextEncoder();

// Deno 2.9 keeps the status, body and content type of a Response built as
// `new Response(string | BufferSource, { headers?: only content-type })`
// in internal fields for Deno.serve's fast path, until anything reads its
// headers (reading its body leaves them). Reading them lets us copy such a
// body straight into the slot, skipping the ReadableStream Deno would
// otherwise create for us (measured ~3 µs of ~19 µs per request). The
// fields are found by their description and checked against a known
// response; if a Deno version lays them out differently, FAST stays
// undefined and every response takes the stream path.
//
// Deno.serve refuses (500) such a response if its body was read (the inner
// response's body says so; "serve fast consumed" does not) or if it was
// sent before: Deno sets "serve fast consumed" once it has sent it, and so
// do we.
interface FastFields {
  status: symbol;
  body: symbol;
  kind: symbol;
  contentType: symbol;
  consumed: symbol;
  /** Deno's inner response; its `body` is null until something reads it. */
  response: symbol;
}

/** The part of Deno's inner response the fast path reads. */
interface InnerResponse {
  body: { consumed(): boolean } | null;
}
export const FAST: FastFields | undefined = (() => {
  const probe = new Response("ok", { headers: { "content-type": "a/b" } });
  const find = (name: string) =>
    Object.getOwnPropertySymbols(probe).find((s) => s.description === name);
  const fields = {
    status: find("serve fast status"),
    body: find("serve fast body"),
    kind: find("serve fast header kind"),
    contentType: find("serve fast content type"),
    consumed: find("serve fast consumed"),
    response: find("response"),
  };
  const read = (response: Response, field: symbol | undefined) =>
    field === undefined
      ? undefined
      : (response as unknown as Record<symbol, unknown>)[field];
  const plain = new Response("ok");
  const binary = new Response(new Uint8Array(1));
  const custom = new Response("ok", { headers: { "x-a": "b" } });
  const used = new Response(new Uint8Array(1));
  used.arrayBuffer();
  if (
    read(probe, fields.status) !== 200 || read(probe, fields.body) !== "ok" ||
    read(probe, fields.kind) !== 2 ||
    read(probe, fields.contentType) !== "a/b" ||
    read(probe, fields.consumed) !== false ||
    read(plain, fields.kind) !== 1 || read(binary, fields.kind) !== 0 ||
    !(read(binary, fields.body) instanceof Uint8Array) ||
    read(custom, fields.status) !== 0 ||
    (read(plain, fields.response) as InnerResponse | undefined)?.body !==
      null ||
    (read(binary, fields.response) as InnerResponse).body?.consumed() !==
      false ||
    (read(used, fields.response) as InnerResponse).body?.consumed() !== true
  ) return undefined;
  return fields as FastFields;
})();

function consumed(): TypeError {
  return new TypeError("The response body has already been consumed");
}

/**
 * Writes a fast-path response straight into the slot; false if it is not one.
 *
 * @throws {TypeError} If its body was read, or it was sent before.
 */
export function respondFast(
  ctx: WorkerContext,
  task: Task,
  response: Response,
): boolean {
  const fields = FAST!;
  const internal = response as unknown as Record<symbol, unknown>;
  if (internal[fields.status] !== 200) return false;
  if (
    internal[fields.consumed] !== false ||
    (internal[fields.response] as InnerResponse).body?.consumed()
  ) throw consumed();
  const head = fastHead(internal, fields);
  if (head === undefined) return false;
  const { bytes, words } = ctx;
  const area = task.offset + RES_AREA;
  const end = area + RES_BYTES;
  const headResult = encoder.encodeInto(head, bytes.subarray(area, end));
  if (headResult.read < head.length) return false;
  const headLength = headResult.written;
  let used = headLength;
  const body = internal[fields.body];
  if (typeof body === "string") {
    const result = encoder.encodeInto(body, bytes.subarray(area + used, end));
    if (result.read < body.length) return false; // too large: stream it
    used += result.written;
  } else if (body instanceof Uint8Array) {
    if (body.byteLength > RES_BYTES - used) {
      if (body.byteLength > BULK_BYTES) return false;
      // Deno's own copy might be shared with a clone: send a copy of it.
      words[task.word + C_RES_HEAD_LEN] = headLength;
      internal[fields.consumed] = true;
      sendBulk(ctx, task, body.slice());
      return true;
    }
    bytes.set(body, area + used);
    used += body.byteLength;
  } else return false;
  words[task.word + C_RES_HEAD_LEN] = headLength;
  words[task.word + C_RES_LEN] = used;
  internal[fields.consumed] = true;
  finish(ctx, task, EV_RESPONSE_FULL);
  return true;
}

/** The encoded head of a fast-path response, or undefined if it has another kind. */
function fastHead(
  internal: Record<symbol, unknown>,
  fields: FastFields,
): string | undefined {
  const kind = internal[fields.kind];
  if (kind === 0) return "200";
  if (kind === 1) return "200\ncontent-type\ntext/plain;charset=UTF-8";
  if (kind === 2 && typeof internal[fields.contentType] === "string") {
    return "200\ncontent-type\n" + internal[fields.contentType];
  }
  return undefined;
}
