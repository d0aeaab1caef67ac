/**
 * Runs the checks against an open database and blob store: `reconcileAtStart` repairs the crash
 * leftovers before a service answers its first request; `runChecks` is the doctor's engine.
 */
import type { Embedder, Labeler } from "../ai/types.ts";
import type { HypernymExpander } from "../ingest/hypernyms.ts";
import type { AppConfig } from "../config.ts";
import type { Database } from "../db/client.ts";
import type { Logger } from "../log.ts";
import type { BlobStore } from "../storage/types.ts";
import { noopTelemetry, type Telemetry } from "../telemetry/index.ts";
import { CHECKS, takeInventory, type Check, type CheckContext, type Finding, type Inventory } from "./checks.ts";

/** What the checks run against. */
export interface IntegrityTarget {
  database: Database;
  storage: BlobStore;
  config: Pick<AppConfig, "reconcileGraceMs" | "gemini" | "generation">;
  /** The models that fill in what images miss (see the `missing …` checks); absent ones are not filled. */
  embedder?: Embedder;
  labeler?: Labeler;
  hypernyms?: HypernymExpander;
  /** Where the fills trace to; default none. */
  telemetry?: Telemetry;
  log?: Logger;
}

/** Covers the steps around the model call (classify, references, store), each bounded on its own. */
const GENERATION_OVERHEAD_MS = 60_000;

/**
 * How long a generation can legitimately stay `running`: behind a full queue it waits for
 * ⌈queue / concurrency⌉ model calls, then makes its own, each bounded by `GEMINI_TIMEOUT_MS`
 * (retries included). A shared database closes only generations older than this (and than
 * `RECONCILE_GRACE_MS`), assuming every instance runs with the same settings.
 *
 * @example
 * generationGraceMs(config) // 900000 with the defaults: the longest run, 5 × 120 s + 60 s, is under the 15 min grace
 */
export function generationGraceMs(config: IntegrityTarget["config"]): number {
  const { concurrency, queueLimit } = config.generation;
  const longest = (1 + Math.ceil(queueLimit / concurrency)) * config.gemini.timeoutMs + GENERATION_OVERHEAD_MS;
  return Math.max(config.reconcileGraceMs, longest);
}

/**
 * The checks' view of a target: exclusive when this process holds the data directory the blobs
 * live in, shared when other instances may write (Neon, S3), and blobs unowned beside an
 * in-memory database.
 *
 * @example
 * const ctx = checkContext({ database, storage, config });
 */
export function checkContext(target: IntegrityTarget, now = new Date()): CheckContext {
  const { database, storage } = target;
  const blobs = database.kind === "pglite-memory" ? "unowned" : database.kind === "pglite-disk" && storage.kind === "local" ? "exclusive" : "shared";
  let inventory: Promise<Inventory> | undefined;
  return {
    db: database.db,
    storage,
    blobs,
    generations: database.kind === "neon" ? "shared" : "exclusive",
    graceMs: target.config.reconcileGraceMs,
    generationGraceMs: generationGraceMs(target.config),
    embedder: target.embedder,
    labeler: target.labeler,
    hypernyms: target.hypernyms,
    telemetry: target.telemetry ?? noopTelemetry(),
    log: target.log,
    config: target.config,
    now,
    inventory: () => (inventory ??= takeInventory(database.db, storage)),
  };
}

/** One check's outcome in a run. */
export interface CheckOutcome {
  check: Check;
  finding?: Finding;
  /** What the repair did, when it ran. */
  repaired?: string;
  /** The check or its repair failed. */
  error?: string;
}

/**
 * Runs `checks` (default: all) in order; with `repair`, runs each finding's repair when it has
 * something to fix. A failing check is reported, never thrown, so the others still run.
 *
 * @example
 * const outcomes = await runChecks(checkContext(target), { repair: true });
 */
export async function runChecks(ctx: CheckContext, options: { repair: boolean; checks?: readonly Check[] }): Promise<CheckOutcome[]> {
  const outcomes: CheckOutcome[] = [];
  for (const check of options.checks ?? CHECKS) {
    const outcome: CheckOutcome = { check };
    try {
      outcome.finding = await check.run(ctx);
      if (options.repair && outcome.finding.repairable > 0 && outcome.finding.repair) outcome.repaired = await outcome.finding.repair();
    } catch (error) {
      outcome.error = (error as Error)?.message ?? String(error);
    }
    outcomes.push(outcome);
  }
  return outcomes;
}

/**
 * The start-up reconciliation: removes temp files and metadata without a blob, moves blobs no
 * row points at to `lost-found/`, and closes generations a dead process left `running` as
 * `failed` (`interrupted`), each only where it is safe (see `checks.ts`). Logs what it did, with
 * counts; a failure is logged and never stops the service. An in-memory database is skipped.
 *
 * @example
 * await reconcileAtStart({ database, storage, config }, log);
 */
export async function reconcileAtStart(target: IntegrityTarget, log: Logger): Promise<CheckOutcome[]> {
  // A database in memory starts empty: no process before this one left anything in it.
  if (target.database.kind === "pglite-memory") return [];
  const started = performance.now();
  const ctx = checkContext(target);
  const outcomes = await runChecks(ctx, { repair: true, checks: CHECKS.filter((c) => c.atStart) });
  const repaired: Record<string, number> = {};
  const left: Record<string, number> = {};
  for (const { check, finding, repaired: done, error } of outcomes) {
    if (error) log.warn("start-up check failed; the service starts anyway", { check: check.name, error });
    if (!finding || finding.skipped) continue;
    repaired[check.name] = done ? finding.repairable : 0;
    if (finding.count > repaired[check.name]!) left[check.name] = finding.count - repaired[check.name]!;
  }
  log.info("data reconciled", {
    blobs: ctx.blobs,
    generations: ctx.generations,
    repaired,
    ...(Object.keys(left).length > 0 ? { left_alone: left } : {}),
    ms: Math.round(performance.now() - started),
  });
  return outcomes;
}
