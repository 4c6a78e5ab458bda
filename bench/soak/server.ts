// The soak's server process: the parent starts it (bench/soak.ts --serve,
// so the server runs in a process of its own) and the child runs serve()
// with the settings described at the top of bench/soak.ts.
import { freePort, ServerProcess } from "../_proc.ts";
import type { SoakConfig } from "./config.ts";

const DENO = Deno.execPath();
// The entry's --serve mode calls serveSoak.
const ENTRY = new URL("../soak.ts", import.meta.url).pathname;

/** A started soak server: its process and where it listens. */
export interface SoakServer {
  process: ServerProcess;
  port: number;
  base: string;
}

/** Starts the soak's server on a free port (not yet ready: see waitReady). */
export function startSoakServer(config: SoakConfig): SoakServer {
  const port = freePort();
  const process = new ServerProcess(DENO, [
    "run",
    "-A",
    ENTRY,
    "--serve",
    String(port),
    String(config.heapMb),
    String(config.requestTimeout),
  ]);
  return { process, port, base: `http://127.0.0.1:${port}` };
}

/** The soak's server: serve() with the settings described at the top. */
export async function serveSoak(
  port: number,
  heapMb: number,
  requestTimeout: number,
): Promise<void> {
  // Loaded here, not at the top: only the child process needs the server.
  const { serve } = await import("../../src/server.ts");
  const server = await serve({
    handler: new URL("../handlers/soak.ts", import.meta.url),
    hostname: "127.0.0.1",
    port,
    requestTimeout,
    resourceLimits: { maxOldGenerationSizeMb: heapMb },
    metricsPath: "/metrics",
    onListen() {},
  });
  await server.finished;
}
