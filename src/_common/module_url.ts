// One rule for turning what a user passes as a module (a handler, a job
// module, a command-line argument) into the URL a worker imports.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * The URL of a module given as a URL, a URL string (a scheme of two letters
 * or more: `file:`, `https:`, `data:`, ...) or a path, which is resolved
 * against `cwd` (`C:\app.ts` is a Windows path, not a URL).
 *
 * @param action What the caller could not do, for the error message.
 * @param name The option's name, for the error message.
 * @param specifier What the caller passed.
 * @param cwd The directory relative paths are resolved against.
 * @returns A fresh URL (the caller's URL object is not shared).
 * @throws {TypeError} If `specifier` is neither a URL nor a non-empty string,
 * or a URL string does not parse.
 */
export function moduleUrl(
  action: string,
  name: string,
  specifier: unknown,
  cwd: string = Deno.cwd(),
): URL {
  if (specifier instanceof URL) return new URL(specifier.href);
  if (typeof specifier !== "string" || specifier === "") {
    throw new TypeError(
      `Cannot ${action} as '${name}' must be a module URL or a non-empty path: received ${
        specifier === "" ? '""' : String(specifier)
      }`,
    );
  }
  if (/^[a-z][a-z0-9+.-]+:/i.test(specifier)) return new URL(specifier);
  return pathToFileURL(resolve(cwd, specifier));
}
