// The contenders of the SSE benchmark: how to start each one's server
// process. All serve bench/handlers/sse.ts.
import { DEFAULTS_LABEL } from "../_defaults.ts";
const here = (path: string) => new URL(path, import.meta.url).pathname;
const HANDLER = here("../handlers/sse.ts");
// The entry's --serve mode calls serveRingpool.
const ENTRY = here("../sse.ts");

/** A server to measure: its id, its label in the report, its command. */
export interface Contender {
  id: string;
  label: string;
  command(port: number, statsFile: string): {
    args: string[];
    env?: Record<string, string>;
  };
}

/** Every contender, in the order of the first round. */
export const SSE_CONTENDERS: Contender[] = [
  {
    id: "ringpool",
    label: `ringpool (defaults: ${DEFAULTS_LABEL})`,
    command: (port, statsFile) => ({
      args: ["run", "-A", ENTRY, "--serve", String(port), statsFile],
    }),
  },
  {
    id: "deno-single",
    label: "deno serve (1 isolate)",
    command: (port) => ({
      args: [
        "serve",
        "-A",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        HANDLER,
      ],
    }),
  },
  {
    id: "deno-parallel",
    label: "deno serve --parallel (2)",
    command: (port) => ({
      args: [
        "serve",
        "-A",
        "--parallel",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        HANDLER,
      ],
      env: { DENO_JOBS: "2" },
    }),
  },
];
