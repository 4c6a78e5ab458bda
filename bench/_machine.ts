// What the benchmark ran on, for the top of RESULTS.md.

/** Hardware and software the numbers belong to. */
export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  deno: string;
  v8: string;
  node: string;
  wrk: string;
  date: string;
}

async function version(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    return text.trim().split("\n")[0] ?? "unknown";
  } catch {
    return "not installed";
  }
}

/** Reads the machine description from /proc and the tools themselves. */
export async function describeMachine(): Promise<Machine> {
  let cpuModel = "unknown";
  let memoryGiB = NaN;
  try {
    cpuModel =
      /^model name\s*:\s*(.+)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"))
        ?.[1] ?? cpuModel;
    const kib = Number(
      /^MemTotal:\s+(\d+)/m.exec(Deno.readTextFileSync("/proc/meminfo"))?.[1],
    );
    memoryGiB = Math.round(kib / 1024 / 1024 * 10) / 10;
  } catch {
    // Not Linux: leave unknown.
  }
  return {
    cores: navigator.hardwareConcurrency,
    cpuModel,
    memoryGiB,
    os: `${Deno.build.os} ${Deno.osRelease()} (${Deno.build.arch})`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    node: await version("node", ["--version"]),
    wrk: await version("wrk", ["--version"]),
    date: new Date().toISOString(),
  };
}
