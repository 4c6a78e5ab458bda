// Contender: `Deno.serve` on the main thread, the handler on N
// `node:worker_threads` workers, each request and response copied over
// `postMessage` (bodies transferred). The plain design ringpool must beat.
// Usage: deno run -A postmessage_pool.ts PORT WORKERS [HANDLER_MODULE]
// (HANDLER_MODULE: a path, default ../handlers/handler.ts)
import { Worker } from "node:worker_threads";

/** A request as it crosses to a worker. */
export interface WireRequest {
  id: number;
  method: string;
  url: string;
  headers: [string, string][];
  body: ArrayBuffer | null;
}

/** A response as it comes back. */
export interface WireResponse {
  id: number;
  status: number;
  headers: [string, string][];
  body: ArrayBuffer | null;
  error?: string;
}

const port = Number(Deno.args[0] ?? "8000");
const size = Number(Deno.args[1] ?? "2");
const handlerUrl = Deno.args[2] === undefined
  ? new URL("../handlers/handler.ts", import.meta.url).href
  : new URL(Deno.args[2], new URL(`file://${Deno.cwd()}/`)).href;

interface Slot {
  worker: Worker;
  inFlight: number;
}

const pending = new Map<number, (response: WireResponse) => void>();
const slots: Slot[] = [];
for (let i = 0; i < size; i++) {
  const worker = new Worker(new URL("./_pm_worker.ts", import.meta.url), {
    workerData: { handlerUrl },
  });
  const slot = { worker, inFlight: 0 };
  worker.on("message", (message: WireResponse) => {
    slot.inFlight--;
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  });
  worker.on("error", (error) => console.error("worker failed:", error));
  slots.push(slot);
}

let nextId = 0;
Deno.serve(
  { hostname: "127.0.0.1", port, onListen() {} },
  async (request) => {
    const body = request.body === null ? null : await request.arrayBuffer();
    // Least-loaded worker, so a slow request does not hold up the fast ones
    // queued behind it more than it must.
    let slot = slots[0]!;
    for (const s of slots) if (s.inFlight < slot.inFlight) slot = s;
    const id = nextId++;
    const message: WireRequest = {
      id,
      method: request.method,
      url: request.url,
      headers: [...request.headers],
      body,
    };
    const reply = new Promise<WireResponse>((resolve) =>
      pending.set(id, resolve)
    );
    slot.inFlight++;
    slot.worker.postMessage(message, body ? [body] : []);
    const response = await reply;
    if (response.error !== undefined) {
      return new Response(response.error, { status: 500 });
    }
    return new Response(response.body, {
      status: response.status,
      headers: response.headers,
    });
  },
);
