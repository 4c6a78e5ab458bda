/**
 * Runs the Node echo client (`client.mjs`) against a server for one window
 * and turns its JSON lines into {@linkcode WsFigures}, sampling the server
 * tree's CPU time when the client says the window starts and ends.
 *
 * @module
 */
import { treeCpuNs } from "../_proc.ts";
import type { WsFigures, WsShape } from "./types.ts";

const CLIENT = new URL("./client.mjs", import.meta.url).pathname;

/** What one client run needs. */
export interface ClientConfig {
  url: string;
  modulesDir: string;
  sockets: number;
  shape: WsShape;
  warmupMs: number;
  seconds: number;
  maxMessages: number;
}

interface ClientResult extends
  Omit<
    WsFigures,
    "failures" | "serverCpuCores"
  > {
  openFailed: number;
}

async function* jsonLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<{ type: string } & Record<string, unknown>> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const bytes of stream) {
    pending += decoder.decode(bytes, { stream: true });
    for (
      let nl = pending.indexOf("\n");
      nl !== -1;
      nl = pending.indexOf("\n")
    ) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() !== "") yield JSON.parse(line);
    }
  }
}

/**
 * One measured window of the echo client against `serverPid`'s server.
 *
 * @param config Where to connect, how many sockets, which shape, how long.
 * @param serverPid The server's root process (its tree's CPU is sampled).
 * @returns The client's figures with the server's CPU use added.
 * @throws {Error} When the client fails, or does not finish in time (it is
 *   killed then).
 */
export async function runClient(
  config: ClientConfig,
  serverPid: number,
): Promise<WsFigures> {
  const drainMs = 5000;
  const openTimeoutMs = 15_000;
  const child = new Deno.Command("node", {
    args: [
      CLIENT,
      JSON.stringify({
        url: config.url,
        modulesDir: config.modulesDir,
        sockets: config.sockets,
        kind: config.shape.kind,
        bytes: config.shape.bytes,
        warmupMs: config.warmupMs,
        seconds: config.seconds,
        maxMessages: config.maxMessages,
        openTimeoutMs,
        drainMs,
      }),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // A stuck client can never hang the benchmark.
  const limitMs = openTimeoutMs + config.warmupMs + config.seconds * 1000 +
    drainMs + 10_000;
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  };
  const killer = setTimeout(kill, limitMs);
  const stderr = new Response(child.stderr).text();
  let cpu = { startNs: NaN, startMs: NaN, cores: NaN };
  let result: ClientResult | undefined;
  try {
    for await (const line of jsonLines(child.stdout)) {
      if (line.type === "start") {
        cpu = { ...cpu, startNs: treeCpuNs(serverPid), startMs: Date.now() };
      } else if (line.type === "stop") {
        const ms = Date.now() - cpu.startMs;
        cpu.cores = (treeCpuNs(serverPid) - cpu.startNs) / 1e6 / ms;
      } else if (line.type === "result") {
        result = line as unknown as ClientResult;
      }
    }
  } catch (error) {
    // A garbled line: stop the client before giving up on it.
    kill();
    await child.status;
    await stderr;
    throw error;
  } finally {
    clearTimeout(killer);
  }
  const status = await child.status;
  const errorText = (await stderr).trim();
  if (result === undefined) {
    throw new Error(
      `the echo client ${
        status.signal
          ? `was killed (${status.signal})`
          : `exited ${status.code}`
      } without a result: ${errorText.slice(-500)}`,
    );
  }
  const failures = result.openFailed + result.mismatched + result.unanswered +
    result.closedEarly + result.errors;
  return {
    ...result,
    failures,
    serverCpuCores: Math.round(cpu.cores * 100) / 100,
  };
}
