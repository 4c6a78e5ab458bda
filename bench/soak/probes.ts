// What the soak reads of its server process from outside: readiness, the
// `worker-N` threads under /proc, and the /metrics counters.
import { waitForOk } from "../_proc.ts";

/** The `worker-N` threads of `pid`: how many, and their CPU time in ms. */
export function workerThreads(pid: number): { count: number; cpuMs: number } {
  let count = 0;
  let cpuMs = 0;
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const dir = `/proc/${pid}/task/${task.name}`;
      if (!/^worker-\d+$/.test(Deno.readTextFileSync(`${dir}/comm`).trim())) {
        continue;
      }
      count++;
      cpuMs += Number(Deno.readTextFileSync(`${dir}/schedstat`).split(" ")[0]) /
        1e6;
    }
  } catch {
    // The process (or a thread) is gone.
  }
  return { count, cpuMs };
}

/** The server's /metrics text. */
export async function metrics(base: string): Promise<string> {
  const client = Deno.createHttpClient({});
  try {
    const response = await fetch(`${base}/metrics`, {
      client,
      signal: AbortSignal.timeout(5000),
    });
    return await response.text();
  } finally {
    client.close();
  }
}

/** `ringpool_responses_total` of a /metrics text, by status. */
export function responsesByStatus(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (
    const [, status, count] of text.matchAll(
      /^ringpool_responses_total\{status="(\d+)"\} (\d+)$/gm,
    )
  ) out[status!] = Number(count);
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for the port and 20 good answers in a row. */
export function waitReady(
  base: string,
  port: number,
  gone: Promise<unknown>,
): Promise<void> {
  return waitForOk(`${base}/small`, port, gone, 20);
}
