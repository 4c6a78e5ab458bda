// A response body streamed from a worker over the channel (./channel.ts):
// "chunk" items queue here and go to the socket only when it asks for more
// (highWaterMark 0); each chunk the socket takes is credited back, so the
// worker never has more than CHUNK_WINDOW chunks in main's memory.

/** What a stream reports to its owner. */
export interface StreamHooks {
  /** The socket took a chunk that came over the channel: credit it. */
  credit(): void;
  /** The client went away (the stream was cancelled). */
  cancel(): void;
  /** The body broke the declared content-length (after the stream failed). */
  invalid(message: string): void;
}

/** Main's side of one streamed response body. */
export class ResponseStream {
  readonly body: ReadableStream<Uint8Array>;
  readonly #hooks: StreamHooks;
  readonly #declared: number;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  /** Chunks waiting for the socket; the first came through the slot. */
  readonly #queue: { bytes: Uint8Array; credited: boolean }[] = [];
  #ended = false;
  #done = false;
  #sent = 0;
  #wake: (() => void) | undefined;

  /**
   * @param first The first chunk, copied out of the slot (not credited).
   * @param declared The content-length the handler set, or -1.
   */
  constructor(
    first: Uint8Array | undefined,
    declared: number,
    hooks: StreamHooks,
  ) {
    this.#hooks = hooks;
    this.#declared = declared;
    if (first !== undefined && first.byteLength > 0) {
      this.#queue.push({ bytes: first, credited: true });
    }
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => {
        if (this.#feed()) return;
        return new Promise<void>((resolve) => this.#wake = resolve);
      },
      cancel: () => {
        this.#done = true;
        hooks.cancel();
      },
    }, { highWaterMark: 0 });
  }

  /** Whether the body has closed or failed. */
  get done(): boolean {
    return this.#done;
  }

  /** Whether the worker sent its end (the body may still be draining). */
  get ended(): boolean {
    return this.#ended;
  }

  /** A "chunk" item. */
  push(bytes: Uint8Array): void {
    if (this.#done) return;
    this.#queue.push({ bytes, credited: false });
    if (this.#wake !== undefined) this.#feed();
  }

  /** An "end" item: no more chunks. */
  end(): void {
    this.#ended = true;
    if (this.#wake !== undefined) this.#feed();
  }

  /** Fails the body (cut off, the worker gone); does nothing once done. */
  fail(message: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#queue.length = 0;
    this.#controller.error(new Error(message));
    this.#wakeUp();
  }

  /** Hands the socket the next chunk (or the end); true if it did. */
  #feed(): boolean {
    if (this.#done) return true;
    const next = this.#queue.shift();
    if (next !== undefined) {
      this.#sent += next.bytes.byteLength;
      if (this.#declared >= 0 && this.#sent > this.#declared) {
        this.fail("Response body longer than declared");
        this.#hooks.invalid(
          `the handler declared content-length ${this.#declared} but sent more`,
        );
        return true;
      }
      if (!next.credited) this.#hooks.credit();
      this.#controller.enqueue(next.bytes);
      this.#wakeUp();
      return true;
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

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
