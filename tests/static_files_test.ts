import assert from "node:assert/strict";
import { relative } from "node:path";
import { pathToFileURL } from "node:url";
import { serveStatic } from "../mod.ts";

/**
 * A temporary tree:
 *
 *   <dir>/root/hello.txt, index.html, data.json, app.js, style.css,
 *              logo.png, blob.unknownext, "a b.txt", empty.txt, big.bin
 *              sub/index.html, noindex/, inside -> hello.txt,
 *              escape -> ../outside/secret.txt, escapedir -> ../outside
 *   <dir>/outside/secret.txt
 */
async function makeTree(): Promise<
  { dir: string; root: string; big: Uint8Array }
> {
  const dir = await Deno.makeTempDir({ prefix: "ringpool_static_" });
  const root = `${dir}/root`;
  await Deno.mkdir(`${root}/sub`, { recursive: true });
  await Deno.mkdir(`${root}/noindex`);
  await Deno.mkdir(`${dir}/outside`);
  await Deno.writeTextFile(`${dir}/outside/secret.txt`, "secret");
  await Deno.writeTextFile(`${root}/hello.txt`, "Hello, world!");
  await Deno.writeTextFile(`${root}/index.html`, "<h1>root</h1>");
  await Deno.writeTextFile(`${root}/sub/index.html`, "<h1>sub</h1>");
  await Deno.writeTextFile(`${root}/data.json`, "{}");
  await Deno.writeTextFile(`${root}/app.js`, "export {};");
  await Deno.writeTextFile(`${root}/style.css`, "body {}");
  await Deno.writeFile(`${root}/logo.png`, new Uint8Array([0x89, 0x50]));
  await Deno.writeFile(`${root}/blob.unknownext`, new Uint8Array([1]));
  await Deno.writeTextFile(`${root}/a b.txt`, "spaced");
  await Deno.writeTextFile(`${root}/empty.txt`, "");
  // 1 MiB of a fixed pattern, large enough to need several chunks.
  const big = new Uint8Array(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 8)) & 0xff;
  await Deno.writeFile(`${root}/big.bin`, big);
  await Deno.symlink(`${root}/hello.txt`, `${root}/inside`);
  await Deno.symlink(`${dir}/outside/secret.txt`, `${root}/escape`);
  await Deno.symlink(`${dir}/outside`, `${root}/escapedir`);
  return { dir, root, big };
}

async function withTree(
  fn: (tree: { root: string; big: Uint8Array }) => Promise<void>,
): Promise<void> {
  const tree = await makeTree();
  try {
    await fn(tree);
  } finally {
    await Deno.remove(tree.dir, { recursive: true });
  }
}

function get(path: string, headers: HeadersInit = {}, method = "GET"): Request {
  return new Request(`http://localhost${path}`, { method, headers });
}

async function must(
  response: Promise<Response | undefined>,
): Promise<Response> {
  const value = await response;
  assert.ok(value, "expected a response, got undefined");
  return value;
}

Deno.test("serveStatic() leaves requests outside the prefix to the caller", async () => {
  await withTree(async ({ root }) => {
    const options = { root, prefix: "/assets" };
    assert.equal(await serveStatic(get("/"), options), undefined);
    assert.equal(await serveStatic(get("/api/hello.txt"), options), undefined);
    assert.equal(
      await serveStatic(get("/assetsX/hello.txt"), options),
      undefined,
    );
    // A dot segment that climbs out of the prefix lands outside it.
    assert.equal(
      await serveStatic(get("/assets/../hello.txt"), options),
      undefined,
    );
    const inside = await must(serveStatic(get("/assets/hello.txt"), options));
    assert.equal(inside.status, 200);
    assert.equal(await inside.text(), "Hello, world!");
    // A trailing slash on the prefix means the same.
    const slash = await must(
      serveStatic(get("/assets/hello.txt"), { root, prefix: "/assets/" }),
    );
    assert.equal(await slash.text(), "Hello, world!");
  });
});

Deno.test("serveStatic() sets Content-Type from the file extension", async () => {
  await withTree(async ({ root }) => {
    const expected: Record<string, string> = {
      "/hello.txt": "text/plain; charset=UTF-8",
      "/index.html": "text/html; charset=UTF-8",
      "/data.json": "application/json; charset=UTF-8",
      "/app.js": "text/javascript; charset=UTF-8",
      "/style.css": "text/css; charset=UTF-8",
      "/logo.png": "image/png",
      "/blob.unknownext": "application/octet-stream",
    };
    for (const [path, type] of Object.entries(expected)) {
      const response = await must(serveStatic(get(path, {}, "HEAD"), { root }));
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get("content-type"), type, path);
    }
  });
});

Deno.test("serveStatic() sends ETag and Last-Modified, and 304 for a matching If-None-Match", async () => {
  await withTree(async ({ root }) => {
    const first = await must(serveStatic(get("/hello.txt"), { root }));
    await first.body?.cancel();
    const etag = first.headers.get("etag") ?? "";
    assert.ok(etag.startsWith('"'), `strong ETag expected: ${etag}`);
    const { mtime } = await Deno.stat(`${root}/hello.txt`);
    assert.equal(first.headers.get("last-modified"), mtime?.toUTCString());

    for (const header of [etag, `W/${etag}`, `"nope", ${etag}`, "*"]) {
      const again = await must(
        serveStatic(get("/hello.txt", { "if-none-match": header }), { root }),
      );
      assert.equal(again.status, 304, header);
      assert.equal(again.body, null);
      assert.equal(again.headers.get("etag"), etag);
    }
    const changed = await must(
      serveStatic(get("/hello.txt", { "if-none-match": '"other"' }), { root }),
    );
    assert.equal(changed.status, 200);
    assert.equal(await changed.text(), "Hello, world!");

    // The ETag changes with the file.
    await Deno.writeTextFile(`${root}/hello.txt`, "Hello again, world!");
    const edited = await must(
      serveStatic(get("/hello.txt", { "if-none-match": etag }), { root }),
    );
    assert.equal(edited.status, 200);
    assert.notEqual(edited.headers.get("etag"), etag);
    assert.equal(await edited.text(), "Hello again, world!");
  });
});

Deno.test("serveStatic() answers If-Modified-Since with 304 unless the file is newer", async () => {
  await withTree(async ({ root }) => {
    const { mtime } = await Deno.stat(`${root}/hello.txt`);
    assert.ok(mtime);
    const same = await must(
      serveStatic(
        get("/hello.txt", { "if-modified-since": mtime.toUTCString() }),
        {
          root,
        },
      ),
    );
    assert.equal(same.status, 304);
    const older = new Date(mtime.getTime() - 60_000).toUTCString();
    const newer = await must(
      serveStatic(get("/hello.txt", { "if-modified-since": older }), { root }),
    );
    assert.equal(newer.status, 200);
    await newer.body?.cancel();
  });
});

Deno.test("serveStatic() answers HEAD with the headers of GET and no body", async () => {
  await withTree(async ({ root }) => {
    const head = await must(
      serveStatic(get("/hello.txt", {}, "HEAD"), { root }),
    );
    assert.equal(head.status, 200);
    assert.equal(head.body, null);
    assert.equal(head.headers.get("content-length"), "13");
    assert.equal(head.headers.get("accept-ranges"), "bytes");
    const full = await must(serveStatic(get("/hello.txt"), { root }));
    assert.equal(full.headers.get("etag"), head.headers.get("etag"));
    assert.equal(full.headers.get("content-length"), "13");
    await full.body?.cancel();
  });
});

Deno.test("serveStatic() serves a single byte range with 206 and refuses unsatisfiable ones with 416", async () => {
  await withTree(async ({ root }) => {
    const cases: [string, string, string][] = [
      ["bytes=0-4", "Hello", "bytes 0-4/13"],
      ["bytes=7-", "world!", "bytes 7-12/13"],
      ["bytes=-6", "world!", "bytes 7-12/13"],
      ["bytes=7-100", "world!", "bytes 7-12/13"],
      ["bytes=-100", "Hello, world!", "bytes 0-12/13"],
    ];
    for (const [range, body, contentRange] of cases) {
      const response = await must(
        serveStatic(get("/hello.txt", { range }), { root }),
      );
      assert.equal(response.status, 206, range);
      assert.equal(response.headers.get("content-range"), contentRange, range);
      assert.equal(response.headers.get("content-length"), String(body.length));
      assert.equal(await response.text(), body, range);
    }
    for (const range of ["bytes=13-", "bytes=100-200", "bytes=-0"]) {
      const response = await must(
        serveStatic(get("/hello.txt", { range }), { root }),
      );
      assert.equal(response.status, 416, range);
      assert.equal(response.headers.get("content-range"), "bytes */13");
      assert.equal(response.body, null);
    }
    const empty = await must(
      serveStatic(get("/empty.txt", { range: "bytes=0-" }), { root }),
    );
    assert.equal(empty.status, 416);
    // Several ranges, another unit, or nonsense: the whole file.
    for (
      const range of ["bytes=0-1,3-4", "items=0-1", "bytes=5-2", "bytes=x"]
    ) {
      const response = await must(
        serveStatic(get("/hello.txt", { range }), { root }),
      );
      assert.equal(response.status, 200, range);
      assert.equal(await response.text(), "Hello, world!");
    }
  });
});

Deno.test("serveStatic() ignores Range when If-Range no longer matches", async () => {
  await withTree(async ({ root }) => {
    const first = await must(
      serveStatic(get("/hello.txt", {}, "HEAD"), { root }),
    );
    const etag = first.headers.get("etag") ?? "";
    const lastModified = first.headers.get("last-modified") ?? "";
    for (const ifRange of [etag, lastModified]) {
      const matching = await must(
        serveStatic(
          get("/hello.txt", { range: "bytes=0-4", "if-range": ifRange }),
          { root },
        ),
      );
      assert.equal(matching.status, 206, ifRange);
      assert.equal(await matching.text(), "Hello");
    }
    for (const ifRange of ['"stale"', "Thu, 01 Jan 1970 00:00:00 GMT"]) {
      const stale = await must(
        serveStatic(
          get("/hello.txt", { range: "bytes=0-4", "if-range": ifRange }),
          { root },
        ),
      );
      assert.equal(stale.status, 200, ifRange);
      assert.equal(await stale.text(), "Hello, world!");
    }
  });
});

Deno.test("serveStatic() streams a large file in chunks, also from an offset", async () => {
  await withTree(async ({ root, big }) => {
    const response = await must(serveStatic(get("/big.bin"), { root }));
    assert.equal(response.headers.get("content-length"), String(big.length));
    assert.ok(response.body);
    let chunks = 0;
    let largest = 0;
    const received = new Uint8Array(big.length);
    let offset = 0;
    for await (const chunk of response.body) {
      chunks++;
      largest = Math.max(largest, chunk.length);
      received.set(chunk, offset);
      offset += chunk.length;
    }
    assert.equal(offset, big.length);
    assert.deepEqual(received, big);
    // Read piece by piece, never the whole file at once.
    assert.ok(chunks >= 8, `expected several chunks, got ${chunks}`);
    assert.ok(largest <= 64 * 1024, `a chunk of ${largest} bytes`);

    const start = 300_001;
    const end = 700_123;
    const ranged = await must(
      serveStatic(get("/big.bin", { range: `bytes=${start}-${end}` }), {
        root,
      }),
    );
    assert.equal(ranged.status, 206);
    const bytes = new Uint8Array(await ranged.arrayBuffer());
    assert.deepEqual(bytes, big.subarray(start, end + 1));
  });
});

Deno.test("serveStatic() serves index.html for folders and redirects to the trailing slash", async () => {
  await withTree(async ({ root }) => {
    const top = await must(serveStatic(get("/"), { root }));
    assert.equal(top.status, 200);
    assert.equal(top.headers.get("content-type"), "text/html; charset=UTF-8");
    assert.equal(await top.text(), "<h1>root</h1>");
    const sub = await must(serveStatic(get("/sub/"), { root }));
    assert.equal(await sub.text(), "<h1>sub</h1>");
    const redirect = await must(serveStatic(get("/sub?x=1"), { root }));
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get("location"), "/sub/?x=1");
    const prefixed = await must(
      serveStatic(get("/assets"), { root, prefix: "/assets" }),
    );
    assert.equal(prefixed.status, 301);
    assert.equal(prefixed.headers.get("location"), "/assets/");
    const noIndex = await must(serveStatic(get("/noindex/"), { root }));
    assert.equal(noIndex.status, 404);
    await noIndex.body?.cancel();
  });
});

Deno.test("serveStatic() answers 404 for missing files and 405 for other methods", async () => {
  await withTree(async ({ root }) => {
    const missing = await must(serveStatic(get("/nope.txt"), { root }));
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const underFile = await must(serveStatic(get("/hello.txt/x"), { root }));
    assert.equal(underFile.status, 404);
    await underFile.body?.cancel();
    for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
      const response = await must(
        serveStatic(get("/hello.txt", {}, method), { root }),
      );
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get("allow"), "GET, HEAD");
      await response.body?.cancel();
    }
    const spaced = await must(serveStatic(get("/a%20b.txt"), { root }));
    assert.equal(await spaced.text(), "spaced");
  });
});

Deno.test("serveStatic() never serves a file outside the root", async () => {
  await withTree(async ({ root }) => {
    const attempts = [
      "/../outside/secret.txt",
      "/%2e%2e/outside/secret.txt",
      "/%2E%2E/outside/secret.txt",
      "/sub/..%2f..%2foutside/secret.txt",
      "/%2e%2e%2foutside%2fsecret.txt",
      "/..%5c..%5coutside%5csecret.txt",
      "/hello.txt%00.png",
      "/sub/%2e%2e%2f%2e%2e%2foutside%2fsecret.txt",
      "/escape",
      "/escapedir/secret.txt",
      "/escapedir/",
      "/%ff%fe", // not UTF-8
    ];
    for (const path of attempts) {
      const response = await must(serveStatic(get(path), { root }));
      const body = await response.text();
      assert.equal(response.status, 404, `${path} answered ${response.status}`);
      assert.ok(!body.includes("secret"), path);
    }
    // Encoded slashes are refused even where they would stay inside the root.
    for (const path of ["/sub%2findex.html", "/sub/..%2fhello.txt"]) {
      const response = await must(serveStatic(get(path), { root }));
      assert.equal(response.status, 404, path);
      await response.body?.cancel();
    }
    // A symlink that stays inside the root is fine.
    const inside = await must(serveStatic(get("/inside"), { root }));
    assert.equal(await inside.text(), "Hello, world!");
  });
});

Deno.test("serveStatic() takes the root as a file: URL or a relative path", async () => {
  await withTree(async ({ root }) => {
    for (
      const option of [
        pathToFileURL(root),
        pathToFileURL(root).href,
        relative(Deno.cwd(), root),
      ]
    ) {
      const response = await must(
        serveStatic(get("/hello.txt"), { root: option }),
      );
      assert.equal(await response.text(), "Hello, world!", String(option));
    }
  });
});

Deno.test("serveStatic() rejects a root that is not a path or a file/http URL, and a prefix without a slash", async () => {
  await assert.rejects(
    serveStatic(get("/"), { root: new URL("ftp://example.com/") }),
    TypeError,
  );
  await assert.rejects(
    serveStatic(get("/"), { root: ".", prefix: "assets" }),
    /must start with "\/"/,
  );
});

Deno.test("serveStatic() fetches from an http: root, passing validators and ranges through", async () => {
  await withTree(async ({ root }) => {
    const origin = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (request) =>
        await serveStatic(request, { root }) ??
          new Response("unreachable", { status: 500 }),
    );
    try {
      const remote = new URL(`http://127.0.0.1:${origin.addr.port}/`);
      const ok = await must(serveStatic(get("/files/hello.txt"), {
        root: remote,
        prefix: "/files",
      }));
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("content-type"), "text/plain; charset=UTF-8");
      const etag = ok.headers.get("etag");
      assert.ok(etag);
      assert.equal(await ok.text(), "Hello, world!");

      const cached = await must(
        serveStatic(get("/hello.txt", { "if-none-match": etag }), {
          root: remote.href,
        }),
      );
      assert.equal(cached.status, 304);
      await cached.body?.cancel();

      const ranged = await must(
        serveStatic(get("/hello.txt", { range: "bytes=0-4" }), {
          root: remote,
        }),
      );
      assert.equal(ranged.status, 206);
      assert.equal(ranged.headers.get("content-range"), "bytes 0-4/13");
      assert.equal(await ranged.text(), "Hello");

      const index = await must(serveStatic(get("/sub/"), { root: remote }));
      assert.equal(await index.text(), "<h1>sub</h1>");

      const missing = await must(
        serveStatic(get("/nope.txt"), { root: remote }),
      );
      assert.equal(missing.status, 404);
      await missing.body?.cancel();

      const escape = await must(
        serveStatic(get("/sub/..%2f..%2foutside/secret.txt"), { root: remote }),
      );
      assert.equal(escape.status, 404);
      await escape.body?.cancel();
    } finally {
      await origin.shutdown();
    }
  });
});

Deno.test("serveStatic() redirects a folder asked for with doubled slashes or backslashes to a path on this host", async () => {
  // `location: //sub/` would send the browser to the host "sub".
  await withTree(async ({ root }) => {
    const cases: [string, string | undefined, string][] = [
      ["//sub", undefined, "/sub/"],
      ["/\\sub", undefined, "/sub/"],
      ["///sub?x=1", undefined, "/sub/?x=1"],
      ["/\\/\\sub", undefined, "/sub/"],
      ["//%73ub", undefined, "/%73ub/"],
      ["//sub//noindex", undefined, "/sub/noindex/"],
      ["/assets//sub", "/assets", "/assets/sub/"],
      ["/assets/\\sub", "/assets", "/assets/sub/"],
    ];
    await Deno.mkdir(`${root}/sub/noindex`);
    for (const [path, prefix, location] of cases) {
      const response = await must(serveStatic(get(path), { root, prefix }));
      assert.equal(response.status, 301, path);
      assert.equal(response.headers.get("location"), location, path);
      const target = new URL(location, "http://localhost/");
      assert.equal(target.host, "localhost", path);
    }
    // Encoded, a slash or backslash is refused like any other.
    for (const path of ["/%2Fsub", "/%5Csub", "/%2F%2Fsub", "/%5C%5Csub"]) {
      const response = await must(serveStatic(get(path), { root }));
      assert.equal(response.status, 404, path);
      await response.body?.cancel();
    }
    // Asked for as a folder, it is served where it is.
    const served = await must(serveStatic(get("//sub/"), { root }));
    assert.equal(await served.text(), "<h1>sub</h1>");
  });
});
