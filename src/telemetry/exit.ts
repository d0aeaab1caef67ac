import type { ExportStats } from "./spanprocessor.ts";

/** What the exit hook needs from a recorder. */
export interface Flushable {
  stats(): ExportStats;
  flush(timeoutMs?: number): Promise<void>;
}

const live = new Set<Flushable>();
let hooked = false;

async function flushPending(): Promise<void> {
  const busy = [...live].filter((t) => t.stats().queued > 0);
  if (busy.length > 0) await Promise.all(busy.map((t) => t.flush(5_000)));
}

/**
 * Flushes `target` when the process runs out of work, so a short-lived process (a CLI, a script,
 * the test run) that never calls `shutdown()` still delivers its spans: the batch timer is unref'd
 * and would otherwise let the process exit with spans queued. `beforeExit` allows async work in
 * Bun and Node and fires again once the flush is done, when nothing is queued any more. It does
 * not fire on `process.exit()` or a signal: call `await telemetry.shutdown()` before those.
 * Returns the function that unhooks `target` (called by `shutdown()`).
 *
 * @example
 * const unhook = flushBeforeExit(telemetry);
 */
export function flushBeforeExit(target: Flushable): () => void {
  live.add(target);
  if (!hooked) {
    hooked = true;
    process.on("beforeExit", flushPending);
  }
  return () => {
    live.delete(target);
  };
}
