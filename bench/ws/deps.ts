/**
 * The echo client's one dependency, the npm `ws` package, for Node. Node
 * cannot import `npm:` specifiers, so the version the WebSocket tests pin
 * (`npm:ws@8.18.3`) is installed with npm into bench/.tmp/ws-node once, as
 * contenders/node_ssr_deps.ts does for the SSR workload.
 *
 * @module
 */
import { outputWithin } from "../_proc.ts";

/** The `ws` release the client runs: the one tests/server_websocket_test.ts imports. */
export const WS_VERSION = "8.18.3";
const DIR = new URL("../.tmp/ws-node", import.meta.url).pathname;

function installed(dir: string): boolean {
  try {
    const json = JSON.parse(
      Deno.readTextFileSync(`${dir}/node_modules/ws/package.json`),
    );
    return json.version === WS_VERSION;
  } catch {
    return false;
  }
}

/**
 * Installs `ws` for Node once and returns the directory whose
 * `node_modules` holds it (the client resolves `ws` from there).
 *
 * @returns The install directory.
 * @throws {Error} When npm is missing or the install fails.
 */
export async function ensureWsClientDeps(): Promise<string> {
  if (installed(DIR)) return DIR;
  Deno.mkdirSync(DIR, { recursive: true });
  Deno.writeTextFileSync(
    `${DIR}/package.json`,
    JSON.stringify({ private: true, type: "module" }) + "\n",
  );
  const child = new Deno.Command("npm", {
    args: [
      "install",
      "--no-audit",
      "--no-fund",
      "--no-package-lock",
      "--loglevel=error",
      `ws@${WS_VERSION}`,
    ],
    cwd: DIR,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = await outputWithin(child, 120_000);
  if (!out.success || !installed(DIR)) {
    throw new Error(
      `npm install ws@${WS_VERSION} failed: ${
        new TextDecoder().decode(out.stderr).trim().slice(-500)
      }`,
    );
  }
  return DIR;
}
