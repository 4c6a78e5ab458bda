// The load: closed-loop `fetch` clients, each picking its next route from a
// seeded mix and checking every body, recording when each failed request
// was sent and answered (so a kill's victims can be told apart).
import { MiB, MIX, type Route } from "./config.ts";
import type { Failure } from "./types.ts";

const ECHO = Uint8Array.from({ length: MiB }, (_, i) => (i * 7) & 0xff);
const LENGTH: Record<Route, number> = {
  small: 2,
  "64k": 64 * 1024,
  stream: 256 * 1024,
  echo: MiB,
};

/** A seeded PRNG (mulberry32): the mix is the same run after run. */
function random(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whether `body` is what `route` sends. */
function bodyOk(route: Route, body: Uint8Array): boolean {
  if (body.byteLength !== LENGTH[route]) return false;
  switch (route) {
    case "small":
      return body[0] === 0x6f && body[1] === 0x6b; // "ok"
    case "64k":
    case "stream":
      return body[1000] === (1000 & 0xff) && body.at(-1) === 0xff;
    case "echo":
      return body[12345] === ECHO[12345] && body.at(-1) === ECHO.at(-1);
  }
}

/** The closed-loop clients. */
export class Load {
  readonly #base: string;
  readonly #client = Deno.createHttpClient({});
  readonly #next: () => number;
  readonly #timeoutMs: number;
  readonly #mix: [Route, number][];
  #loops: Promise<void>[] = [];
  #stopped = false;
  counts = new Map<Route, { count: number; ok: number; ms: number[] }>();
  failures: Failure[] = [];
  /** Statuses over the whole run (warm-up too), for the server cross-check. */
  readonly statuses = new Map<number, number>();

  constructor(
    base: string,
    seed: number,
    timeoutMs: number,
    mix: [Route, number][],
  ) {
    this.#base = base;
    this.#next = random(seed);
    this.#timeoutMs = timeoutMs;
    const sum = mix.reduce((total, [, weight]) => total + weight, 0);
    this.#mix = mix.map(([route, weight]) => [route, weight / sum]);
    this.reset();
  }

  get total(): number {
    let total = 0;
    for (const { count } of this.counts.values()) total += count;
    return total;
  }

  /** Forgets the counts so far (after the warm-up). */
  reset(): void {
    this.counts = new Map(
      MIX.map(([route]) => [route, { count: 0, ok: 0, ms: [] }]),
    );
    this.failures = [];
  }

  start(connections: number): void {
    this.#stopped = false;
    this.#loops = Array.from({ length: connections }, () => this.#loop());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
  }

  close(): void {
    this.#client.close();
  }

  #pick(): Route {
    let x = this.#next();
    for (const [route, weight] of this.#mix) {
      if ((x -= weight) < 0) return route;
    }
    return this.#mix[0]![0];
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) await this.#one(this.#pick());
  }

  async #one(route: Route): Promise<void> {
    const sent = performance.now();
    let status = 0;
    let failure: Failure["kind"] | undefined;
    let detail: string | undefined;
    try {
      const response = await fetch(`${this.#base}/${route}`, {
        client: this.#client,
        method: route === "echo" ? "POST" : "GET",
        body: route === "echo" ? ECHO : undefined,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.status;
      this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
      try {
        const body = new Uint8Array(await response.arrayBuffer());
        if (status !== 200) failure = "status";
        else if (!bodyOk(route, body)) {
          failure = "body";
          detail = `${body.byteLength} bytes`;
        }
      } catch (error) {
        failure = status === 200 ? "cut" : "status";
        detail = String(error);
      }
    } catch (error) {
      failure = "error";
      detail = String(error);
    }
    const answered = performance.now();
    const counts = this.counts.get(route)!;
    counts.count++;
    if (failure === undefined) {
      counts.ok++;
      counts.ms.push(answered - sent);
    } else {
      this.failures.push({
        route,
        sent,
        answered,
        status,
        kind: failure,
        detail,
      });
    }
  }
}
