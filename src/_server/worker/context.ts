// The one state object of a server worker, shared by its parts (pump,
// run, respond, inbox): the shared memory, the tasks it holds, and the
// sending of events to main, which is where a slot is released.
import { workerData } from "node:worker_threads";
import { RingBuffer } from "../../ring_buffer.ts";
import type { SupervisionData } from "../../_workers/supervision.ts";
import { retireFlag } from "../../_workers/child.ts";
import { WorkerDoorbell } from "../doorbell.ts";
import {
  EV_RELEASE,
  EV_RELEASE_ONLY,
  W_WORKER_COMPLETED,
  W_WORKER_GATED,
  W_WORKER_INFLIGHT,
  type WorkerData,
} from "../wire.ts";
import { WorkerChannel } from "./channel.ts";
import type { Pump } from "./pump.ts";
import type { Task } from "./task.ts";

/** The user's module: `export default { fetch }`. */
export interface Handler {
  fetch(
    request: Request,
    info: ServeHandlerInfo,
  ): Response | Promise<Response>;
}

/** The second argument of the handler, like `Deno.ServeHandlerInfo`. */
export interface ServeHandlerInfo {
  remoteAddr: { transport: "tcp"; hostname: string; port: number };
  completed: Promise<void>;
  workerId: number;
}

/** This worker's shared state. */
export class WorkerContext {
  readonly data: WorkerData & SupervisionData;
  /** The public worker id: position + 1. */
  readonly workerId: number;
  /**
   * What this worker's claims store (negated) in a slot's CLAIM: its id,
   * unique per started thread, so main never takes a claim of a thread that
   * was terminated for one of its replacement at the same position.
   */
  readonly claimId: number;
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
  readonly requests: RingBuffer;
  readonly events: RingBuffer;
  readonly inbox: RingBuffer;
  readonly doorbell: WorkerDoorbell;
  /** The tasks holding a slot, by slot id. */
  readonly tasks = new Map<number, Task>();
  /** Tasks off their slot, and the channel to main. */
  readonly channel: WorkerChannel;
  /**
   * Per slot, the `info.completed` of released requests, oldest first: main
   * answers each with IN_COMPLETED(_FAILED) once the client has the response.
   */
  readonly awaitingCompletion = new Map<
    number,
    ((delivered: boolean) => void)[]
  >();
  /** Tasks holding a slot. */
  inFlight = 0;
  /** Whether main asked this worker to retire. */
  readonly retiring: () => boolean;
  /** This worker's gate word: 1 while it is a spare kept out of the ring. */
  readonly gateWord: number;
  handler!: Handler;
  pump!: Pump;
  /** Resolves once the ring is closed and drained and no task holds a slot. */
  readonly drained: Promise<void>;
  readonly #resolveDrained: () => void;

  constructor(data = workerData as WorkerData & SupervisionData) {
    this.data = data;
    this.workerId = data.index + 1;
    this.claimId = data.id;
    this.bytes = new Uint8Array(data.control);
    this.words = new Int32Array(data.control);
    this.requests = RingBuffer.from(data.requests);
    this.events = RingBuffer.from(data.events);
    this.inbox = RingBuffer.from(data.inbox);
    this.doorbell = new WorkerDoorbell(this.words, data.index, this.requests);
    this.channel = new WorkerChannel(this);
    this.retiring = retireFlag(data);
    this.gateWord = W_WORKER_GATED + data.index;
    let resolve!: () => void;
    this.drained = new Promise((done) => resolve = done);
    this.#resolveDrained = resolve;
  }

  /** Whether this worker is a spare whose gate is closed (../spares.ts). */
  gated(): boolean {
    return Atomics.load(this.words, this.gateWord) === 1;
  }

  /** A slot claimed: counted in flight here and in shared memory. */
  claimed(task: Task): void {
    this.tasks.set(task.slot, task);
    this.inFlight++;
    Atomics.add(this.words, W_WORKER_INFLIGHT + this.data.index, 1);
  }

  /** Sends an event to main; with the RELEASE bit the slot is main's again. */
  send(task: Task, type: number): void {
    let event = (task.slot << 4) | type;
    if (type & EV_RELEASE) this.released(task);
    if (type === EV_RELEASE) {
      event = (task.slot << 4) | EV_RELEASE_ONLY | EV_RELEASE;
    }
    // The event ring is sized so it cannot fill; push() only waits if main
    // stalls, and only for a moment.
    if (!this.events.tryPush(event)) this.events.push(event);
    this.doorbell.pushed();
  }

  /** Our side of a release (by event or by a BulkResponse). */
  released(task: Task): void {
    task.released = true;
    this.tasks.delete(task.slot);
    this.inFlight--;
    Atomics.sub(this.words, W_WORKER_INFLIGHT + this.data.index, 1);
    // Counted at the release: what maxRequestsPerWorker compares against.
    Atomics.add(this.words, W_WORKER_COMPLETED + this.data.index, 1);
    // A task leaving for the channel hears of info.completed there.
    if (task.settleCompleted !== undefined && task.stream === undefined) {
      const queue = this.awaitingCompletion.get(task.slot);
      if (queue === undefined) {
        this.awaitingCompletion.set(task.slot, [task.settleCompleted]);
      } else queue.push(task.settleCompleted);
    }
    if (this.checkDrained()) return;
    if (this.inFlight === this.data.concurrency - 1) {
      // Below capacity again: the pump may take tickets.
      this.pump.schedule();
    }
  }

  /**
   * Whether this worker takes no more tickets: the ring is closed and
   * drained, or main asked it to retire. Then, once no task holds a slot or
   * a stream either, `drained` resolves.
   */
  checkDrained(): boolean {
    const closed = this.requests.closed && this.requests.length === 0;
    if (!closed && !this.retiring()) return false;
    if (this.inFlight === 0 && this.channel.streams.size === 0) {
      this.#resolveDrained();
    }
    return true;
  }
}
