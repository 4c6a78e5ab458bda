// The killer: a loop separate from the load that starts a kill request
// every few seconds, kinds in rotation, and records when each was sent and
// answered and with what status.
import type { KillKind } from "./config.ts";
import type { KillRecord } from "./types.ts";

/** Starts a kill every `everyMs`, kinds in rotation. */
export class Killer {
  readonly #base: string;
  readonly #client = Deno.createHttpClient({});
  readonly #everyMs: number;
  readonly #timeoutMs: number;
  readonly #kinds: KillKind[];
  readonly kills: KillRecord[] = [];
  #pending: Promise<void>[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    base: string,
    everyMs: number,
    timeoutMs: number,
    kinds: KillKind[],
  ) {
    this.#base = base;
    this.#everyMs = everyMs;
    this.#timeoutMs = timeoutMs;
    this.#kinds = kinds;
  }

  start(): void {
    this.#timer = setInterval(() => this.#kill(), this.#everyMs);
  }

  /** No more kills; waits for the answers of those in flight. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.#pending);
  }

  close(): void {
    this.#client.close();
  }

  #kill(): void {
    const kind = this.#kinds[this.kills.length % this.#kinds.length]!;
    const record: KillRecord = { kind, sent: performance.now(), victims: 0 };
    this.kills.push(record);
    this.#pending.push(
      fetch(`${this.#base}/kill/${kind}`, {
        client: this.#client,
        signal: AbortSignal.timeout(this.#timeoutMs),
      }).then(async (response) => {
        record.status = response.status;
        await response.arrayBuffer().catch(() => {});
      }, () => {
        record.status = 0;
      }).finally(() => {
        record.answered = performance.now();
      }),
    );
  }
}
