// serve()'s default pool on this machine, as the harnesses label and count it.
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_SPARE_WORKERS,
  defaultWorkers,
} from "../src/_server/settings.ts";

/** Worker threads serve() starts with its defaults: the workers and the spares. */
export const DEFAULT_THREADS: number = defaultWorkers() + DEFAULT_SPARE_WORKERS;

/** The default pool in words, e.g. "3 workers × 16 + 1 spare". */
export const DEFAULTS_LABEL: string =
  `${defaultWorkers()} workers × ${DEFAULT_CONCURRENCY} + ${DEFAULT_SPARE_WORKERS} spare`;
