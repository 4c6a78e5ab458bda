// The options of `serve()`, checked and with their defaults filled in. The
// defaults live here and in the `@default` tags of `ServeOptions`
// (src/server.ts): change both together.

import { pathToFileURL } from "node:url";
import { resolve as resolvePath } from "node:path";
import type { ServeOptions } from "./server.ts";
import { MAX_SLOTS, MAX_WORKERS } from "./_server_wire.ts";

/** {@linkcode ServeOptions} checked, with every default filled in. */
export interface Settings {
  handler: string;
  workers: number;
  concurrency: number;
  hostname: string;
  port: number;
  cert?: string;
  key?: string;
  onListen?: (addr: Deno.NetAddr) => void;
  onError?: (error: unknown) => Response | Promise<Response>;
  queueCapacity: number;
  maxBodySize: number;
  requestTimeout: number;
  drainTimeout: number;
  maxRequests?: number;
  signal?: AbortSignal;
  handleSignals: boolean;
  static?: { root: string | URL; prefix?: string };
  onDrain?: () => void;
  onWorkerExit?: (workerId: number) => void;
  resourceLimits?: ServeOptions["resourceLimits"];
  readinessPath?: string;
  readinessDelay: number;
  metricsPath?: string;
}

/**
 * Checks the options of `serve()` up front and fills in the defaults, so
 * the server never meets a bad value later.
 *
 * @param options What the caller passed to `serve()`.
 * @returns The settings the server runs with.
 * @throws {TypeError} If `options`, `handler` or a path option has the wrong type.
 * @throws {RangeError} If a numeric option is out of range.
 */
export function validate(options: ServeOptions): Settings {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      "Cannot serve as 'options' must be an object with a 'handler' module",
    );
  }
  const { handler } = options;
  let href: string;
  if (handler instanceof URL) href = handler.href;
  else if (typeof handler === "string" && handler !== "") {
    href =
      /^[a-z][a-z0-9+.-]*:/i.test(handler) && !/^[a-z]:[\\/]/i.test(handler)
        ? new URL(handler).href
        : pathToFileURL(resolvePath(handler)).href;
  } else {
    throw new TypeError(
      `Cannot serve as 'handler' must be a module path or URL: received ${
        String(handler)
      }`,
    );
  }
  const integer = (
    name: string,
    value: number | undefined,
    fallback: number,
    min: number,
    max = Number.MAX_SAFE_INTEGER,
  ): number => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(
        `Cannot serve as '${name}' must be an integer from ${min} to ${max}: received ${value}`,
      );
    }
    return value;
  };
  const path = (name: string, value: string | undefined) => {
    if (
      value !== undefined &&
      (typeof value !== "string" || !value.startsWith("/"))
    ) {
      throw new TypeError(
        `Cannot serve as '${name}' must be a path starting with "/": received ${
          String(value)
        }`,
      );
    }
    return value;
  };
  const workers = integer("workers", options.workers, 4, 1, MAX_WORKERS);
  const concurrency = integer(
    "concurrency",
    options.concurrency,
    16,
    1,
    Math.floor(MAX_SLOTS / workers),
  );
  return {
    handler: href,
    workers,
    concurrency,
    hostname: options.hostname ?? "0.0.0.0",
    port: integer("port", options.port, 8000, 0, 65535),
    cert: options.cert,
    key: options.key,
    onListen: options.onListen,
    onError: options.onError,
    queueCapacity: integer("queueCapacity", options.queueCapacity, 1024, 0),
    maxBodySize: integer("maxBodySize", options.maxBodySize, 10485760, 0),
    requestTimeout: integer("requestTimeout", options.requestTimeout, 30000, 1),
    drainTimeout: integer("drainTimeout", options.drainTimeout, 10000, 0),
    maxRequests: options.maxRequests === undefined
      ? undefined
      : integer("maxRequests", options.maxRequests, 0, 1),
    signal: options.signal,
    handleSignals: options.handleSignals ?? true,
    static: options.static,
    onDrain: options.onDrain,
    onWorkerExit: options.onWorkerExit,
    resourceLimits: options.resourceLimits,
    readinessPath: path("readinessPath", options.readinessPath),
    readinessDelay: integer("readinessDelay", options.readinessDelay, 0, 0),
    metricsPath: path("metricsPath", options.metricsPath),
  };
}
