// Which kill a failed load request fell victim to: the window around each
// worker's death in which its victims are answered, and how much of the
// soak those windows cover.
import type { Failure, KillRecord } from "./types.ts";

// Client-side slack around a death moment: the victims' answers and the
// kill request's answer leave main together but cross this process's busy
// event loop at different times.
const SLACK_MS = 500;

/** When a victim of `kill` may have been answered: around its death. */
export function deathWindow(
  kill: KillRecord,
  graceMs: number,
): [number, number] {
  const answered = kill.answered ?? Infinity;
  // exit and heap: the worker is dead when main answers the kill request.
  // spin and heap-async: main answers 504 at the timeout and terminates the
  // worker once the grace has passed (plus at most one 250 ms sweep).
  const after = kill.kind === "exit" || kill.kind === "heap"
    ? 0
    : graceMs + 250;
  return [answered - SLACK_MS, answered + after + SLACK_MS];
}

/** The kill `failure` fell victim to, if any. */
export function attribute(
  failure: Failure,
  kills: KillRecord[],
  requestTimeout: number,
  graceMs: number,
): KillRecord | undefined {
  if (
    !(failure.kind === "cut" ||
      (failure.kind === "status" &&
        (failure.status === 502 || failure.status === 504)))
  ) return undefined;
  for (const kill of kills) {
    if (kill.answered === undefined) continue;
    if (failure.status === 504) {
      // Only a request stuck on a busy or hanging worker waits that long.
      if (
        (kill.kind === "spin" || kill.kind === "heap-async") &&
        failure.answered - failure.sent >= requestTimeout - SLACK_MS &&
        failure.sent <= kill.answered && failure.answered >= kill.sent
      ) return kill;
      continue;
    }
    const [from, to] = deathWindow(kill, graceMs);
    if (failure.sent <= to && failure.answered >= from) return kill;
  }
  return undefined;
}

/** Length of the union of `windows` clipped to [start, end], over its length. */
export function coverage(
  windows: [number, number][],
  start: number,
  end: number,
): number {
  const clipped = windows.map(([a, b]) =>
    [Math.max(a, start), Math.min(b, end)] as [number, number]
  ).filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let reach = start;
  for (const [a, b] of clipped) {
    if (b <= reach) continue;
    covered += b - Math.max(a, reach);
    reach = b;
  }
  return end > start ? covered / (end - start) : 0;
}
