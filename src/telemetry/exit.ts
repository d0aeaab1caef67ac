import type { ExportStats } from "./spanprocessor.ts";

/** What the exit hook needs from a span sink. */
export interface Flushable {
  stats(): ExportStats;
  flush(timeoutMs: number): Promise<void>;
}

// Weak: a sink nobody references any more is collected. One with spans queued stays reachable
// through its armed batch timer, so nothing waiting to be sent is lost by collecting it.
const live = new Set<WeakRef<Flushable>>();
// A collected sink's ref leaves the set too: recorders never shut down (tests build hundreds)
// would otherwise leave one entry each until the process exits.
const forget = new FinalizationRegistry<WeakRef<Flushable>>((ref) => live.delete(ref));
let hooked = false;

async function flushPending(): Promise<void> {
  const busy: Flushable[] = [];
  for (const ref of live) {
    const target = ref.deref();
    if (!target) live.delete(ref);
    else if (target.stats().queued > 0) busy.push(target);
  }
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
 * const unhook = flushBeforeExit(processor);
 */
export function flushBeforeExit(target: Flushable): () => void {
  const ref = new WeakRef(target);
  live.add(ref);
  forget.register(target, ref, ref);
  if (!hooked) {
    hooked = true;
    process.on("beforeExit", flushPending);
  }
  return () => {
    live.delete(ref);
    forget.unregister(ref);
  };
}

/**
 * Entries the exit hook still holds, a collected sink's included until it is forgotten (for tests
 * of the hook itself).
 *
 * @example
 * const before = hookedSinks();
 */
export function hookedSinks(): number {
  return live.size;
}
