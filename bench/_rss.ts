// The RSS test: 100 MiB streamed up, then (in a fresh server, so the
// upload's freed memory cannot hide the download's) 100 MiB down, and how
// far the server's RSS rose above where it started.
import { memory, resetPeak, treeRss } from "./_proc.ts";
import { type Running, start, warmUp } from "./_server.ts";
import type { Contender, RssResult } from "./_types.ts";

const MiB = 1024 * 1024;

/** Streams 100 MiB up and 100 MiB down through `contender`. */
export async function rssTest(
  contender: Contender,
  log: (l: string) => void,
): Promise<RssResult> {
  const up = await rssTransfer(contender, "up", log);
  if ("reason" in up) {
    return { contender: contender.id, available: false, reason: up.reason };
  }
  const down = await rssTransfer(contender, "down", log);
  if ("reason" in down) {
    return { contender: contender.id, available: false, reason: down.reason };
  }
  return {
    contender: contender.id,
    available: true,
    idleMiB: up.idleMiB,
    uploadGrowthMiB: up.growth,
    downloadGrowthMiB: down.growth,
    uploadOk: up.ok,
    downloadOk: down.ok,
    method: up.method,
  };
}

async function transfer(
  running: Running,
  client: Deno.HttpClient,
  direction: "up" | "down",
): Promise<boolean> {
  const total = 100 * MiB;
  if (direction === "up") {
    const chunk = new Uint8Array(64 * 1024).fill(120);
    let left = total / chunk.byteLength;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (left-- <= 0) c.close();
        else c.enqueue(chunk.slice());
      },
    });
    const response = await fetch(`${running.base}/upload`, {
      method: "POST",
      body,
      client,
      signal: AbortSignal.timeout(120_000),
    });
    const text = await response.text();
    return response.status === 200 && Number(text) === total;
  }
  const response = await fetch(`${running.base}/download?n=100`, {
    client,
    signal: AbortSignal.timeout(120_000),
  });
  let got = 0;
  for await (const c of response.body!) got += c.byteLength;
  return response.status === 200 && got === total;
}

async function rssTransfer(
  contender: Contender,
  direction: "up" | "down",
  log: (l: string) => void,
): Promise<
  { ok: boolean; growth: number; method: string; idleMiB: number } | {
    reason: string;
  }
> {
  let running: Running;
  try {
    running = await start(contender, log, "bench", {
      ...(contender.ringpool ? { maxBodySize: 256 * MiB } : {}),
    });
  } catch (error) {
    return { reason: (error as Error).message };
  }
  const pid = running.proc.pid;
  const client = Deno.createHttpClient({});
  try {
    await warmUp(running.base, {
      itersPerMs: 0,
      cpuIters: 1000,
      fastIters: 100,
      slowIters: 0,
      cpuMs: 0,
    });
    await new Promise((r) => setTimeout(r, 300));
    const idle = treeRss(pid);
    const base = memory(pid)?.rss ?? 0;
    const kernelPeak = resetPeak(pid);
    let sampled = base;
    const sampler = setInterval(() => {
      sampled = Math.max(sampled, memory(pid)?.rss ?? 0);
    }, 10);
    const ok = await transfer(running, client, direction).catch(() => false);
    clearInterval(sampler);
    const peak = kernelPeak
      ? Math.max(memory(pid)?.peak ?? 0, sampled)
      : sampled;
    return {
      ok,
      growth: Math.round((peak - base) / MiB * 10) / 10,
      method: kernelPeak ? "VmHWM" : "sampled",
      idleMiB: Math.round(idle / MiB * 10) / 10,
    };
  } finally {
    client.close();
    await running.proc.stop();
  }
}
