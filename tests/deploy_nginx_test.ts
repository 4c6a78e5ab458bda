// Deployment behind a real nginx (docs/DEPLOY.md): two instances behind one
// upstream, ~400 req/s of GET + 30% POST from a separate process, and not
// one request may fail while each instance in turn
//   - is restarted: SIGTERM, it drains and exits 0, it starts again — nginx
//     retries the other upstream meanwhile;
//   - is reloaded with SIGHUP: new workers load the handler afresh (a new
//     version on disk) and take over one at a time.
// Plain Deno.serve + shutdown() behind the same nginx is the baseline: it
// gets 0 failed restarts too, and ringpool must not do worse.
//
// nginx is Debian's (`apt-get install nginx`), started by the test with its
// own prefix in a temp dir, bound to 127.0.0.1, never as a system service.
// The tests skip (saying so) only if there is no nginx.
import { within } from "./_helpers.ts";
import assert from "node:assert/strict";

const NGINX = Deno.env.get("NGINX") ?? "/usr/sbin/nginx";
const MOD = new URL("../mod.ts", import.meta.url).pathname;
const APP = new URL("./fixtures/deploy_app.ts", import.meta.url).pathname;
const PLAIN = new URL("./fixtures/deploy_plain.ts", import.meta.url).pathname;
const LOAD = new URL("./fixtures/deploy_load.ts", import.meta.url).pathname;
const RATE = 400;
/**
 * nginx's fail_timeout: an upstream that refused a connection is left out
 * this long. A rolling restart waits this (and a second) after the
 * restarted instance is ready before it takes down the next.
 */
const FAIL_TIMEOUT_S = 1;
/** The load driver stops by itself after this, whatever the test does. */
const LOAD_MAX_SECONDS = 40;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function nginxPresent(): boolean {
  try {
    return Deno.statSync(NGINX).isFile;
  } catch {
    return false;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A child process whose output is kept (its tail) and always read to the end. */
class Child {
  readonly process: Deno.ChildProcess;
  readonly #output: Promise<void>;
  text = "";

  constructor(command: string, args: string[], env: Record<string, string>) {
    this.process = new Deno.Command(command, {
      args,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const read = async (stream: ReadableStream<Uint8Array<ArrayBuffer>>) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        this.text = (this.text + text).slice(-8000);
      }
    };
    this.#output = Promise.all([
      read(this.process.stdout),
      read(this.process.stderr),
    ]).then(() => {});
  }

  /** Waits for `pattern` in the output. */
  async waitFor(pattern: RegExp, what: string, ms = 15_000): Promise<void> {
    const deadline = performance.now() + ms;
    while (!pattern.test(this.text)) {
      if (performance.now() > deadline) {
        throw new Error(
          `${what} did not happen within ${ms} ms:\n${this.text}`,
        );
      }
      await sleep(20);
    }
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `ms`). */
  async stop(signal: Deno.Signal, ms = 15_000): Promise<Deno.CommandStatus> {
    try {
      this.process.kill(signal);
    } catch {
      // already gone
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) =>
      timer = setTimeout(() => r("late"), ms)
    );
    const first = await Promise.race([this.process.status, late]);
    clearTimeout(timer);
    if (first === "late") this.process.kill("SIGKILL");
    const status = await this.process.status;
    await this.#output;
    if (first === "late") {
      throw new Error(
        `the process did not exit within ${ms} ms of ${signal}:\n${this.text}`,
      );
    }
    return status;
  }
}

type Kind = "ringpool" | "plain";

/** One upstream instance on a fixed port, which it keeps across restarts. */
class Instance {
  readonly port = freePort();
  readonly kind: Kind;
  readonly #env: Record<string, string>;
  child: Child | undefined;

  constructor(kind: Kind, env: Record<string, string>) {
    this.kind = kind;
    this.#env = env;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = this.kind === "ringpool"
      ? [
        "run",
        "-A",
        MOD,
        APP,
        "--hostname",
        "127.0.0.1",
        "--port",
        String(this.port),
        "--workers",
        "2",
        "--readiness-path",
        "/healthz",
        "--dashboard-path",
        "/_dashboard",
      ]
      : ["run", "-A", PLAIN, String(this.port)];
    this.child = new Child(Deno.execPath(), args, {
      ...this.#env,
      DEPLOY_INSTANCE: String(this.port),
    });
    await this.child.waitFor(
      /Listening on http:\/\//,
      `${this.kind} :${this.port} listening`,
    );
  }

  /** Waits until its readinessPath answers 200 (ringpool; plain: it listens). */
  async ready(): Promise<void> {
    if (this.kind === "plain") return;
    const deadline = performance.now() + 10_000;
    while (true) {
      const response = await fetch(`${this.base}/healthz`).catch(() =>
        undefined
      );
      await response?.body?.cancel();
      if (response?.status === 200) return;
      assert.ok(performance.now() < deadline, `:${this.port} never got ready`);
      await sleep(50);
    }
  }

  /** SIGTERM: the drain; it must exit 0 by itself. */
  async stop(): Promise<void> {
    const child = this.child!;
    this.child = undefined;
    const status = await child.stop("SIGTERM");
    assert.equal(
      status.code,
      0,
      `${this.kind} :${this.port} exited with ${status.code}:\n${child.text}`,
    );
  }
}

/** The nginx configuration of docs/DEPLOY.md, with a test's paths and ports. */
function nginxConfig(dir: string, port: number, upstreams: number[]): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  # What each request's upstream attempts answered ("502, 200": retried).
  log_format attempts '$status $request_method $upstream_status';
  access_log ${dir}/access.log attempts;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;

  upstream ringpool {
${
    upstreams.map((p) =>
      `    server 127.0.0.1:${p} max_fails=1 fail_timeout=${FAIL_TIMEOUT_S}s;`
    ).join("\n")
  }
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://ringpool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_connect_timeout 2s;
      proxy_next_upstream error timeout http_503 non_idempotent;
      proxy_next_upstream_tries 3;
    }
  }
}
`;
}

/** nginx in the foreground with its own prefix. */
async function startNginx(dir: string, upstreams: number[]) {
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/nginx.conf`,
    nginxConfig(dir, port, upstreams),
  );
  // nginx's workers run as an unprivileged user when started as root.
  await Deno.chmod(dir, 0o755);
  const child = new Child(NGINX, [
    "-p",
    dir,
    "-c",
    `${dir}/nginx.conf`,
    "-e",
    `${dir}/error.log`,
    "-g",
    "daemon off;",
  ], {});
  const base = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 10_000;
  while (true) {
    try {
      const response = await fetch(`${base}/`);
      await response.body?.cancel();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) {
      await child.stop("SIGKILL");
      throw new Error(
        `nginx did not come up:\n${child.text}\n${await errorLog(dir)}`,
      );
    }
    await sleep(50);
  }
  return { base, child };
}

/**
 * What nginx retried on the other instance, from its access log: first
 * attempts by what they got (502: refused or closed without an answer).
 */
async function retries(dir: string): Promise<string> {
  const log = await Deno.readTextFile(`${dir}/access.log`).catch(() => "");
  const retried = new Map<string, number>();
  for (const line of log.split("\n")) {
    const [, method, ...attempts] = line.split(" ");
    if (attempts.length < 2) continue;
    const key = `${method} ${attempts[0]!.replace(",", "")}`;
    retried.set(key, (retried.get(key) ?? 0) + 1);
  }
  return `nginx retried ${
    retried.size === 0
      ? "none"
      : [...retried].map(([key, n]) => `${n} × ${key}`).join(", ")
  }`;
}

/** Checks that nginx sends requests to `instance` again (bounded). */
async function inRotation(base: string, instance: Instance): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    const response = await fetch(`${base}/`);
    await response.body?.cancel();
    if (response.headers.get("x-instance") === String(instance.port)) return;
    await sleep(50);
  }
  throw new Error(
    `nginx did not send requests to :${instance.port} again within 10 s`,
  );
}

async function errorLog(dir: string): Promise<string> {
  return await Deno.readTextFile(`${dir}/error.log`).catch(() => "");
}

interface LoadSummary {
  sent: number;
  ok: number;
  failed: number;
  skipped: number;
  posts: number;
  byStatus: Record<string, number>;
  failures: string[];
  versions: Record<string, number>;
  seconds: number;
}

/** The load driver in its own process; stop() closes its stdin and reads its summary. */
function startLoad(base: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", LOAD, base, String(RATE), String(LOAD_MAX_SECONDS)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const output = child.output();
  return {
    stop: async (): Promise<LoadSummary> => {
      await child.stdin.close();
      const { code, stdout } = await within(
        30_000,
        "the load driver's end",
        output,
      );
      assert.equal(code, 0, "the load driver failed");
      return JSON.parse(new TextDecoder().decode(stdout));
    },
  };
}

/**
 * Two instances behind nginx under load while `step` runs on each in turn;
 * returns the load's summary. Everything started is stopped at the end.
 */
async function underLoad(
  kind: Kind,
  step: (instance: Instance) => Promise<void>,
  env: Record<string, string> = {},
): Promise<LoadSummary> {
  const dir = await Deno.makeTempDir({ prefix: "ringpool-nginx-" });
  const instances = [new Instance(kind, env), new Instance(kind, env)];
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
  let load: ReturnType<typeof startLoad> | undefined;
  try {
    await Promise.all(instances.map((instance) => instance.start()));
    nginx = await startNginx(dir, instances.map((i) => i.port));
    load = startLoad(nginx.base);
    await sleep(1000);
    for (const instance of instances) {
      await step(instance);
      // Back in nginx's rotation before the next one goes.
      // docs/DEPLOY.md's rolling restart: once it is ready, wait out nginx's
      // fail_timeout before the next goes (or both could be out at once).
      await instance.ready();
      await sleep(FAIL_TIMEOUT_S * 1000 + 1000);
      await inRotation(nginx.base, instance);
    }
    await sleep(1000); // and a while with every instance back
    const summary = await load.stop();
    load = undefined;
    const log = await errorLog(dir);
    console.log(
      `${kind}: ${summary.sent} requests (${summary.posts} POST) in ${summary.seconds} s, ` +
        `${summary.failed} failed, statuses ${
          JSON.stringify(summary.byStatus)
        }, ` +
        `versions ${JSON.stringify(summary.versions)}; ${await retries(dir)}`,
    );
    if (summary.failed > 0) console.error(`nginx error log:\n${log}`);
    return summary;
  } finally {
    await load?.stop().catch(() => {});
    for (const instance of instances) {
      if (instance.child !== undefined) await instance.stop().catch(() => {});
    }
    await nginx?.child.stop("SIGQUIT");
    await Deno.remove(dir, { recursive: true });
  }
}

function assertNoFailures(summary: LoadSummary): void {
  assert.equal(summary.skipped, 0, "the load driver fell behind");
  assert.equal(
    summary.failed,
    0,
    `failed requests:\n${summary.failures.join("\n")}`,
  );
  assert.equal(summary.ok, summary.sent);
  // ~400 req/s over the whole run: the load was real.
  assert.ok(summary.seconds >= 3, `the load ran only ${summary.seconds} s`);
  assert.ok(
    summary.sent >= 0.9 * RATE * summary.seconds,
    `only ${summary.sent} requests were sent in ${summary.seconds} s`,
  );
  assert.ok(summary.posts >= summary.sent / 5, "too few POSTs");
}

/** SIGTERM, wait for the exit, start again on the same port. */
async function restart(instance: Instance): Promise<void> {
  await instance.stop();
  await instance.start();
}

const ignore = !nginxPresent();
const skipped = ignore
  ? ` (skipped: no nginx at ${NGINX}; on Debian: apt-get install nginx)`
  : "";

Deno.test({
  name:
    `ringpool behind nginx: restarting each instance in turn (SIGTERM, drain, start) fails no request${skipped}`,
  ignore,
  async fn() {
    assertNoFailures(await underLoad("ringpool", restart));
  },
});

Deno.test({
  name:
    `plain Deno.serve behind nginx: restarting each instance in turn (shutdown(), start) fails no request${skipped}`,
  ignore,
  async fn() {
    assertNoFailures(await underLoad("plain", restart));
  },
});

Deno.test({
  name:
    `ringpool behind nginx: SIGHUP reloads each instance in turn onto new code and fails no request${skipped}`,
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ringpool-version-" });
    const file = `${dir}/version`;
    await Deno.writeTextFile(file, "v1\n");
    try {
      const summary = await underLoad("ringpool", async (instance) => {
        // The new code is on disk before the first reload.
        await Deno.writeTextFile(file, "v2\n");
        instance.child!.process.kill("SIGHUP");
        await reloaded(instance);
      }, { DEPLOY_VERSION_FILE: file });
      assertNoFailures(summary);
      assert.ok(
        summary.versions.v1! > 0,
        "the old code answered before the reloads",
      );
      assert.ok(summary.versions.v2! > 0, "the new code answered after them");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * Waits until every worker of `instance` was replaced by a reload and runs
 * the new code (its dashboard's stats.json, then a direct request).
 */
async function reloaded(instance: Instance): Promise<void> {
  const deadline = performance.now() + 20_000;
  let last = "";
  while (performance.now() < deadline) {
    const response = await fetch(`${instance.base}/_dashboard/stats.json`);
    last = await response.text();
    const stats = JSON.parse(last) as {
      restarts: { reload: number };
      workers: { state: string }[];
    };
    if (
      stats.restarts.reload >= 2 && stats.workers.length === 2 &&
      stats.workers.every((w) => w.state === "ready")
    ) {
      for (let i = 0; i < 4; i++) {
        const answer = await fetch(`${instance.base}/`);
        assert.equal(
          await answer.text(),
          "v2\n",
          "a worker still runs the old code",
        );
      }
      return;
    }
    await sleep(100);
  }
  throw new Error(
    `instance :${instance.port} was not reloaded within 20 s (SIGHUP starts server.reload()); last stats: ${last}\n${instance.child?.text}`,
  );
}
