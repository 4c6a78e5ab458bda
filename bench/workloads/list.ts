// Every workload the HTTP harness knows, in report order, and the one
// entry point that runs any of them.
import type { Figures, Workload } from "../_types.ts";
import {
  FLOOR_CONTENDER,
  SKEW_CONTENDERS,
  type WorkloadContext,
} from "./context.ts";
import {
  BURST,
  CLOSED,
  H2_STREAMS,
  IO,
  runSkew,
  SHARED_CONNECTIONS,
  SHARED_EVERY,
} from "./skew.ts";
import { runThroughput, SSR_CONNECTIONS } from "./throughput.ts";

const share = `${100 / SHARED_EVERY}%`;

// A shape and its floor: the same /fast load on ringpool (defaults) while
// the shape's slow CPU runs in a separate process.
function shape(
  workload: Workload,
  floorMethod: string,
  contenders: string[] | null = SKEW_CONTENDERS,
): Workload[] {
  return [
    {
      ...workload,
      floor: `${workload.id}-floor`,
      ...(contenders ? { contenders } : {}),
    },
    {
      id: `${workload.id}-floor`,
      label: `${workload.label}: floor`,
      kind: "latency",
      server: workload.server,
      floorOf: workload.id,
      contenders: [FLOOR_CONTENDER],
      method: floorMethod,
    },
  ];
}

const BURNER =
  "the same iterations on the same schedule in a separate process (bench/_burn.ts, one worker thread per core)";

/** Every workload the harness knows, in report order. */
export const WORKLOADS: Workload[] = [
  { id: "hello-ka", label: "Hello, keep-alive", kind: "throughput" },
  { id: "hello-close", label: "Hello, Connection: close", kind: "throughput" },
  { id: "cpu-ka", label: "CPU ~2 ms, keep-alive", kind: "throughput" },
  {
    id: "cpu-close",
    label: "CPU ~2 ms, Connection: close",
    kind: "throughput",
  },
  { id: "64k-ka", label: "64 KiB response, keep-alive", kind: "throughput" },
  {
    id: "echo-1m-ka",
    label: "1 MiB POST echo, keep-alive",
    kind: "throughput",
  },
  ...shape(
    {
      id: "skewed",
      label: "Skewed mix: /fast p99 (open loop)",
      kind: "latency",
      method:
        "Open loop (bench/_open_loop.mjs): /fast at a fixed rate on its own pool of keep-alive connections (16 open, up to 256; a request takes the most recently idle one, else opens one); /slow at its own rate on its own pool (4 open, up to 32). Latency from each request's intended send time.",
    },
    `/fast as in the shape, and in place of /slow ${BURNER}.`,
    null,
  ),
  ...shape(
    {
      id: "skew-closed",
      label: "Closed loop: wrk on /fast, /slow on its own connections",
      kind: "latency",
      method:
        `Closed loop: \`wrk -t1 -c${CLOSED.connections}\` on /fast (latency from each request's actual send, as wrk measures it), while the open-loop driver sends /slow at ${CLOSED.slowRate} req/s on its own connections (4 open, up to 32), starting 250 ms before wrk and ending after it.`,
    },
    `wrk on /fast as in the shape, and ${CLOSED.slowRate} slow jobs per second: ${BURNER}.`,
  ),
  ...shape(
    {
      id: "skew-shared",
      label:
        `Shared keep-alive connections: ${share} /slow among /fast on ${SHARED_CONNECTIONS} connections`,
      kind: "latency",
      sharedConnections: true,
      method:
        `Open loop, one pool of ${SHARED_CONNECTIONS} keep-alive connections (all opened first) carrying both routes; every ${SHARED_EVERY}th request is /slow. Like a browser's pool, a request goes out only on an idle connection (the one idle longest, so all ${SHARED_CONNECTIONS} carry traffic) — HTTP/1.1 without pipelining cannot send on a connection that waits for an answer — and waits in the pool's FIFO only while all ${SHARED_CONNECTIONS} are busy. Latency from the intended send time.`,
    },
    `/fast alone on the same pool at the same /fast rate, and in place of /slow ${BURNER}.`,
  ),
  {
    id: "skew-shared-pinned",
    label:
      "Diagnostic: shared connections, each request pinned to a connection",
    kind: "latency",
    sharedConnections: true,
    optIn: true,
    floor: "skew-shared-floor",
    contenders: SKEW_CONTENDERS,
    method:
      `The shared-connection mix with a client that does not pick idle connections: request i waits for connection i mod ${SHARED_CONNECTIONS}, even while that connection waits for a /slow answer. The difference from the shared shape is the client's own head-of-line blocking, not the server's. Compared with the shared shape's floor.`,
  },
  ...shape(
    {
      id: "skew-bursts",
      label:
        `Bursts: ${BURST.size} /slow at once every ${BURST.everyMs} ms beside /fast`,
      kind: "latency",
      method:
        `Open loop: /fast as in the skewed mix; ${BURST.size} /slow requests due at the same instant every ${BURST.everyMs} ms, on their own pool (${BURST.size} open, up to 32).`,
    },
    `/fast as in the shape, and bursts of ${BURST.size} slow jobs every ${BURST.everyMs} ms: ${BURNER}.`,
  ),
  ...shape(
    {
      id: "skew-io",
      label:
        `I/O-bound slow requests: /wait (an awaited ${IO.waitMs} ms timer) beside CPU-bound /fast`,
      kind: "latency",
      method:
        `Open loop: /fast as in the skewed mix; /wait?n=${IO.waitMs} (awaits a ${IO.waitMs} ms timer, no CPU) at ${IO.rate} req/s on its own pool (16 open, up to 64), so about ${
          IO.rate * IO.waitMs / 1000
        } are in flight at any time: a server that cannot overlap them queues them.`,
    },
    "/fast alone (the slow side uses no CPU).",
  ),
  ...shape(
    {
      id: "skew-h2",
      label: `HTTP/2: ${share} /slow among /fast as streams of one connection`,
      kind: "latency",
      server: "h2",
      sharedConnections: true,
      method:
        `h2load over ONE cleartext HTTP/2 connection (h2c, prior knowledge): \`h2load -c1 -m${H2_STREAMS} --rps=R -n N\` with a URI list where every ${SHARED_EVERY}th request is /slow203 (the same work as /slow, answered 203 so h2load's per-request log tells it apart). h2load submits at a fixed rate with up to ${H2_STREAMS} streams in flight; latency from each stream's submission. The server sees every request on one connection: \`deno serve --parallel\` and Node cluster pin it to one isolate or process.`,
    },
    `/fast alone over the one connection at the same /fast rate, and in place of /slow203 ${BURNER}.`,
  ),
  {
    id: "ssr",
    label:
      `Server-side rendering: ~50 KiB page, JSON and a static file, ${SSR_CONNECTIONS} connections`,
    kind: "throughput",
    server: "ssr",
    method:
      `Closed loop: \`wrk -t1 -c${SSR_CONNECTIONS}\` requesting in turn a listing page rendered per request with preact-render-to-string (~50 KiB of HTML from JSON data; bench/handlers/ssr_page.mjs), a small JSON document and a 6 KiB stylesheet (ringpool: its \`static\` option; the others read the file in the handler). Latency over all three, from each request's actual send.`,
  },
];

/** Runs one workload against the running contender. */
export function runWorkload(
  workload: string,
  ctx: WorkloadContext,
): Promise<Figures> {
  const run = runThroughput(workload, ctx) ?? runSkew(workload, ctx);
  if (run === undefined) {
    throw new RangeError(
      `Cannot run workload '${workload}' as it is unknown: use one of ${
        WORKLOADS.map((w) => w.id).join(", ")
      }`,
    );
  }
  return run;
}
