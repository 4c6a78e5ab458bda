// The Node contender's copy of the SSR workload's rendering library. Node
// cannot import `npm:` specifiers, so the exact versions pinned in
// handlers/ssr_deps.ts are installed with npm into bench/.tmp/, with an
// entry module that is ssr_deps.ts with each `npm:name@version` specifier
// rewritten to the bare `name`: both runtimes get the same exports of the
// same versions, written down in one place.
import { outputWithin } from "../_proc.ts";

const DEPS = new URL("../handlers/ssr_deps.ts", import.meta.url);
const DIR = new URL("../.tmp/ssr-node", import.meta.url).pathname;

/**
 * Where the entry module for Node goes (`SSR_DEPS`): inside node_modules,
 * which `deno check bench/` skips (its bare specifiers are Node's to
 * resolve), and from where Node finds the packages beside it.
 */
export const NODE_SSR_ENTRY = `${DIR}/node_modules/.ssr_deps.mjs`;
const SPECIFIER = /npm:((?:@[^/"]+\/)?[^@/"]+)@([^/"]+)(\/[^"]*)?/g;

/** The packages and versions ssr_deps.ts pins, as `name@version`. */
export function pinnedPackages(source = Deno.readTextFileSync(DEPS)): string[] {
  const out = new Set<string>();
  for (const m of source.matchAll(SPECIFIER)) out.add(`${m[1]}@${m[2]}`);
  return [...out].sort();
}

/** ssr_deps.ts with bare specifiers, for Node to resolve from node_modules. */
export function nodeEntry(source = Deno.readTextFileSync(DEPS)): string {
  return source.replace(
    SPECIFIER,
    (_, name: string, _v, sub = "") => `${name}${sub}`,
  );
}

function installed(dir: string, pkg: string): boolean {
  const at = pkg.lastIndexOf("@");
  const name = pkg.slice(0, at);
  try {
    const json = JSON.parse(
      Deno.readTextFileSync(`${dir}/node_modules/${name}/package.json`),
    );
    return json.version === pkg.slice(at + 1);
  } catch {
    return false;
  }
}

/**
 * Installs the pinned packages for Node once (npm, into bench/.tmp/) and
 * returns the path of the entry module to pass as `SSR_DEPS`.
 *
 * @throws {Error} When npm is missing or the install fails.
 */
export async function ensureNodeSsrDeps(): Promise<string> {
  const source = Deno.readTextFileSync(DEPS);
  const packages = pinnedPackages(source);
  const dir = DIR;
  const entry = NODE_SSR_ENTRY;
  Deno.mkdirSync(dir, { recursive: true });
  if (!packages.every((p) => installed(dir, p))) {
    Deno.writeTextFileSync(
      `${dir}/package.json`,
      JSON.stringify({ private: true, type: "module" }) + "\n",
    );
    const child = new Deno.Command("npm", {
      args: [
        "install",
        "--no-audit",
        "--no-fund",
        "--no-package-lock",
        "--loglevel=error",
        ...packages,
      ],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = await outputWithin(child, 120_000);
    if (!out.success || !packages.every((p) => installed(dir, p))) {
      throw new Error(
        `npm install ${packages.join(" ")} failed: ${
          new TextDecoder().decode(out.stderr).trim().slice(-500)
        }`,
      );
    }
  }
  Deno.writeTextFileSync(entry, nodeEntry(source));
  return entry;
}
