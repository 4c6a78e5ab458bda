// The command line's vocabulary: the options it produces (CliOptions), the
// table of flags that set them (in the order their values are checked), and
// the usage text `--help` prints.

/** What `parseCliArgs()` found on the command line. */
export interface CliOptions {
  /** `--help` / `-h`: print the usage and exit. */
  help: boolean;
  /**
   * The handler module as written (a path or a URL), or `undefined` for the
   * demo server. Relative paths are resolved by `main()`, against the
   * current working directory.
   */
  handler?: string;
  /** `--hostname`; the demo defaults to `"127.0.0.1"`. */
  hostname?: string;
  /** `--port`; `0` picks a free port. The demo defaults to `7878`. */
  port?: number;
  /** `--workers`; the demo defaults to `4`. With `--max-workers`, the fewest. */
  workers?: number;
  /** `--max-workers`: an adaptive pool between `--workers` and this. */
  maxWorkers?: number;
  /** `--spare-workers`: workers kept in reserve for short requests. */
  spareWorkers?: number;
  /** `--max-requests-per-worker`: replace a worker after this many requests. */
  maxRequestsPerWorker?: number;
  /** `--max-worker-memory`: replace a worker whose heap reaches this many MiB. */
  maxWorkerMemory?: number;
  /** `--concurrency`: requests in flight per worker. */
  concurrency?: number;
  /** `--queue-capacity`: requests that may wait for a worker. */
  queueCapacity?: number;
  /** `--max-body-size`: largest request body in bytes. */
  maxBodySize?: number;
  /** `--request-timeout`: milliseconds a handler may take. */
  requestTimeout?: number;
  /** `--drain-timeout`: milliseconds a shutdown waits for in-flight requests. */
  drainTimeout?: number;
  /** `--cert`: path of the TLS certificate (PEM); needs `key`. */
  cert?: string;
  /** `--key`: path of the TLS private key (PEM); needs `cert`. */
  key?: string;
  /** `--static-root`: a folder (or URL) served from the main thread. */
  staticRoot?: string;
  /** `--static-prefix`: the URL path the static files live under; needs `staticRoot`. */
  staticPrefix?: string;
  /** `--max-requests`: shut down after this many requests. */
  maxRequests?: number;
  /** `--readiness-path`: a path that answers 200, then 503 once a drain starts. */
  readinessPath?: string;
  /** `--readiness-delay`: milliseconds to keep serving after readiness turns 503. */
  readinessDelay?: number;
  /** `--metrics-path`: a path that answers Prometheus text metrics. */
  metricsPath?: string;
  /** `--dashboard-path`: a path that answers the live dashboard. */
  dashboardPath?: string;
}

/** The keys of {@linkcode CliOptions} whose values are of type `T`. */
type KeysOf<T> = {
  [K in keyof CliOptions]-?: CliOptions[K] extends T | undefined ? K : never;
}[keyof CliOptions];

/**
 * A flag that takes a value: an integer in `[min, max]` when `min` is given,
 * else a string that must not be empty.
 */
export type ValueFlag =
  | { flag: string; key: KeysOf<number>; min: number; max?: number }
  | { flag: string; key: Exclude<KeysOf<string>, "handler">; min?: never };

/** A flag whose value is a URL path (it starts with "/"). */
export interface UrlPathFlag {
  flag: string;
  key: KeysOf<string>;
  /** The flag this one is meaningless without, and how to say so. */
  needs?: { flag: string; message: string };
}

// The checks run in this order and the first that fails is reported:
// VALUE_FLAGS, then --cert and --key come together, then URL_PATH_FLAGS.

/** The flags with a value other than a URL path, in the order they are checked. */
export const VALUE_FLAGS: readonly ValueFlag[] = [
  { flag: "hostname", key: "hostname" },
  { flag: "port", key: "port", min: 0, max: 65535 },
  { flag: "workers", key: "workers", min: 1 },
  { flag: "max-workers", key: "maxWorkers", min: 1 },
  { flag: "spare-workers", key: "spareWorkers", min: 0 },
  { flag: "max-requests-per-worker", key: "maxRequestsPerWorker", min: 1 },
  { flag: "max-worker-memory", key: "maxWorkerMemory", min: 1 },
  { flag: "concurrency", key: "concurrency", min: 1 },
  { flag: "queue-capacity", key: "queueCapacity", min: 0 },
  { flag: "max-body-size", key: "maxBodySize", min: 0 },
  { flag: "request-timeout", key: "requestTimeout", min: 1 },
  { flag: "drain-timeout", key: "drainTimeout", min: 0 },
  { flag: "max-requests", key: "maxRequests", min: 1 },
  { flag: "readiness-delay", key: "readinessDelay", min: 0 },
  { flag: "cert", key: "cert" },
  { flag: "key", key: "key" },
  { flag: "static-root", key: "staticRoot" },
];

/** The flags whose value is a URL path, in the order they are checked. */
export const URL_PATH_FLAGS: readonly UrlPathFlag[] = [
  {
    flag: "static-prefix",
    key: "staticPrefix",
    needs: {
      flag: "static-root",
      message: "--static-prefix needs --static-root: say which folder to serve",
    },
  },
  { flag: "readiness-path", key: "readinessPath" },
  { flag: "metrics-path", key: "metricsPath" },
  { flag: "dashboard-path", key: "dashboardPath" },
];

/** The flags as `node:util`'s `parseArgs` takes them. */
export const PARSE_ARGS_OPTIONS: Record<
  string,
  { type: "boolean" | "string"; short?: string }
> = {
  help: { type: "boolean", short: "h" },
  ...Object.fromEntries(
    [...VALUE_FLAGS, ...URL_PATH_FLAGS].map(({ flag }) => [
      flag,
      { type: "string" },
    ]),
  ),
};

/** The usage text `--help` prints. */
export const USAGE = `ringpool: serve HTTP on a pool of worker threads.

Usage:
  deno run -A mod.ts [HANDLER] [OPTIONS]

HANDLER is a module (a path or a URL) with
  export default { fetch(request, info) { return new Response("hi"); } }
Without HANDLER, the demo server of the last chapter of "The Rust Programming
Language" runs on http://127.0.0.1:7878 with 4 workers: GET / answers a page,
GET /sleep the same page after 5 seconds, anything else a 404 page.

Options:
  --hostname HOST         address to listen on (default 0.0.0.0; demo 127.0.0.1)
  --port N                port to listen on, 0 for any free one (default 8000; demo 7878)
  --workers N             worker threads (default: cores + 1; demo 4)
  --max-workers N         an adaptive pool: from --workers (here default 1) up to N
  --spare-workers N       workers that serve short requests only while long ones
                          hold the others (default 1 with the default --workers, else 0)
  --max-requests-per-worker N  replace a worker after N requests (default off)
  --max-worker-memory MIB replace a worker whose heap reaches MIB (default off)
  --concurrency N         requests in flight per worker (default 16)
  --queue-capacity N      requests that may wait for a worker before 503 (default 1024)
  --max-body-size BYTES   largest request body before 413 (default 10485760)
  --request-timeout MS    time a handler may take before 504 (default 30000)
  --drain-timeout MS      time a shutdown waits for in-flight requests (default 10000)
  --cert FILE --key FILE  serve HTTPS with this PEM certificate and key
  --static-root DIR       serve the files in DIR from the main thread
  --static-prefix PATH    URL path the static files live under (default /)
  --max-requests N        shut down after N requests
  --readiness-path PATH   answer 200 there, 503 from the moment a drain starts (default off)
  --readiness-delay MS    keep serving this long after readiness turns 503 (default 0)
  --metrics-path PATH     answer Prometheus text metrics there (default off)
  --dashboard-path PATH   answer a live dashboard there, JSON at PATH/stats.json (default off)
  -h, --help              print this help and exit

Ctrl-C or SIGTERM shuts down gracefully; a second one exits at once.
SIGHUP reloads: new workers load HANDLER afresh and take over one by one.`;
