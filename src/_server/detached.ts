// Main's record of a request that left its slot (./channel.ts): a response
// that streams, or a request whose body streams.
//
// Its life (DetachedState):
//
//   running ──"head" with the whole body──▶ answered ─────────┐
//      │ └──"head" with more to come, or RESPONSE_STREAM──▶ streaming ──"end"──┐
//      └──abort()──▶ aborted ◀──abort()──────────────┘                       │
//            every state: the worker's "done" ──────────────────────────────┤
//                                                                            ▼
//      closed: the worker is done with it and Deno.serve's info.completed
//      settled (reported to the worker as "completed"); or its worker exited.
import type { ServerWorker } from "./context.ts";
import type { BodyFeed } from "./request_body.ts";
import type { ResponseStream } from "./response_stream.ts";
import type { Job } from "./slots.ts";

/** Where a detached request is in its life; see the drawing above. */
export type DetachedState =
  | "running"
  | "answered"
  | "streaming"
  | "aborted"
  | "closed";

/** One request that left its slot. */
export class Detached {
  /** The id its worker gave the stream. */
  readonly id: number;
  readonly worker: ServerWorker;
  readonly job: Job;
  state: DetachedState;
  /** The streamed response body, once there is one. */
  stream: ResponseStream | undefined = undefined;
  /** The request body still being read, for "pull"s. */
  feed: BodyFeed | undefined;
  /** A "pull" is being answered (a read is under way). */
  pulling = false;
  abortedAt = 0;
  terminateSent = false;
  /** Whether the job's request.signal is watched for a client leaving. */
  watching = false;
  /** The handler looked at its request.signal (so it is worth watching). */
  wantsSignal = false;
  /** The worker sent "done". */
  workerDone = false;
  /** Deno.serve's info.completed settled (and the worker was told). */
  completed = false;
  /** Bound once: the listener for the job's request.signal. */
  readonly onClientAbort: () => void;

  constructor(
    worker: ServerWorker,
    id: number,
    job: Job,
    state: "running" | "streaming",
    feed: BodyFeed | undefined,
    onClientAbort: (detached: Detached) => void,
  ) {
    this.worker = worker;
    this.id = id;
    this.job = job;
    this.state = state;
    this.feed = feed;
    this.onClientAbort = () => onClientAbort(this);
  }

  /** Whether main has answered the request (a response or an error). */
  get answered(): boolean {
    return this.state !== "running";
  }
}
