// The arrows between the rooms of src/ run one way (issue 8). Every import
// in src/ is an arrow from its file to the imported one: `import … from`,
// `export … from`, `import("…")`, and `new URL("./x.ts", import.meta.url)`
// (how a worker's entry module is named). Each arrow must be allowed by
// MAY_IMPORT below, and the rooms must import each other without cycles.

import assert from "node:assert/strict";
import ts from "npm:typescript@5.9.3";
import { REPO, sourceFiles } from "./_helpers.ts";

/**
 * Who may import whom in src/. A room is a folder (with its subfolders:
 * `_server/` includes `_server/worker/`) or a file at the top of src/. A
 * file may import any file of its own room, and the rooms listed here.
 *
 * Read from the bottom up: leaves, the supervision both engines share, the
 * engines, the public files over them, and the command line on top.
 */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  // Leaf helpers, and the two public leaves anyone may import.
  "_common/": [],
  "errors.ts": ["_common/"],
  "ring_buffer.ts": ["errors.ts", "_common/"],
  // Calls Deno.upgradeWebSocket, which a server worker relays.
  "websocket.ts": [],
  // Worker supervision shared by both engines.
  "_workers/": ["_common/"],
  // The engines: they never import each other.
  "_pool/": ["_workers/", "ring_buffer.ts", "errors.ts", "_common/"],
  "_server/": [
    "_workers/",
    "static_files.ts",
    "_static/",
    "ring_buffer.ts",
    "errors.ts",
    "_common/",
  ],
  "_static/": ["_common/"],
  // The public files: their own room plus the leaves.
  "thread_pool.ts": ["_pool/", "ring_buffer.ts", "errors.ts", "_common/"],
  "server.ts": ["_server/", "ring_buffer.ts", "errors.ts", "_common/"],
  "static_files.ts": ["_static/", "ring_buffer.ts", "errors.ts", "_common/"],
  // The command line, over the public files.
  "_cli/": [
    "thread_pool.ts",
    "server.ts",
    "static_files.ts",
    "ring_buffer.ts",
    "errors.ts",
    "_common/",
  ],
  "cli.ts": [
    "_cli/",
    "thread_pool.ts",
    "server.ts",
    "static_files.ts",
    "ring_buffer.ts",
    "errors.ts",
    "_common/",
  ],
};

/** An import of one file by another, as paths from the repository root. */
interface Arrow {
  from: string;
  to: string;
}

/** The room of a path under src/: `_server/` or `server.ts`; `undefined` outside src/. */
function roomOf(path: string): string | undefined {
  if (!path.startsWith("src/")) return undefined;
  const [first, ...rest] = path.slice("src/".length).split("/");
  return rest.length === 0 ? first : `${first}/`;
}

/** Whether `node` is `import.meta.url`. */
function isImportMetaUrl(node: ts.Node | undefined): boolean {
  return node !== undefined && ts.isPropertyAccessExpression(node) &&
    ts.isMetaProperty(node.expression) && node.name.text === "url";
}

/** The module specifiers a source text imports, in the four forms above. */
function specifiersOf(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    let specifier: ts.Node | undefined;
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      specifier = node.moduleSpecifier;
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword
    ) {
      specifier = node.arguments[0];
    } else if (
      ts.isNewExpression(node) && ts.isIdentifier(node.expression) &&
      node.expression.text === "URL" && isImportMetaUrl(node.arguments?.[1])
    ) {
      const first = node.arguments?.[0];
      // Only a module is an arrow, not a data file beside the code.
      if (
        first && ts.isStringLiteralLike(first) &&
        /\.[mc]?[jt]s$/.test(first.text)
      ) {
        specifier = first;
      }
    }
    if (specifier && ts.isStringLiteralLike(specifier)) {
      found.push(specifier.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The arrows from `file` (a path from the repository root) to files of ours. */
function arrowsOf(file: string, text: string): Arrow[] {
  const base = new URL(file, REPO);
  return specifiersOf(file, text).flatMap((specifier) => {
    // The package's own name is an import of mod.ts; npm:, node:, jsr: and
    // other URLs are not ours.
    if (specifier === "@ringpool/ringpool") {
      return [{ from: file, to: "mod.ts" }];
    }
    if (!specifier.startsWith("./") && !specifier.startsWith("../")) return [];
    const to = new URL(specifier, base).href.slice(REPO.href.length);
    return [{ from: file, to }];
  });
}

/** Every arrow in src/. */
function sourceArrows(): Arrow[] {
  return sourceFiles().flatMap((file) =>
    arrowsOf(file, Deno.readTextFileSync(new URL(file, REPO)))
  );
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(new URL(path, REPO)).isFile;
  } catch {
    return false;
  }
}

/** Why `arrow` is forbidden, or `undefined` if the table allows it. */
function forbidden(arrow: Arrow): string | undefined {
  const from = roomOf(arrow.from)!;
  const to = roomOf(arrow.to);
  if (to === from) return undefined;
  const allowed = MAY_IMPORT[from] ?? [];
  if (to !== undefined && allowed.includes(to)) return undefined;
  const reason = to === undefined
    ? `${arrow.to} is outside src/`
    : !exists(arrow.to)
    ? `${arrow.to} does not exist`
    : MAY_IMPORT[to] === undefined
    ? `${to} is in no room of the table`
    : allowed.length === 0
    ? `${from} imports nothing of ours`
    : `${from} may import only ${allowed.join(", ")}`;
  return `${arrow.from} -> ${arrow.to} (${reason})`;
}

/** The groups of rooms that import each other in a cycle (Tarjan's SCCs). */
function cycles(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const connect = (room: string): void => {
    index.set(room, index.size);
    low.set(room, index.get(room)!);
    stack.push(room);
    for (const next of edges.get(room) ?? []) {
      if (!index.has(next)) {
        connect(next);
        low.set(room, Math.min(low.get(room)!, low.get(next)!));
      } else if (stack.includes(next)) {
        low.set(room, Math.min(low.get(room)!, index.get(next)!));
      }
    }
    if (low.get(room) !== index.get(room)) return;
    const group = stack.splice(stack.indexOf(room));
    if (group.length > 1) found.push(group.sort());
  };
  for (const room of edges.keys()) if (!index.has(room)) connect(room);
  return found;
}

/** The shortest cycle from the first room of `group` back to it, as rooms. */
function shortestCycle(
  edges: Map<string, Set<string>>,
  group: string[],
): string[] {
  const start = group[0]!;
  const paths: string[][] = [[start]];
  for (const path of paths) {
    for (const next of edges.get(path.at(-1)!) ?? []) {
      if (next === start) return [...path, start];
      const fresh = group.includes(next) &&
        !paths.some((p) => p.at(-1) === next);
      if (fresh) paths.push([...path, next]);
    }
  }
  return group;
}

/** The room-to-room graph of `arrows` (arrows within a room left out). */
function roomGraph(arrows: Arrow[]): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const { from, to } of arrows) {
    const [a, b] = [roomOf(from), roomOf(to)];
    if (a === undefined || b === undefined || a === b) continue;
    edges.set(a, (edges.get(a) ?? new Set()).add(b));
  }
  return edges;
}

function failIfAny(problems: string[], what: string): void {
  if (problems.length > 0) {
    assert.fail(`${what} (${problems.length}):\n  ${problems.join("\n  ")}`);
  }
}

Deno.test("the import finder sees imports, re-exports, dynamic imports and worker URLs", () => {
  const text = `
    import { a } from "./a.ts";
    import type { B } from "../b.ts";
    import "./side_effect.ts";
    export { c } from "./_c/c.ts";
    export * from "./d.ts";
    const e = await import("./e.ts");
    const worker = new URL("./_w/worker.ts", import.meta.url);
    const page = new URL("../static/page.html", import.meta.url);
    import { parseArgs } from "node:util";
    import mime from "npm:mime@4.1.2";
    // import { f } from "./in_a_comment.ts";
  `;
  assert.deepEqual(arrowsOf("src/_x/x.ts", text).map((arrow) => arrow.to), [
    "src/_x/a.ts",
    "src/b.ts",
    "src/_x/side_effect.ts",
    "src/_x/_c/c.ts",
    "src/_x/d.ts",
    "src/_x/e.ts",
    "src/_x/_w/worker.ts",
  ]);
  assert.equal(roomOf("src/_server/worker/main.ts"), "_server/");
  assert.equal(roomOf("src/server.ts"), "server.ts");
  assert.ok(sourceArrows().length > 0, "the walk finds the imports in src/");
});

Deno.test("the table of allowed imports names only its own rooms, has no cycles, and keeps _pool and _server apart", () => {
  const unknown = Object.entries(MAY_IMPORT).flatMap(([room, allowed]) =>
    allowed.filter((to) => MAY_IMPORT[to] === undefined).map((to) =>
      `${room} -> ${to}`
    )
  );
  failIfAny(unknown, "rooms the table allows but does not list");
  const edges = new Map(
    Object.entries(MAY_IMPORT).map((
      [room, allowed],
    ) => [room, new Set(allowed)]),
  );
  assert.deepEqual(cycles(edges), [], "the table allows a cycle");
  assert.ok(!MAY_IMPORT["_pool/"]!.includes("_server/"));
  assert.ok(!MAY_IMPORT["_server/"]!.includes("_pool/"));
});

Deno.test("every source file in src/ is in a room of the table", () => {
  const homeless = sourceFiles().filter((file) =>
    MAY_IMPORT[roomOf(file)!] === undefined
  ).map((file) => `${file} (room ${roomOf(file)})`);
  failIfAny(homeless, "files in no room of the table");
});

Deno.test("every import in src/ runs the way the table allows", () => {
  const problems = sourceArrows().filter((arrow) =>
    MAY_IMPORT[roomOf(arrow.from)!] !== undefined
  ).flatMap((arrow) => forbidden(arrow) ?? []);
  failIfAny([...new Set(problems)], "forbidden imports");
});

Deno.test("the rooms of src/ import each other without cycles", () => {
  const arrows = sourceArrows();
  const edges = roomGraph(arrows);
  const problems = cycles(edges).map((group) => {
    const path = shortestCycle(edges, group);
    const examples = path.slice(1).map((to, i) => {
      const arrow = arrows.find((arrow) =>
        roomOf(arrow.from) === path[i] && roomOf(arrow.to) === to
      )!;
      return `${arrow.from} -> ${arrow.to}`;
    });
    return `${group.join(", ")} import each other, e.g. ${path.join(" -> ")}: ${
      examples.join("; ")
    }`;
  });
  failIfAny(problems, "cycles between rooms");
});
