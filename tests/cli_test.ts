import assert from "node:assert/strict";
import { parseCliArgs } from "../src/cli.ts";
import { serveStatic, UsageError } from "../mod.ts";

const REPO = new URL("../", import.meta.url);
const CLI_MAIN = new URL("./fixtures/cli_main.ts", import.meta.url);
const FIXTURES = new URL("./fixtures/", import.meta.url);
const HELLO = await Deno.readTextFile(new URL("static/hello.html", REPO));
const NOT_FOUND = await Deno.readTextFile(new URL("static/404.html", REPO));

// ---------------------------------------------------------------------------
// parseCliArgs: pure, no subprocess.

Deno.test("parseCliArgs() with no arguments gives the book's demo on 127.0.0.1:7878 with 4 workers", () => {
  assert.deepEqual(parseCliArgs([]), {
    help: false,
    hostname: "127.0.0.1",
    port: 7878,
    workers: 4,
  });
  // Flags override the demo's defaults.
  assert.deepEqual(parseCliArgs(["--port", "0", "--max-requests", "2"]), {
    help: false,
    hostname: "127.0.0.1",
    port: 0,
    workers: 4,
    maxRequests: 2,
  });
});

Deno.test("parseCliArgs() reads every flag for a handler module, in both --flag value and --flag=value form", () => {
  const args = [
    "app.ts",
    "--hostname",
    "::1",
    "--port=8080",
    "--workers",
    "8",
    "--spare-workers",
    "1",
    "--concurrency=3",
    "--queue-capacity",
    "0",
    "--max-body-size",
    "1024",
    "--request-timeout",
    "250",
    "--drain-timeout=0",
    "--cert",
    "cert.pem",
    "--key=key.pem",
    "--static-root",
    "public",
    "--static-prefix",
    "/assets",
    "--max-requests",
    "10",
    "--readiness-path",
    "/healthz",
    "--readiness-delay",
    "1500",
    "--metrics-path=/metrics",
  ];
  assert.deepEqual(parseCliArgs(args), {
    help: false,
    handler: "app.ts",
    hostname: "::1",
    port: 8080,
    workers: 8,
    spareWorkers: 1,
    concurrency: 3,
    queueCapacity: 0,
    maxBodySize: 1024,
    requestTimeout: 250,
    drainTimeout: 0,
    cert: "cert.pem",
    key: "key.pem",
    staticRoot: "public",
    staticPrefix: "/assets",
    maxRequests: 10,
    readinessPath: "/healthz",
    readinessDelay: 1500,
    metricsPath: "/metrics",
  });
  // The handler module may come after the flags, and the server's own
  // defaults (not the demo's) apply to what is not given.
  assert.deepEqual(parseCliArgs(["--workers", "2", "https://x.test/app.ts"]), {
    help: false,
    handler: "https://x.test/app.ts",
    workers: 2,
  });
  assert.equal(parseCliArgs(["--help"]).help, true);
  assert.equal(parseCliArgs(["-h", "app.ts"]).help, true);
});

Deno.test("parseCliArgs() throws a one-line UsageError for bad flags and values", () => {
  const bad: [string[], RegExp][] = [
    [["--bogus"], /Unknown option '--bogus'/],
    [["-x"], /Unknown option '-x'/],
    [["--port"], /'--port' needs a value/],
    [["--port", "-1"], /'--port' needs a value/],
    [
      ["--port=-1"],
      /--port: expected an integer from 0 to 65535, received '-1'/,
    ],
    [["--port", "65536"], /--port: expected an integer from 0 to 65535/],
    [["--port", "80a"], /--port/],
    [["--port", ""], /--port/],
    [
      ["--workers", "0"],
      /--workers: expected an integer of at least 1, received '0'/,
    ],
    [["--workers", "1.5"], /--workers/],
    [["--workers", "four"], /--workers/],
    [["--concurrency", "0"], /--concurrency/],
    [["--spare-workers", "-1"], /--spare-workers/],
    [["--queue-capacity", "-3"], /--queue-capacity/],
    [["--max-body-size", "1e6"], /--max-body-size/],
    [["--request-timeout", "0"], /--request-timeout/],
    [["--drain-timeout", "soon"], /--drain-timeout/],
    [["--max-requests", "0"], /--max-requests/],
    [["--readiness-path", "healthz"], /--readiness-path: expected a path/],
    [["--metrics-path", "m"], /--metrics-path: expected a path/],
    [["--readiness-delay", "-1"], /--readiness-delay/],
    [["--help=yes"], /'--help' takes no value/],
    [["--hostname="], /--hostname: it must not be empty/],
    [["a.ts", "b.ts"], /at most one handler module, received 2/],
    [["--cert", "c.pem"], /--cert and --key must be given together/],
    [["--key", "k.pem"], /--cert and --key must be given together/],
    [["--static-prefix", "/s"], /--static-prefix needs --static-root/],
    [["--static-root", "p", "--static-prefix", "s"], /starting with "\/"/],
    [
      ["a.ts", "--workers", "4", "--max-workers", "2"],
      /--max-workers \(2\) must be at least --workers \(4\)/,
    ],
  ];
  for (const [args, message] of bad) {
    assert.throws(
      () => parseCliArgs(args),
      (error: unknown) => {
        assert.ok(error instanceof UsageError, `${args.join(" ")}: ${error}`);
        assert.match(error.message, message, args.join(" "));
        assert.ok(!error.message.includes("\n"), `one line: ${error.message}`);
        return true;
      },
    );
  }
});

// ---------------------------------------------------------------------------
// The command line in a subprocess.

/** A CLI subprocess whose output the test can wait on. */
class Cli implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly status: Promise<Deno.CommandStatus>;
  stdout = "";
  stderr = "";
  #changed: (() => void)[] = [];
  #exited = false;

  constructor(args: string[], options: { cwd?: string | URL } = {}) {
    this.child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: options.cwd ?? REPO,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const pumps = [
      this.#pump(this.child.stdout, (text) => this.stdout += text),
      this.#pump(this.child.stderr, (text) => this.stderr += text),
    ];
    this.status = Promise.all(pumps).then(() => this.child.status);
    this.status.then(() => {
      this.#exited = true;
      for (const wake of this.#changed.splice(0)) wake();
    });
  }

  async #pump(
    stream: ReadableStream<Uint8Array<ArrayBuffer>>,
    append: (text: string) => void,
  ): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      append(text);
      for (const wake of this.#changed.splice(0)) wake();
    }
  }

  /** Waits until stdout matches `pattern`; fails after `timeoutMs`. */
  async waitFor(
    pattern: RegExp,
    timeoutMs = 15_000,
  ): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const match = this.stdout.match(pattern);
      if (match) return match;
      const left = deadline - Date.now();
      if (this.#exited || left <= 0) {
        throw new Error(
          `stdout never matched ${pattern}${
            this.#exited ? " (the process exited)" : ""
          }\nstdout: ${this.stdout}\nstderr: ${this.stderr}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#changed.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** The server's base URL, from the `Listening on ...` line. */
  async listening(): Promise<string> {
    const [, url] = await this.waitFor(/Listening on (http:\/\/\S+\/)/);
    return url!;
  }

  /** Waits for the exit; fails if it takes longer than `timeoutMs`. */
  async exit(timeoutMs = 15_000): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `the process did not exit within ${timeoutMs} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.status, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.status;
  }
}

function runCli(...args: string[]): Cli {
  return new Cli(["run", "-A", CLI_MAIN.href, ...args]);
}

async function getText(
  url: string,
): Promise<{ status: number; type: string | null; body: string; ms: number }> {
  const started = performance.now();
  const response = await fetch(url);
  const body = await response.text();
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    body,
    ms: performance.now() - started,
  };
}

Deno.test("the CLI prints the usage for --help and exits 0", async () => {
  await using cli = runCli("--help");
  const status = await cli.exit();
  assert.equal(status.code, 0, cli.stderr);
  assert.match(cli.stdout, /^Usage:/m);
  for (
    const flag of [
      "--hostname",
      "--port",
      "--workers",
      "--concurrency",
      "--queue-capacity",
      "--max-body-size",
      "--request-timeout",
      "--drain-timeout",
      "--cert",
      "--key",
      "--static-root",
      "--static-prefix",
      "--max-requests",
      "--help",
    ]
  ) {
    assert.ok(cli.stdout.includes(flag), `the usage mentions ${flag}`);
  }
  assert.equal(cli.stderr, "");
});

Deno.test("the CLI prints a one-line usage error and exits 2 for a bad flag or value", async () => {
  for (const args of [["--bogus"], ["--port", "http"]]) {
    await using cli = runCli(...args);
    const status = await cli.exit();
    assert.equal(status.code, 2, `${args.join(" ")}: ${cli.stderr}`);
    assert.equal(cli.stdout, "");
    assert.match(cli.stderr, /^error: .+\n$/, args.join(" "));
  }
});

Deno.test("the CLI exits 1 with a message when the certificate file is missing", async () => {
  await using cli = runCli(
    "--cert",
    "no_such_cert.pem",
    "--key",
    "no_such_key.pem",
  );
  const status = await cli.exit();
  assert.equal(status.code, 1);
  assert.match(cli.stderr, /^error: .*no_such_cert\.pem/);
});

Deno.test("the demo serves hello.html on /, 404.html elsewhere, keeps / fast during /sleep, and shuts down on SIGINT", async () => {
  await using cli = runCli("--port", "0");
  const base = await cli.listening();
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/$/);

  const root = await getText(base);
  assert.equal(root.status, 200);
  assert.equal(root.type, "text/html; charset=UTF-8");
  assert.equal(root.body, HELLO);

  const missing = await getText(`${base}nope`);
  assert.equal(missing.status, 404);
  assert.equal(missing.body, NOT_FOUND);

  // Start a /sleep and wait until a worker has taken it (its log line)...
  const jobsBefore = cli.stdout.match(/got a job; executing\./g)?.length ?? 0;
  const sleeping = getText(`${base}sleep`);
  await cli.waitFor(
    new RegExp(`(?:[^]*?got a job; executing\\.){${jobsBefore + 1}}`),
  );
  // ... then / still answers at once from another worker.
  const during = await getText(base);
  assert.equal(during.status, 200);
  assert.equal(during.body, HELLO);
  const slept = await sleeping;
  assert.equal(slept.status, 200);
  assert.equal(slept.body, HELLO);
  assert.ok(slept.ms >= 4_500, `/sleep took only ${slept.ms.toFixed(0)} ms`);
  assert.ok(
    during.ms < 2_000,
    `/ took ${during.ms.toFixed(0)} ms while /sleep was running`,
  );
  assert.match(cli.stdout, /^Worker \d+ got a job; executing\.$/m);

  cli.child.kill("SIGINT");
  const status = await cli.exit();
  assert.equal(status.code, 0, cli.stderr);
  assert.match(cli.stdout, /^Shutting down\.$/m);
  const workers = [...cli.stdout.matchAll(/^Shutting down worker (\d+)$/gm)]
    .map((match) => Number(match[1]));
  assert.equal(new Set(workers).size, 4, cli.stdout);
  // "Shutting down." comes first, as in the book.
  assert.ok(
    cli.stdout.indexOf("Shutting down.") <
      cli.stdout.indexOf("Shutting down worker"),
  );
});

Deno.test("the demo with --max-requests 2 shuts down by itself after two requests", async () => {
  await using cli = runCli(
    "--port",
    "0",
    "--workers",
    "2",
    "--max-requests",
    "2",
  );
  const base = await cli.listening();
  assert.equal((await getText(base)).status, 200);
  assert.equal((await getText(`${base}nope`)).status, 404);
  const status = await cli.exit();
  assert.equal(status.code, 0, cli.stderr);
  assert.equal(cli.stdout.match(/got a job; executing\./g)?.length, 2);
  assert.match(cli.stdout, /^Shutting down\.$/m);
  assert.equal(cli.stdout.match(/^Shutting down worker \d+$/gm)?.length, 2);
});

Deno.test("the CLI serves a handler module given as a relative path, with static files from the main thread", async () => {
  await using cli = new Cli([
    "run",
    "-A",
    CLI_MAIN.href,
    "cli_app.ts",
    "--hostname",
    "127.0.0.1",
    "--port",
    "0",
    "--workers",
    "2",
    "--static-root",
    "cli_static",
    "--static-prefix",
    "/files",
  ], { cwd: FIXTURES });
  const base = await cli.listening();
  const app = await getText(`${base}hello`);
  assert.equal(app.status, 200);
  assert.match(app.body, /^app \/hello from worker \d+$/);
  const file = await getText(`${base}files/note.txt`);
  assert.equal(file.status, 200);
  assert.equal(file.type, "text/plain; charset=UTF-8");
  assert.equal(file.body, "static file from the main thread\n");
  cli.child.kill("SIGINT");
  assert.equal((await cli.exit()).code, 0, cli.stderr);
});

Deno.test({
  name: "the demo runs when the package is imported from an http: URL",
  fn: async () => {
    // Serve the repository over HTTP, as a package host would.
    const host = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (request) =>
        await serveStatic(request, { root: REPO }) ??
          new Response("unreachable", { status: 500 }),
    );
    const origin = `http://127.0.0.1:${host.addr.port}/`;
    // mod.ts runs the CLI once the `import.meta.main` block is in; until then
    // the fixture does the same through an http: URL.
    const modTs = await Deno.readTextFile(new URL("mod.ts", REPO));
    const entry = modTs.includes("import.meta.main")
      ? `${origin}mod.ts`
      : `${origin}tests/fixtures/cli_main.ts`;
    const tmp = await Deno.makeTempDir({ prefix: "ringpool_cli_url_" });
    try {
      // Outside the repository and without a lockfile, so nothing of the
      // repository's configuration helps the remote module along; --reload so
      // a module cached from an earlier run on the same port is not reused.
      await using cli = new Cli([
        "run",
        "-A",
        "--no-lock",
        `--reload=${origin}`,
        entry,
        "--port",
        "0",
      ], { cwd: tmp });
      const base = await cli.listening();
      const root = await getText(base);
      assert.equal(root.status, 200);
      assert.equal(root.body, HELLO);
      const missing = await getText(`${base}nope`);
      assert.equal(missing.status, 404);
      assert.equal(missing.body, NOT_FOUND);
      cli.child.kill("SIGINT");
      assert.equal((await cli.exit()).code, 0, cli.stderr);
    } finally {
      await host.shutdown();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
