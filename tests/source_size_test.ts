// The size limits of the layout (issue 8), checked on every .ts file under
// src/: at most 400 lines of code per file, 300 per class and 80 per function
// or method. A line of code is a line with a token on it: comments, JSDoc and
// blank lines do not count (a multi-line string counts every line it spans).
//
// `deno run -A tests/source_size_test.ts` prints every file's size with its
// largest class and function, and the offenders.

import assert from "node:assert/strict";
import ts from "npm:typescript@5.9.3";
import { REPO, sourceFiles } from "./_helpers.ts";

/** The most lines of code a file, a class and a function may have. */
const LIMITS = { file: 400, class: 300, function: 80 } as const;

type Kind = keyof typeof LIMITS;

/** One measured file, class or function. */
interface Measure {
  kind: Kind;
  /** The path from the repository root, e.g. `src/server.ts`. */
  file: string;
  /** 1-based line of the declaration (1 for a file). */
  line: number;
  /** e.g. `RingServer.#start`; the file's path for a file. */
  name: string;
  lines: number;
}

/** The lines of `node` that hold a token, JSDoc aside. */
function codeLines(source: ts.SourceFile, node: ts.Node): number {
  const lines = new Set<number>();
  const visit = (child: ts.Node): void => {
    if (
      child.kind >= ts.SyntaxKind.FirstJSDocNode &&
      child.kind <= ts.SyntaxKind.LastJSDocNode
    ) return;
    const children = child.getChildren(source);
    if (children.length === 0 && child.getWidth(source) > 0) {
      const first = source.getLineAndCharacterOfPosition(
        child.getStart(source),
      );
      const last = source.getLineAndCharacterOfPosition(child.end - 1);
      for (let line = first.line; line <= last.line; line++) lines.add(line);
    }
    children.forEach(visit);
  };
  visit(node);
  return lines.size;
}

/** The name a report gives a function: `f`, `Class.method`, `<arrow>`. */
function functionName(node: ts.FunctionLikeDeclaration): string {
  const parent = node.parent;
  let name = node.name?.getText();
  if (ts.isConstructorDeclaration(node)) name = "constructor";
  if (
    name === undefined &&
    (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) ||
      ts.isPropertyDeclaration(parent))
  ) name = parent.name.getText();
  name ??= ts.isArrowFunction(node) ? "<arrow>" : "<function>";
  const owner = ts.isPropertyDeclaration(parent) ? parent.parent : parent;
  return ts.isClassLike(owner)
    ? `${owner.name?.text ?? "<class>"}.${name}`
    : name;
}

/** The file, each class and each function or method with a body in `text`. */
function measure(file: string, text: string): Measure[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const at = (node: ts.Node) =>
    source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const found: Measure[] = [
    {
      kind: "file",
      file,
      line: 1,
      name: file,
      lines: codeLines(source, source),
    },
  ];
  const visit = (node: ts.Node): void => {
    if (ts.isClassLike(node)) {
      const name = node.name?.text ?? "<class>";
      found.push({
        kind: "class",
        file,
        line: at(node),
        name,
        lines: codeLines(source, node),
      });
    } else if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const name = functionName(node);
      found.push({
        kind: "function",
        file,
        line: at(node),
        name,
        lines: codeLines(source, node),
      });
    }
    ts.forEachChild(node, visit);
  };
  ts.forEachChild(source, visit);
  return found;
}

/** Every measure of every source file. */
function measureSources(): Measure[] {
  return sourceFiles().flatMap((file) =>
    measure(file, Deno.readTextFileSync(new URL(file, REPO)))
  );
}

/** One line per offender of `kind`, e.g. `src/a.ts:12 function f: 91 > 80`. */
function offenders(measures: Measure[], kind: Kind): string[] {
  return measures
    .filter((m) => m.kind === kind && m.lines > LIMITS[kind])
    .map((m) =>
      kind === "file"
        ? `${m.file}: ${m.lines} lines of code > ${LIMITS.file}`
        : `${m.file}:${m.line} ${kind} ${m.name}: ${m.lines} lines of code > ${
          LIMITS[kind]
        }`
    );
}

function assertWithinLimit(kind: Kind, what: string): void {
  const found = offenders(measureSources(), kind);
  if (found.length > 0) {
    assert.fail(
      `${what} over ${LIMITS[kind]} lines of code (${found.length}):\n  ${
        found.join("\n  ")
      }`,
    );
  }
}

Deno.test("the line counter counts lines with tokens: no comments, JSDoc or blank lines", () => {
  const text = [
    "/** A JSDoc block",
    " * over two lines. */",
    "export function f(a: number): string {",
    "  // a comment",
    "",
    "  const s = `one",
    "two`; /* inline */",
    "  return s + a;",
    "}",
    "class C {",
    "  /** Doc. */",
    "  m(): void {}",
    "  #p = () => 1;",
    "}",
  ].join("\n");
  const measures = measure("src/x.ts", text);
  const by = (name: string) => measures.find((m) => m.name === name)?.lines;
  assert.equal(by("src/x.ts"), 9);
  assert.equal(by("f"), 5);
  assert.equal(by("C"), 4);
  assert.equal(by("C.m"), 1);
  assert.equal(by("C.#p"), 1);
  assert.ok(sourceFiles().includes("src/server.ts"), "the walk finds src/");
});

Deno.test("every source file in src/ has at most 400 lines of code", () => {
  assertWithinLimit("file", "files");
});

Deno.test("every class in src/ has at most 300 lines of code", () => {
  assertWithinLimit("class", "classes");
});

Deno.test("every function and method in src/ has at most 80 lines of code", () => {
  assertWithinLimit("function", "functions");
});

if (import.meta.main) {
  // As a script: the table of sizes, then the offenders.
  const measures = measureSources();
  const largest = (file: string, kind: Kind) =>
    measures.filter((m) => m.file === file && m.kind === kind)
      .reduce<Measure | undefined>(
        (a, b) => (a && a.lines >= b.lines ? a : b),
        undefined,
      );
  const cell = (m: Measure | undefined) =>
    m === undefined
      ? "".padEnd(30)
      : `${String(m.lines).padStart(5)} ${m.name}`.padEnd(30);
  console.log(
    `${"file".padEnd(36)}  loc${
      "  largest class".padEnd(30)
    }  largest function`,
  );
  for (const file of measures.filter((m) => m.kind === "file")) {
    console.log(
      `${file.file.padEnd(36)}${String(file.lines).padStart(5)}${
        cell(largest(file.file, "class"))
      }${cell(largest(file.file, "function")).trimEnd()}`,
    );
  }
  const over = (["file", "class", "function"] as const).flatMap((kind) =>
    offenders(measures, kind)
  );
  console.log(
    over.length === 0
      ? "\nWithin the limits."
      : `\nOver the limits:\n  ${over.join("\n  ")}`,
  );
}
