// WebSockets, the worker's side: `Deno.upgradeWebSocket` for the requests
// ringpool hands this worker, and the WebSocket the handler gets, whose
// events and sends are relayed over the channel (../channel.ts, the "ws-*"
// items) to the main thread, which keeps the real socket.
import { SOCKET_WINDOW } from "../channel.ts";
import type { WorkerContext } from "./context.ts";
import type { Task } from "./task.ts";

type Data = string | ArrayBuffer;
type Listener = EventListenerOrEventListenerObject;

/** The marker response of an upgrade: returning it accepts the socket. */
const UPGRADES = new WeakMap<Response, RelayedWebSocket>();

/** The socket a returned response accepts, if it is an upgrade's. */
export function upgradeOf(response: Response): RelayedWebSocket | undefined {
  return UPGRADES.get(response);
}

/**
 * Replaces `Deno.upgradeWebSocket` in this worker: requests ringpool handed
 * us (`isOurs`) are relayed, any other goes to Deno's own function.
 */
export function installUpgrade(isOurs: (request: Request) => boolean): void {
  const deno = Deno.upgradeWebSocket;
  Object.defineProperty(Deno, "upgradeWebSocket", {
    configurable: true,
    enumerable: true,
    writable: true,
    value: (request: Request, options?: Deno.UpgradeWebSocketOptions) =>
      isOurs(request) ? upgrade(request, options) : deno(request, options),
  });
}

function upgrade(
  request: Request,
  options: Deno.UpgradeWebSocketOptions = {},
): Deno.WebSocketUpgrade {
  const upgradeHeader = request.headers.get("upgrade") ?? "";
  if (!/\bwebsocket\b/i.test(upgradeHeader)) {
    throw new TypeError(
      "Invalid Header: 'upgrade' header must contain 'websocket'",
    );
  }
  const socket = new RelayedWebSocket(options);
  // Deno's is a 101 that only Deno.serve can send; ours is recognised by
  // identity when the handler returns it.
  const response = new Response(null, { status: 200 });
  Object.defineProperty(response, "status", { value: 101 });
  UPGRADES.set(response, socket);
  return { socket, response };
}

/** The close a socket still has to report. */
interface Closing {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** A WebSocket whose real socket lives on the main thread. */
export class RelayedWebSocket extends EventTarget implements WebSocket {
  readonly CONNECTING = 0 as const;
  readonly OPEN = 1 as const;
  readonly CLOSING = 2 as const;
  readonly CLOSED = 3 as const;
  /** Deno's server side: empty, like Deno's. */
  readonly url = "";
  readonly options: Deno.UpgradeWebSocketOptions;
  binaryType: BinaryType = "arraybuffer";
  #readyState: 0 | 1 | 2 | 3 = 0;
  #protocol = "";
  #extensions = "";
  #relay: { ctx: WorkerContext; task: Task } | undefined;
  /** Sizes of the messages main has not acknowledged, oldest first. */
  readonly #unacked: number[] = [];
  #unackedBytes = 0;
  /** Messages waiting for room in the window (or a Blob being read). */
  readonly #queue: (Data | Promise<Data>)[] = [];
  #queuedBytes = 0;
  readonly #handlers = new Map<string, EventListener | null>();
  readonly #wrapped = new WeakMap<Listener, EventListener>();

  constructor(options: Deno.UpgradeWebSocketOptions) {
    super();
    this.options = options;
  }

  get readyState(): 0 | 1 | 2 | 3 {
    return this.#readyState;
  }
  get protocol(): string {
    return this.#protocol;
  }
  get extensions(): string {
    return this.#extensions;
  }
  /** Bytes sent and not yet written to the client's socket by main. */
  get bufferedAmount(): number {
    return this.#queuedBytes + this.#unackedBytes;
  }

  /** The handler returned our response: the socket is relayed as `task`. */
  attach(ctx: WorkerContext, task: Task): void {
    this.#relay = { ctx, task };
  }

  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (this.#readyState === 0) {
      throw new DOMException("'readyState' not OPEN", "InvalidStateError");
    }
    if (this.#readyState !== 1) return;
    const item = toData(data);
    this.#queue.push(item);
    if (!(item instanceof Promise)) this.#queuedBytes += size(item);
    else {
      // A Blob: its bytes take its place in the queue once read, so the
      // messages after it wait (they go out in the order they were sent).
      item.then((bytes) => {
        const at = this.#queue.indexOf(item);
        if (at === -1) return; // the socket closed meanwhile
        this.#queue[at] = bytes;
        this.#queuedBytes += size(bytes);
        this.#flush();
      });
    }
    this.#flush();
  }

  close(code?: number, reason?: string): void {
    if (
      code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)
    ) {
      throw new DOMException(
        `The close code must be either 1000 or in the range of 3000 to 4999: received ${code}`,
        "InvalidAccessError",
      );
    }
    if (reason !== undefined && new TextEncoder().encode(reason).length > 123) {
      throw new DOMException(
        "The close reason may not be longer than 123 bytes",
        "SyntaxError",
      );
    }
    if (this.#readyState >= 2) return;
    this.#readyState = 2;
    const relay = this.#relay;
    if (relay === undefined) return;
    relay.ctx.channel.send({
      k: "ws-close",
      s: relay.task.stream!,
      code,
      reason,
    });
  }

  /** main: "ws-open". */
  opened(protocol: string, extensions: string): void {
    this.#protocol = protocol;
    this.#extensions = extensions;
    if (this.#readyState === 0) this.#readyState = 1;
    this.#emit(new Event("open"));
    this.#flush();
  }

  /** main: "ws-message". */
  received(data: Data): void {
    if (this.#readyState !== 1) return;
    const value = typeof data === "string" || this.binaryType === "arraybuffer"
      ? data
      : new Blob([data]);
    this.#emit(new MessageEvent("message", { data: value }));
  }

  /** main: "ws-ack", `count` of our oldest messages left its buffer. */
  acknowledged(count: number): void {
    for (let i = 0; i < count && this.#unacked.length > 0; i++) {
      this.#unackedBytes -= this.#unacked.shift()!;
    }
    this.#flush();
  }

  /** main: "ws-closed". */
  closed(event: Closing): void {
    if (this.#readyState === 3) return;
    this.#readyState = 3;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    if (!event.wasClean && event.code !== 1000) this.#emit(new Event("error"));
    this.#emit(new CloseEvent("close", event));
  }

  /** Sends what the window allows, in order (a Blob waits for its bytes). */
  #flush(): void {
    const relay = this.#relay;
    if (relay === undefined || this.#readyState !== 1) return;
    while (this.#queue.length > 0 && this.#unackedBytes < SOCKET_WINDOW) {
      const next = this.#queue[0]!;
      if (next instanceof Promise) return; // a Blob still being read
      this.#queue.shift();
      const bytes = size(next);
      this.#queuedBytes -= bytes;
      this.#unacked.push(bytes);
      this.#unackedBytes += bytes;
      const s = relay.task.stream!;
      if (typeof next === "string") {
        relay.ctx.channel.send({ k: "ws-send", s, data: next });
      } else relay.ctx.channel.send({ k: "ws-send", s, data: next }, next);
    }
  }

  // A listener that throws must not take the worker (and every socket and
  // request on it) down: it is logged, like an error in a handler.
  override addEventListener(
    type: string,
    listener: Listener | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (listener === null) return;
    super.addEventListener(type, this.#guard(listener), options);
  }

  override removeEventListener(
    type: string,
    listener: Listener | null,
    options?: boolean | EventListenerOptions,
  ): void {
    if (listener === null) return;
    const wrapped = this.#wrapped.get(listener);
    if (wrapped !== undefined) {
      super.removeEventListener(type, wrapped, options);
    }
  }

  #guard(listener: Listener): EventListener {
    let wrapped = this.#wrapped.get(listener);
    if (wrapped === undefined) {
      wrapped = (event: Event) => {
        try {
          if (typeof listener === "function") listener.call(this, event);
          else listener.handleEvent(event);
        } catch (error) {
          console.error("ringpool: a WebSocket listener failed:", error);
        }
      };
      this.#wrapped.set(listener, wrapped);
    }
    return wrapped;
  }

  #emit(event: Event): void {
    const handler = this.#handlers.get(event.type);
    if (handler) this.#guard(handler)(event);
    this.dispatchEvent(event);
  }

  #on(type: string): EventListener | null {
    return this.#handlers.get(type) ?? null;
  }

  get onopen(): ((event: Event) => void) | null {
    return this.#on("open");
  }
  set onopen(handler: ((event: Event) => void) | null) {
    this.#handlers.set("open", handler);
  }
  get onmessage(): ((event: MessageEvent) => void) | null {
    return this.#on("message") as ((event: MessageEvent) => void) | null;
  }
  set onmessage(handler: ((event: MessageEvent) => void) | null) {
    this.#handlers.set("message", handler as EventListener | null);
  }
  get onclose(): ((event: CloseEvent) => void) | null {
    return this.#on("close") as ((event: CloseEvent) => void) | null;
  }
  set onclose(handler: ((event: CloseEvent) => void) | null) {
    this.#handlers.set("close", handler as EventListener | null);
  }
  get onerror(): ((event: Event | ErrorEvent) => void) | null {
    return this.#on("error");
  }
  set onerror(handler: ((event: Event | ErrorEvent) => void) | null) {
    this.#handlers.set("error", handler);
  }
}

function toData(
  data: string | ArrayBufferLike | Blob | ArrayBufferView,
): Data | Promise<Data> {
  if (typeof data === "string") return data;
  if (data instanceof Blob) return data.arrayBuffer();
  // A copy of our own: the item transfers it.
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      .slice().buffer;
  }
  return new Uint8Array(data as ArrayBufferLike).slice().buffer;
}

function size(data: Data): number {
  return typeof data === "string" ? data.length : data.byteLength;
}
