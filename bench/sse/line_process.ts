// A child process that speaks JSON lines on stdout and takes commands on
// stdin: how the benchmark talks to its subscriber process.

/** A child process that speaks JSON lines on stdout. */
export class LineProcess {
  readonly child: Deno.ChildProcess;
  readonly #lines: AsyncIterator<string>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;

  constructor(cmd: string, args: string[]) {
    this.child = new Deno.Command(cmd, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#lines = lines(this.child.stdout);
    this.#writer = this.child.stdin.getWriter();
  }

  /** The next JSON line, or an error after `timeoutMs`. */
  async next<T>(timeoutMs: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      const { value, done } = await Promise.race([this.#lines.next(), late]);
      if (done) throw new Error("the process ended");
      return JSON.parse(value) as T;
    } finally {
      clearTimeout(timer);
    }
  }

  async send(command: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(command + "\n"));
  }

  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.child.status;
    await this.#writer.close().catch(() => {});
  }
}

async function* lines(stream: ReadableStream<Uint8Array>) {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const bytes of stream) {
    pending += decoder.decode(bytes, { stream: true });
    for (
      let nl = pending.indexOf("\n");
      nl !== -1;
      nl = pending.indexOf("\n")
    ) {
      yield pending.slice(0, nl);
      pending = pending.slice(nl + 1);
    }
  }
}
