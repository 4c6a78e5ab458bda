// A response body streamed from a worker through its slot's RES_AREA: the
// worker writes a chunk and sends CHUNK (or END); main copies the chunk out
// only when the socket asks for more (highWaterMark 0), then hands the area
// back with CREDIT. So a slow client stalls the worker, never main's memory.
import { copyOut } from "../_common/bytes.ts";
import { type ServerContext, tellOwner } from "./context.ts";
import type { Slot } from "./slots.ts";
import { C_RES_LEN, IN_CREDIT, RES_AREA } from "./wire.ts";

/** Main's side of one streamed response body. */
export class ResponseStream {
  readonly body: ReadableStream<Uint8Array>;
  readonly #ctx: ServerContext;
  readonly #slot: Slot;
  readonly #declared: number;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  /** Bytes wait in RES_AREA, from #offset. */
  #ready = true;
  #offset: number;
  #ended = false;
  #done = false;
  #sent = 0;
  #wake: (() => void) | undefined;

  /**
   * @param headLength Where the first chunk starts in RES_AREA (after the head).
   * @param declared The content-length the handler set, or -1.
   */
  constructor(
    ctx: ServerContext,
    slot: Slot,
    headLength: number,
    declared: number,
  ) {
    this.#ctx = ctx;
    this.#slot = slot;
    this.#declared = declared;
    // Even an empty first chunk is "ready": copying it hands the area back,
    // which the worker waits for before it writes the next one.
    this.#offset = headLength;
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => {
        if (this.#feed(true)) return;
        return new Promise<void>((resolve) => this.#wake = resolve);
      },
      cancel: () => {
        this.#done = true;
        ctx.faults.abort(slot, "client");
      },
    }, { highWaterMark: 0 });
  }

  /** Whether the body has closed or failed. */
  get done(): boolean {
    return this.#done;
  }

  /** Whether the worker sent END (the body may still be draining). */
  get ended(): boolean {
    return this.#ended;
  }

  /** CHUNK: the next chunk is in RES_AREA, from offset 0. */
  chunk(): void {
    this.#ready = true;
    this.#offset = 0;
    this.#feed();
  }

  /** END: no more chunks. */
  end(): void {
    this.#ended = true;
    this.#feed();
  }

  /** Fails the body (cut off, the worker gone); does nothing once done. */
  fail(message: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#controller.error(new Error(message));
    this.#wakeUp();
  }

  /** Moves a ready chunk (or the end) into the stream; true if it did. */
  #feed(asked = this.#wake !== undefined): boolean {
    if (this.#done) return true;
    if (this.#ready) {
      // Nobody asked yet: leave it in the slot, pull() will take it.
      if (!asked) return false;
      return this.#take();
    }
    if (!this.#ended) return false;
    this.#done = true;
    if (this.#declared >= 0 && this.#sent !== this.#declared) {
      this.#controller.error(new Error("Response body shorter than declared"));
    } else {
      this.#controller.close();
    }
    this.#wakeUp();
    return true;
  }

  #take(): boolean {
    const { bytes, words } = this.#ctx;
    const slot = this.#slot;
    const area = slot.offset + RES_AREA;
    const chunk = copyOut(
      bytes,
      area + this.#offset,
      area + words[slot.word + C_RES_LEN]!,
    );
    this.#ready = false;
    this.#sent += chunk.byteLength;
    if (this.#declared >= 0 && this.#sent > this.#declared) {
      console.error(
        `ringpool: the handler declared content-length ${this.#declared} but sent more`,
      );
      this.fail("Response body longer than declared");
      this.#ctx.faults.abort(slot, "invalid");
      return true;
    }
    // The copy is ours: the worker may write the next chunk.
    tellOwner(this.#ctx, slot, IN_CREDIT);
    // An empty first chunk satisfies no read: keep waiting, since the
    // stream only calls pull() again after an enqueue.
    if (chunk.byteLength === 0) return false;
    this.#controller.enqueue(chunk);
    this.#wakeUp();
    return true;
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
