// Whether the pool keeps the process alive: its workers are ref'd exactly
// while something is pending — jobs, callers waiting for room, start-up, or
// a close in progress — so an idle pool never holds the process open.
// `Atomics.waitAsync` (the completion loop) alone does not keep Deno's event
// loop alive; ref'd workers do.
import type { PoolState } from "./state.ts";

/** Refs or unrefs the workers after anything above changed. */
export function updateRef(state: PoolState): void {
  state.workers.setRef(
    state.pending > 0 || state.waiters.size > 0 || !state.readySettled ||
      (state.phase !== "open" && !state.isFinished),
  );
}
