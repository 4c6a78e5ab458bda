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
  children?: number[];
}

/** The main thread's sampled time in one phase of a request. */
export interface ProfilePhase {
  phase: string;
  /** Percent of the samples that were not idle. */
  busyPercent: number;
  /** Sampled time in the phase over the whole profile, µs. */
  micros: number;
}

// ringpool's main-thread methods by the phase of a request they do. A sample
// counts for the innermost of these on its stack, so what they call (a
// Response constructor, encodeInto, Atomics.notify) counts with them.
const PHASES: [string, string[]][] = [
  ["accept: read a whole body, encode the request head", [
    "#handle",
    "#accept",
    "#enqueue",
    "#start",
    "#leastBusyWorker",
  ]],
  ["wake workers (Atomics.notify)", ["#ring", "#ringDoorbell", "#toWorker"]],
  ["wait for and drain worker events", [
    "#eventLoop",
    "#drainEvents",
    "#onEvent",
  ]],
  ["decode the reply and build the Response", [
    "#respond",
    "#respondFull",
    "#respondWith",
    "#respondStream",
    "#onBulkResponse",
    "#readHead",
    "#headerList",
    "#feed",
  ]],
  ["stream request bodies", ["#pumpBody"]],
  ["free and reuse slots", [
    "#release",
    "#reuse",
    "#nextWaiting",
    "#reportCompletion",
  ]],
  ["timeouts sweep", ["#checkDeadlines"]],
];
const PHASE_OF = new Map(
  PHASES.flatMap(([phase, names]) => names.map((name) => [name, phase])),
);
const OTHER = "Deno.serve and the runtime (no ringpool frame on the stack)";

function phasesOf(
  nodes: ProfileNode[],
  samples: number[],
  timeDeltas: number[],
): ProfilePhase[] {
  // Each sample's time is the delta to the next sample.
  const timeOf = new Map<number, number>();
  for (let i = 0; i < samples.length; i++) {
    const delta = timeDeltas[i + 1] ?? 0;
    timeOf.set(samples[i]!, (timeOf.get(samples[i]!) ?? 0) + delta);
  }
  const parent = new Map<number, ProfileNode>();
  for (const node of nodes) {
    for (const child of node.children ?? []) parent.set(child, node);
  }
  const hits = new Map<string, number>();
  const micros = new Map<string, number>();
  let busy = 0;
  for (const node of nodes) {
    const count = node.hitCount ?? 0;
    const name = node.callFrame.functionName;
    if (count === 0) continue;
    if (name === "(idle)") {
      const idle = "idle, or in Deno's Rust code (HTTP parsing, socket I/O)";
      micros.set(idle, (micros.get(idle) ?? 0) + (timeOf.get(node.id) ?? 0));
      continue;
    }
    busy += count;
    let phase: string | undefined;
    if (name === "(garbage collector)") phase = "garbage collection";
    for (
      let at: ProfileNode | undefined = node;
      phase === undefined && at !== undefined;
      at = parent.get(at.id)
    ) {
      phase = PHASE_OF.get(at.callFrame.functionName);
    }
    phase ??= OTHER;
    hits.set(phase, (hits.get(phase) ?? 0) + count);
    micros.set(phase, (micros.get(phase) ?? 0) + (timeOf.get(node.id) ?? 0));
  }
  const phases = [...hits].sort((a, b) => b[1] - a[1]).map((
    [phase, count],
  ) => ({
    phase,
    busyPercent: Math.round(count / Math.max(1, busy) * 1000) / 10,
    micros: micros.get(phase) ?? 0,
  }));
  for (const [phase, time] of micros) {
    if (!hits.has(phase)) phases.push({ phase, busyPercent: 0, micros: time });
  }
  return phases;
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
 * while `load()` runs, and returns the top functions by self time and the
 * busy time per phase of a request.
 */
export async function profileMainThread(
  inspectPort: number,
  load: () => Promise<unknown>,
  top = 15,
): Promise<{ entries: ProfileEntry[]; phases: ProfilePhase[] }> {
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
      profile?: {
        nodes: ProfileNode[];
        samples?: number[];
        timeDeltas?: number[];
      };
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
    const entries = [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([frame, hits]) => ({
        frame,
        selfPercent: Math.round(hits / Math.max(1, total) * 1000) / 10,
      }));
    const phases = phasesOf(
      nodes,
      result.profile?.samples ?? [],
      result.profile?.timeDeltas ?? [],
    );
    return { entries, phases };
  } finally {
    socket.close();
    await new Promise((r) => {
      if (socket.readyState === WebSocket.CLOSED) r(null);
      else socket.onclose = r;
    });
  }
}
