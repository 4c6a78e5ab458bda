// Every contender the HTTP harness knows, in report order: how to start
// each one for each kind of server a workload needs (../_types.ts).
import type { CommandLine, Contender, ServerKind } from "../_types.ts";
import { DEFAULT_THREADS, DEFAULTS_LABEL } from "../_defaults.ts";
import { ensureNodeSsrDeps, NODE_SSR_ENTRY } from "./node_ssr_deps.ts";

const DENO = Deno.execPath();
const here = (path: string) => new URL(path, import.meta.url).pathname;

/** The handler module the Deno contenders serve for a kind of server. */
export function handlerModule(kind: ServerKind): string {
  return here(kind === "ssr" ? "../handlers/ssr.ts" : "../handlers/handler.ts");
}

/** The folder ringpool serves under /static/ for the SSR app. */
export const STATIC_ROOT: string = here("../handlers/static");

function ringpool(
  id: string,
  label: string,
  workers: number,
  flags: string[],
): Contender {
  return {
    id,
    label,
    workers,
    ringpool: true,
    command: (port, kind, options = {}): CommandLine => ({
      cmd: DENO,
      args: [
        "run",
        "-A",
        here("./ringpool.ts"),
        String(port),
        ...flags,
        "--handler",
        handlerModule(kind),
        ...(kind === "ssr" ? ["--static", STATIC_ROOT] : []),
        ...(options.maxBodySize === undefined
          ? []
          : ["--max-body-size", String(options.maxBodySize)]),
      ],
    }),
  };
}

/** Every contender the harness knows, in report order. */
export const CONTENDERS: Contender[] = [
  {
    id: "deno-single",
    label: "Deno.serve (1 isolate)",
    workers: 1,
    ringpool: false,
    command: (port, kind) => ({
      cmd: DENO,
      args: [
        "run",
        "-A",
        here("./deno_single.ts"),
        String(port),
        handlerModule(kind),
      ],
    }),
  },
  {
    id: "deno-parallel",
    label: "deno serve --parallel (2)",
    workers: 2,
    ringpool: false,
    command: (port, kind) => ({
      cmd: DENO,
      args: [
        "serve",
        "-A",
        "--parallel",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        handlerModule(kind),
      ],
      env: { DENO_JOBS: "2" },
    }),
  },
  {
    id: "node-cluster",
    label: "Node cluster (2)",
    workers: 2,
    ringpool: false,
    prepare: async (kind) => {
      if (kind === "ssr") await ensureNodeSsrDeps();
    },
    command: (port, kind) => ({
      cmd: "node",
      args: [here("../handlers/node_cluster.mjs")],
      env: {
        WORKERS: "2",
        PORT: String(port),
        ...(kind === "h2" ? { H2C: "1" } : {}),
        ...(kind === "ssr" ? { APP: "ssr", SSR_DEPS: NODE_SSR_ENTRY } : {}),
      },
    }),
  },
  {
    id: "pm-pool",
    label: "postMessage pool (2)",
    workers: 2,
    ringpool: false,
    command: (port, kind) => ({
      cmd: DENO,
      args: [
        "run",
        "-A",
        here("./postmessage_pool.ts"),
        String(port),
        "2",
        handlerModule(kind),
      ],
    }),
  },
  // Other sizes for context, each exactly that many threads (4: the
  // default before 2026-12-02 on 2 cores; 3 and no spare: until the spare
  // came, later that day).
  ...[1, 2, 3, 4].map((n) =>
    ringpool(`ringpool-${n}`, `ringpool (${n}, no spare)`, n, [
      "--workers",
      String(n),
      "--spare-workers",
      "0",
    ])
  ),
  // serve()'s defaults, as a new user gets them: cores + 1 workers and a
  // spare, concurrency 16.
  ringpool(
    "ringpool-default",
    `ringpool (defaults: ${DEFAULTS_LABEL})`,
    DEFAULT_THREADS,
    [],
  ),
];
