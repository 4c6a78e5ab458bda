// Samples the main thread of a contender with V8's CPU profiler through the
// inspector protocol (Deno has no --cpu-prof flag), to show where the main
// thread's time per request goes.

/** Self time of one function in the profile. */
export interface ProfileEntry {
  /** "functionName url:line", or a V8 pseudo-node such as "(garbage collector)". */
  frame: string;
  /** Share of all samples, percent. */
  selfPercent: number;
}

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}

function frameName(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (frame.url === "") return name;
  // Keep the file name only: paths differ between machines.
  const file = frame.url.replace(/^.*\//, "");
  return `${name} ${file}:${frame.lineNumber + 1}`;
}

/**
 * Connects to the inspector on `inspectPort`, profiles the main isolate
 * while `load()` runs, and returns the top functions by self time.
 */
export async function profileMainThread(
  inspectPort: number,
  load: () => Promise<unknown>,
  top = 15,
): Promise<ProfileEntry[]> {
  const targets =
    await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`, {
      signal: AbortSignal.timeout(5000),
    })).json() as { webSocketDebuggerUrl: string }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error("the inspector lists no target");
  const socket = new WebSocket(url);
  const replies = new Map<number, (result: unknown) => void>();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data as string);
    if (message.id !== undefined) {
      replies.get(message.id)?.(message.result ?? message.error);
    }
  };
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () =>
      reject(new Error("could not connect to the inspector"));
  });
  let nextId = 1;
  const send = (method: string, params: Record<string, unknown> = {}) => {
    const id = nextId++;
    const reply = new Promise<unknown>((resolve) => replies.set(id, resolve));
    socket.send(JSON.stringify({ id, method, params }));
    return reply;
  };
  try {
    await send("Profiler.enable");
    // 200 µs: fine enough for a few seconds of load, cheap enough not to
    // dominate the main thread it measures.
    await send("Profiler.setSamplingInterval", { interval: 200 });
    await send("Profiler.start");
    await load();
    const result = await send("Profiler.stop") as {
      profile?: { nodes: ProfileNode[] };
    };
    const nodes = result.profile?.nodes ?? [];
    const byFrame = new Map<string, number>();
    let total = 0;
    for (const node of nodes) {
      const hits = node.hitCount ?? 0;
      total += hits;
      const name = frameName(node.callFrame);
      byFrame.set(name, (byFrame.get(name) ?? 0) + hits);
    }
    return [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, top).map((
      [frame, hits],
    ) => ({
      frame,
      selfPercent: Math.round(hits / Math.max(1, total) * 1000) / 10,
    }));
  } finally {
    socket.close();
    await new Promise((r) => {
      if (socket.readyState === WebSocket.CLOSED) r(null);
      else socket.onclose = r;
    });
  }
}
