/**
 * Who the WebSocket benchmark measures and with which messages. Every
 * contender serves `bench/handlers/ws_echo.ts`, each in its own process:
 * ringpool's `serve()` with its defaults (through contenders/ringpool.ts,
 * as the HTTP harness starts it), single-isolate `deno serve` and
 * `deno serve --parallel`.
 *
 * @module
 */
import type { WsShape } from "./types.ts";
import { DEFAULTS_LABEL } from "../_defaults.ts";

const here = (path: string) => new URL(path, import.meta.url).pathname;
/** The handler module all contenders serve. */
export const WS_HANDLER: string = here("../handlers/ws_echo.ts");

/** How to start one contender on a port. */
export interface WsContender {
  id: string;
  label: string;
  command(port: number): { args: string[]; env?: Record<string, string> };
}

/** The contender every ratio is taken against. */
export const BASELINE = "deno-single";

const denoServe = (port: number, parallel: boolean) => [
  "serve",
  "-A",
  ...(parallel ? ["--parallel"] : []),
  "--host",
  "127.0.0.1",
  "--port",
  String(port),
  WS_HANDLER,
];

/** ringpool, single `deno serve`, `deno serve --parallel`. */
export const WS_CONTENDERS: WsContender[] = [
  {
    id: "ringpool",
    label: `ringpool (defaults: ${DEFAULTS_LABEL})`,
    command: (port) => ({
      args: [
        "run",
        "-A",
        here("../contenders/ringpool.ts"),
        String(port),
        "--handler",
        WS_HANDLER,
      ],
    }),
  },
  {
    id: BASELINE,
    label: "deno serve (1 isolate)",
    command: (port) => ({ args: denoServe(port, false) }),
  },
  {
    id: "deno-parallel",
    label: "deno serve --parallel (2)",
    // Two isolates, as the HTTP and SSE benchmarks run it.
    command: (port) => ({
      args: denoServe(port, true),
      env: { DENO_JOBS: "2" },
    }),
  },
];

/** Small text, 64 KiB binary, small text with ~1 ms of handler work. */
export const WS_SHAPES: WsShape[] = [
  { id: "small", label: "32 B text", kind: "text", bytes: 32, work: false },
  {
    id: "64k",
    label: "64 KiB binary",
    kind: "binary",
    bytes: 64 * 1024,
    work: false,
  },
  {
    id: "small-work",
    label: "32 B text + ~1 ms work",
    kind: "text",
    bytes: 32,
    work: true,
  },
];

/** Issue 9's goals: ringpool's messages/s over single `deno serve`'s. */
export const WS_GOALS: { shape: WsShape["id"]; atLeast: number }[] = [
  { shape: "small", atLeast: 0.5 },
  { shape: "small-work", atLeast: 1.8 },
];
