// WebSockets, main's side: the real upgrade, and the relay of every event of
// the socket between Deno's WebSocket here and the worker that ran the
// handler (the "ws-*" items of ./channel.ts). A socket holds no slot.
//
// A relayed socket's life (as main sees it):
//
//   upgrading ──Deno's open──▶ open ──either side closes──▶ closed
//        └──────────────── the worker exits: closed with 1011 ───┘
import {
  type MainItem,
  SOCKET_HIGH_WATER,
  type WorkerItem,
} from "./channel.ts";
import type { ServerContext, ServerWorker } from "./context.ts";
import type { Slot } from "./slots.ts";
import { C_RES_HEAD_LEN, RES_AREA } from "./wire.ts";

type SendItem = Extract<WorkerItem, { k: "ws-send" | "ws-close" }>;

/** How often main looks again at sockets whose client reads slowly. */
const DRAIN_POLL_MS = 10;

/** One relayed WebSocket. */
export class SocketRelay {
  readonly id: number;
  readonly worker: ServerWorker;
  readonly socket: WebSocket;
  state: "upgrading" | "open" | "closed" = "upgrading";
  /** Messages sent for the worker not yet acknowledged (Deno buffers them). */
  unacked = 0;

  constructor(worker: ServerWorker, id: number, socket: WebSocket) {
    this.worker = worker;
    this.id = id;
    this.socket = socket;
  }
}

/** Every relayed WebSocket, by worker and id. */
export class Sockets {
  readonly #ctx: ServerContext;
  /** Sockets whose client reads slower than the worker sends. */
  readonly #slow = new Set<SocketRelay>();
  #poll: ReturnType<typeof setTimeout> | undefined;
  /** Messages from clients and to clients, since start. */
  messagesIn = 0;
  messagesOut = 0;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /** Every open relayed socket. */
  *all(): IterableIterator<SocketRelay> {
    for (const worker of this.#ctx.workers.members()) {
      yield* worker.data.sockets.values();
    }
  }

  /**
   * UPGRADE: the handler returned the response of its upgradeWebSocket().
   * Performs the real upgrade with the protocol and idleTimeout it chose
   * (in RES_AREA) and answers the request with Deno's 101.
   */
  upgrade(slot: Slot, worker: ServerWorker, id: number): void {
    const ctx = this.#ctx;
    const start = slot.offset + RES_AREA;
    const length = ctx.words[slot.word + C_RES_HEAD_LEN]!;
    const [protocol, idleTimeout] = new TextDecoder().decode(
      ctx.bytes.slice(start, start + length),
    ).split("\n");
    slot.unwatch();
    let upgrade: Deno.WebSocketUpgrade;
    try {
      upgrade = Deno.upgradeWebSocket(slot.job!.request, {
        protocol: protocol || undefined,
        idleTimeout: idleTimeout === "" ? undefined : Number(idleTimeout),
      });
    } catch (error) {
      console.error("ringpool: the WebSocket upgrade failed:", error);
      this.#send(worker, {
        k: "ws-closed",
        s: id,
        code: 1006,
        reason: "",
        wasClean: false,
      });
      return ctx.faults.abort(slot, "invalid");
    }
    const relay = new SocketRelay(worker, id, upgrade.socket);
    worker.data.sockets.set(id, relay);
    this.#listen(relay);
    ctx.responder.respond(slot, upgrade.response);
  }

  /** A "ws-send" or "ws-close" item from the socket's worker. */
  onItem(worker: ServerWorker, item: SendItem): void {
    const relay = worker.data.sockets.get(item.s);
    if (relay === undefined || relay.state === "closed") return;
    const { socket } = relay;
    if (item.k === "ws-close") {
      try {
        socket.close(item.code, item.reason);
      } catch (error) {
        console.error("ringpool: closing a WebSocket failed:", error);
      }
      return;
    }
    this.messagesOut++;
    socket.send(item.data);
    relay.unacked++;
    this.#acknowledge(relay);
  }

  /**
   * Closes every open socket with 1001 ("going away") and resolves once all
   * have closed, or after `ms`.
   */
  async closeAll(ms: number): Promise<void> {
    const open = [...this.all()];
    if (open.length === 0) return;
    const closed = open.map((relay) =>
      new Promise<void>((resolve) => {
        if (relay.state === "closed") return resolve();
        relay.socket.addEventListener("close", () => resolve(), { once: true });
        try {
          relay.socket.close(1001, "server shutting down");
        } catch {
          resolve();
        }
      })
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise((resolve) => timer = setTimeout(resolve, ms)),
    ]);
    clearTimeout(timer);
  }

  /** The worker exited: its sockets close with 1011 (an unexpected condition). */
  reclaim(worker: ServerWorker): void {
    for (const relay of [...worker.data.sockets.values()]) {
      relay.state = "closed";
      this.#slow.delete(relay);
      try {
        relay.socket.close(1011, "worker exited");
      } catch {
        // already closing
      }
    }
    worker.data.sockets.clear();
  }

  #listen(relay: SocketRelay): void {
    const { socket, id, worker } = relay;
    const max = this.#ctx.settings.maxMessageSize;
    socket.addEventListener("open", () => {
      relay.state = "open";
      this.#send(worker, {
        k: "ws-open",
        s: id,
        protocol: socket.protocol,
        extensions: socket.extensions,
      });
    });
    socket.addEventListener("message", (event: MessageEvent) => {
      const data = event.data as string | ArrayBuffer;
      // A string's length is a lower bound of its UTF-8 bytes: enough here.
      const size = typeof data === "string" ? data.length : data.byteLength;
      if (size > max) {
        socket.close(1009, "message too big");
        return;
      }
      this.messagesIn++;
      if (typeof data === "string") {
        this.#send(worker, { k: "ws-message", s: id, data });
      } else this.#send(worker, { k: "ws-message", s: id, data }, data);
    });
    socket.addEventListener("close", (event: CloseEvent) => {
      relay.state = "closed";
      this.#slow.delete(relay);
      worker.data.sockets.delete(id);
      this.#send(worker, {
        k: "ws-closed",
        s: id,
        code: event.code,
        reason: event.reason,
        wasClean: event.wasClean,
      });
    });
  }

  /** Acknowledges what Deno has written; slow sockets are looked at again later. */
  #acknowledge(relay: SocketRelay): void {
    if (relay.unacked === 0) return;
    if (relay.socket.bufferedAmount > SOCKET_HIGH_WATER) {
      this.#slow.add(relay);
      this.#poll ??= setTimeout(() => this.#pollSlow(), DRAIN_POLL_MS);
      return;
    }
    this.#send(relay.worker, {
      k: "ws-ack",
      s: relay.id,
      count: relay.unacked,
    });
    relay.unacked = 0;
    this.#slow.delete(relay);
  }

  #pollSlow(): void {
    this.#poll = undefined;
    for (const relay of [...this.#slow]) this.#acknowledge(relay);
    if (this.#slow.size > 0) {
      this.#poll = setTimeout(() => this.#pollSlow(), DRAIN_POLL_MS);
    }
  }

  /** Stops polling (the server has stopped). */
  stop(): void {
    clearTimeout(this.#poll);
    this.#poll = undefined;
    this.#slow.clear();
  }

  #send(worker: ServerWorker, item: MainItem, body?: ArrayBuffer): void {
    worker.data.outbox.send(item, body);
  }
}
