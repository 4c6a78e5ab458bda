// Process plumbing for the HTTP harness: free ports, readiness polling,
// /proc readers (RSS, CPU time per thread) and clean shutdown of a
// contender's whole process tree.

/** Picks a free TCP port on 127.0.0.1 by binding port 0 and closing it. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Polls until something accepts on `port`, the deadline passes or `gone` settles. */
export async function waitForPort(
  port: number,
  timeoutMs: number,
  gone: Promise<unknown>,
): Promise<void> {
  let exited = false;
  gone.then(() => exited = true, () => exited = true);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error("the process exited before listening");
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listened on port ${port} within ${timeoutMs} ms`);
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** Every process below `pid` (children, grandchildren, ...), from /proc. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    let tasks: Deno.DirEntry[] = [];
    try {
      tasks = [...Deno.readDirSync(`/proc/${p}/task`)];
    } catch {
      return;
    }
    for (const task of tasks) {
      const children = readText(`/proc/${p}/task/${task.name}/children`);
      for (const c of (children ?? "").trim().split(/\s+/)) {
        if (c === "") continue;
        out.push(Number(c));
        visit(Number(c));
      }
    }
  };
  visit(pid);
  return out;
}

/** Resident and peak resident memory of one process, in bytes. */
export function memory(pid: number): { rss: number; peak: number } | null {
  const status = readText(`/proc/${pid}/status`);
  if (status === null) return null;
  const kib = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kib("VmRSS") * 1024, peak: kib("VmHWM") * 1024 };
}

/** Summed resident memory of a process tree (Node cluster is many processes). */
export function treeRss(pid: number): number {
  let total = 0;
  for (const p of [pid, ...descendants(pid)]) total += memory(p)?.rss ?? 0;
  return total;
}

/** Resets the kernel's peak-RSS mark (VmHWM) of a process; false if not allowed. */
export function resetPeak(pid: number): boolean {
  try {
    Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

// schedstat's first field is the time the thread spent on a CPU, in ns; far
// finer than the clock ticks of /proc/<pid>/stat.
function taskCpuNs(pid: number, tid: number | string): number {
  const schedstat = readText(`/proc/${pid}/task/${tid}/schedstat`);
  if (schedstat !== null) return Number(schedstat.split(" ")[0]);
  const stat = readText(`/proc/${pid}/task/${tid}/stat`);
  if (stat === null) return 0;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 (1-based) of stat; ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 1e7;
}

/**
 * The machine's CPU time so far in ticks, all of it and the part the
 * hypervisor gave to other guests (steal: the 8th value of /proc/stat's
 * "cpu" line); zeros where /proc/stat cannot be read.
 */
export function machineTicks(): { total: number; steal: number } {
  const line = readText("/proc/stat")?.split("\n")[0] ?? "";
  // user nice system idle iowait irq softirq steal (guest time is in user)
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  return {
    total: ticks.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0),
    steal: ticks[7] ?? 0,
  };
}

/** CPU time of the main thread (tid = pid) of a process, in ns. */
export function mainThreadCpuNs(pid: number): number {
  return taskCpuNs(pid, pid);
}

/**
 * Time the main thread of a process spent runnable but waiting for a core
 * (schedstat's second field), in ns; 0 where the kernel does not say.
 */
export function mainThreadWaitNs(pid: number): number {
  const schedstat = readText(`/proc/${pid}/task/${pid}/schedstat`);
  return schedstat === null ? 0 : Number(schedstat.split(" ")[1] ?? 0);
}

/** CPU time of every thread of every process in the tree, in ns. */
export function treeCpuNs(pid: number): number {
  let total = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      for (const task of Deno.readDirSync(`/proc/${p}/task`)) {
        total += taskCpuNs(p, task.name);
      }
    } catch {
      // The process exited between listing and reading.
    }
  }
  return total;
}

/** Per-thread CPU time of one process, keyed by thread name, in ns. */
export function threadCpuByName(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const name = (readText(`/proc/${pid}/task/${task.name}/comm`) ?? "?")
        .trim();
      const key = task.name === String(pid) ? "main" : name;
      out.set(key, (out.get(key) ?? 0) + taskCpuNs(pid, task.name));
    }
  } catch {
    // Gone.
  }
  return out;
}

function alive(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  // A zombie ("Z") is dead for our purposes; its parent reaps it.
  return stat !== null && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

/** A started server process, stopped with its whole tree. */
export class ServerProcess {
  readonly pid: number;
  readonly exited: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #stderr = "";
  #drained: Promise<void>;

  constructor(cmd: string, args: string[], env: Record<string, string> = {}) {
    const child = new Deno.Command(cmd, {
      args,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.pid = child.pid;
    this.exited = this.#child.status;
    this.#drained = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) {
        // Keep only the tail: enough to explain a failure, bounded in size.
        this.#stderr = (this.#stderr + decoder.decode(chunk)).slice(-4000);
      }
    })();
  }

  /** The last few KiB the process wrote to stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  /** SIGTERM to the root, SIGKILL to whatever of the tree is left after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    const tree = [this.pid, ...descendants(this.pid)];
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    const timer = new Promise<"late">((r) => {
      const id = setTimeout(() => r("late"), graceMs);
      this.exited.finally(() => clearTimeout(id));
    });
    const outcome = await Promise.race([this.exited, timer]);
    if (outcome !== "late") {
      // Children (Node cluster workers) get a moment to follow their parent.
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const pid of tree) {
      if (!alive(pid)) continue;
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }
    await this.exited;
    await this.#drained;
  }
}

/**
 * Waits for a child's output, killing it if it is still running after
 * `limitMs`, so a stuck load generator can never hang the benchmark.
 */
export async function outputWithin(
  child: Deno.ChildProcess,
  limitMs: number,
): Promise<Deno.CommandOutput> {
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, limitMs);
  try {
    return await child.output();
  } finally {
    clearTimeout(timer);
  }
}

/** Fails with a message naming the package when `command` is not installed. */
export async function assertTool(
  command: string,
  aptPackage: string,
): Promise<void> {
  try {
    await new Deno.Command(command, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
  } catch {
    throw new Error(
      `${command} is not installed: run \`apt-get install -y ${aptPackage}\` (Debian) and retry`,
    );
  }
}

/** Installs `aptPackage` with apt-get when `command` is missing. */
export async function ensureTool(
  command: string,
  aptPackage: string,
): Promise<void> {
  try {
    await assertTool(command, aptPackage);
    return;
  } catch {
    console.error(`${command} missing: apt-get install -y ${aptPackage} ...`);
  }
  const install = await new Deno.Command("sh", {
    args: [
      "-c",
      `apt-get install -y -qq ${aptPackage} || (apt-get update -qq && apt-get install -y -qq ${aptPackage})`,
    ],
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (!install.success) {
    throw new Error(
      `could not install ${aptPackage} with apt-get; install it and retry`,
    );
  }
  await assertTool(command, aptPackage);
}

/**
 * Waits for the port, then polls `url` until `inARow` answers in a row are
 * 200 (bounded: 20 s for the port, 10 s for the answers).
 */
export async function waitForOk(
  url: string,
  port: number,
  gone: Promise<unknown>,
  inARow: number,
): Promise<void> {
  await waitForPort(port, 20_000, gone);
  const client = Deno.createHttpClient({});
  try {
    const deadline = Date.now() + 10_000;
    for (let ok = 0; ok < inARow;) {
      if (Date.now() > deadline) {
        throw new Error(`no 200 from ${url} within 10 s`);
      }
      const status = await fetch(url, {
        client,
        signal: AbortSignal.timeout(2000),
      }).then(async (r) => (await r.arrayBuffer(), r.status), () => 0);
      ok = status === 200 ? ok + 1 : 0;
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.close();
  }
}
