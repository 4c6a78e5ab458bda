/**
 * The three pools the adaptive benchmark compares: adaptive 1–4, fixed 4
 * (serve()'s default on up to 3 cores) and fixed 1 (what the adaptive pool idles at).
 *
 * @module
 */
import type { AdaptiveContender } from "./types.ts";
import { defaultWorkers } from "../../src/_server/settings.ts";

/** The adaptive pool's id; its figures are compared with FIXED_4's. */
export const ADAPTIVE = "adaptive-1-4";
/** serve()'s default pool on up to 3 cores, the throughput the burst should reach. */
export const FIXED_4 = "fixed-4";
/** Its most workers: the count whose arrival the growth time measures. */
export const MAX_WORKERS = 4;
/** Its fewest, where it idles and shrinks back to. */
export const MIN_WORKERS = 1;

/** Every contender, in the order of the first round. */
export const ADAPTIVE_CONTENDERS: AdaptiveContender[] = [
  {
    id: ADAPTIVE,
    label: `adaptive { min: ${MIN_WORKERS}, max: ${MAX_WORKERS} }`,
    // growAfter stays at its default; shrinkAfter is shortened so the
    // shrink fits in the run (see the rendered notes).
    workers: (config) => ({
      min: MIN_WORKERS,
      max: MAX_WORKERS,
      shrinkAfter: config.shrinkAfterMs,
    }),
  },
  {
    id: FIXED_4,
    label: `fixed 4${defaultWorkers() === 4 ? " (default)" : ""}`,
    workers: () => 4,
  },
  { id: "fixed-1", label: "fixed 1", workers: () => 1 },
];
