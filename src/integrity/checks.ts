/**
 * Consistency checks between the database and the blob store, each with the repair that is safe
 * to run. The same list serves the start-up reconciliation (`atStart` checks, repaired at once)
 * and `bun run doctor` (all checks; repaired with `--repair`). A new check is one more entry in
 * `CHECKS`.
 *
 * Who may call a leftover dead decides what is safe:
 * - `exclusive`: this process holds the data directory (PGlite on disk, local blobs beside it), so
 *   nothing else writes; every leftover belongs to a process that is gone.
 * - `shared`: other instances may be writing (Neon, S3). A blob without a row may be another
 *   instance's upload between its blob write and its insert, so only leftovers older than
 *   `graceMs` are touched, and generations only past the longest a generation can run.
 * - `unowned` (blobs only): the database is in memory and is no record of what the blob files
 *   are, so the blob store is not judged at all.
 */
import type { Embedder, Labeler } from "../ai/types.ts";
import type { Db } from "../db/client.ts";
import { countImagesMissing } from "../db/images.ts";
import { blobReferences, closeInterruptedGenerations, embeddingModels, openGenerations } from "../db/integrity.ts";
import { backfillEmbeddings, backfillLabels, type BackfillFailure } from "../ingest/backfill.ts";
import { backfillHypernyms, type HypernymExpander } from "../ingest/hypernyms.ts";
import type { Logger } from "../log.ts";
import { thumbnailKey } from "../storage/keys.ts";
import type { BlobStore, ScratchEntry } from "../storage/types.ts";
import type { Telemetry } from "../telemetry/index.ts";

/** Where orphan blobs are moved, inside the blob store (never a key the service writes otherwise). */
export const LOST_FOUND_PREFIX = "lost-found/";

/** What the checks run against and how sure they may be that a leftover is dead. */
export interface CheckContext {
  db: Db;
  storage: BlobStore;
  blobs: "exclusive" | "shared" | "unowned";
  generations: "exclusive" | "shared";
  /** Shared stores: leftovers younger than this may still be in flight. */
  graceMs: number;
  /** Shared databases: a `running` generation younger than this may still be running elsewhere. */
  generationGraceMs: number;
  /** The configured embedder; missing embeddings for its model can be filled in. */
  embedder?: Embedder;
  /** The configured vision labeler; images without caption or labels can be labelled (needs `embedder` too). */
  labeler?: Labeler;
  /** WordNet expansion; images stored without hypernyms can be filled in. */
  hypernyms?: HypernymExpander;
  /** What the fills (the backfill's functions) trace to and log with, and the labeler's bound. */
  telemetry: Telemetry;
  log?: Logger;
  config: { gemini: { auxTimeoutMs: number } };
  now: Date;
  /** The blob store's keys and the rows' references, listed once per run. */
  inventory(): Promise<Inventory>;
}

/** What one check found. */
export interface Finding {
  /** How many things are wrong (0: healthy). */
  count: number;
  /** One line: what is wrong, or what was looked at when nothing is. */
  summary: string;
  /** A few of them (ids, keys). */
  examples: string[];
  /** How many the repair fixes. */
  repairable: number;
  /** Fixes the repairable ones; answers one line saying what it did. */
  repair?(): Promise<string>;
  /** What to do about what the repair does not fix. */
  advice?: string;
  /** Why the check did not run here. */
  skipped?: string;
}

/** One consistency check. */
export interface Check {
  name: string;
  /** Part of the start-up reconciliation (crash leftovers), not only of the doctor. */
  atStart: boolean;
  run(ctx: CheckContext): Promise<Finding>;
}

/** The blob store's keys (lost-found excluded) and what the rows expect it to hold. */
export interface Inventory {
  keys: Set<string>;
  /** Key → the row that points at it (`image <id>`, `thumbnail of image <id>`, `generation <id>`). */
  expected: Map<string, string>;
}

/**
 * Lists the store, then reads the rows: in that order, a blob written and recorded while the
 * listing ran shows up as recorded, never as an orphan.
 *
 * @example
 * const inventory = await takeInventory(db, storage);
 */
export async function takeInventory(db: Db, storage: BlobStore): Promise<Inventory> {
  const keys = new Set((await storage.list("")).filter((k) => !k.startsWith(LOST_FOUND_PREFIX)));
  const refs = await blobReferences(db);
  const expected = new Map<string, string>();
  for (const image of refs.images) {
    expected.set(image.storageKey, `image ${image.id}`);
    expected.set(thumbnailKey(image.id), `thumbnail of image ${image.id}`);
  }
  for (const generation of refs.generations) expected.set(generation.outputKey, `generation ${generation.id}`);
  return { keys, expected };
}

const EXAMPLES = 5;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const UNOWNED = "the database is in memory, so it is no record of what the blob files are";

function isDead(ctx: CheckContext, lastModified: Date | undefined): boolean {
  if (ctx.blobs === "exclusive") return true;
  return lastModified !== undefined && ctx.now.getTime() - lastModified.getTime() > ctx.graceMs;
}

const inFlightNote = (ctx: CheckContext, waiting: number) =>
  waiting > 0 ? `; ${waiting} younger than ${Math.round(ctx.graceMs / 1000)} s left alone (another instance may be writing them)` : "";

/** Temp files and metadata without a blob: leftovers of writes cut short. */
const scratchFiles: Check = {
  name: "temp files",
  atStart: true,
  async run(ctx) {
    if (ctx.blobs === "unowned") return { count: 0, summary: "not checked", examples: [], repairable: 0, skipped: UNOWNED };
    const entries = await ctx.storage.listScratch();
    const dead = entries.filter((e) => isDead(ctx, e.lastModified));
    const byKind = (kind: ScratchEntry["kind"]) => entries.filter((e) => e.kind === kind).length;
    return {
      count: entries.length,
      summary:
        entries.length === 0
          ? "none"
          : `${plural(byKind("temp"), "temp file")}, ${plural(byKind("orphan-metadata"), "metadata file")} without a blob${inFlightNote(ctx, entries.length - dead.length)}`,
      examples: entries.slice(0, EXAMPLES).map((e) => e.name),
      repairable: dead.length,
      repair: async () => {
        for (const entry of dead) await ctx.storage.removeScratch(entry);
        return `removed ${dead.length}`;
      },
    };
  },
};

function stamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "z").toLowerCase();
}

/** Blobs no row points at: uploads and generations whose process died before the row was written. */
const orphanBlobs: Check = {
  name: "blobs without records",
  atStart: true,
  async run(ctx) {
    if (ctx.blobs === "unowned") return { count: 0, summary: "not checked", examples: [], repairable: 0, skipped: UNOWNED };
    const { keys, expected } = await ctx.inventory();
    const orphans = [...keys].filter((k) => !expected.has(k));
    const dead: string[] = [];
    for (const key of orphans) {
      if (ctx.blobs === "exclusive" || isDead(ctx, (await ctx.storage.head(key))?.lastModified)) dead.push(key);
    }
    const folder = `${LOST_FOUND_PREFIX}${stamp(ctx.now)}/`;
    return {
      count: orphans.length,
      summary: orphans.length === 0 ? `none among ${plural(keys.size, "blob")}` : `${plural(orphans.length, "blob")} no row points at${inFlightNote(ctx, orphans.length - dead.length)}`,
      examples: orphans.slice(0, EXAMPLES),
      repairable: dead.length,
      // Moved aside rather than deleted: a database restored from an older backup makes newer
      // blobs look orphaned, and those bytes are worth keeping until someone has looked.
      repair: async () => {
        for (const key of dead) {
          const blob = await ctx.storage.get(key);
          if (blob) await ctx.storage.put(`${folder}${key}`, blob.bytes, { contentType: blob.contentType });
          await ctx.storage.delete(key);
        }
        return `moved ${dead.length} to ${folder}`;
      },
      advice: "lost-found/ holds moved blobs; delete it once you know they are not needed",
    };
  },
};

/** Rows whose blob is gone: not repairable here (the bytes exist nowhere else). */
const missingBlobs: Check = {
  name: "records without blobs",
  atStart: false,
  async run(ctx) {
    const { keys, expected } = await ctx.inventory();
    const missing: Array<[string, string]> = [];
    for (const [key, owner] of expected) {
      if (keys.has(key)) continue;
      // Shared: another instance may have written the blob, then its row, between the listing and
      // the read of the rows; a blob that is there now is not missing.
      if (ctx.blobs !== "exclusive" && (await ctx.storage.head(key))) continue;
      missing.push([key, owner]);
    }
    return {
      count: missing.length,
      summary: missing.length === 0 ? `none among ${plural(expected.size, "expected blob")}` : `${plural(missing.length, "blob")} rows point at are missing`,
      examples: missing.slice(0, EXAMPLES).map(([key, owner]) => `${owner}: ${key}`),
      repairable: 0,
      advice: "restore the blobs from a backup of the blob store, or upload the images again",
    };
  },
};

/** Generations still `running` whose process is gone. */
const openGenerationsCheck: Check = {
  name: "open generations",
  atStart: true,
  async run(ctx) {
    const all = await openGenerations(ctx.db);
    const olderThanMs = ctx.generations === "exclusive" ? undefined : ctx.generationGraceMs;
    const dead = olderThanMs === undefined ? all : await openGenerations(ctx.db, { olderThanMs });
    const waiting = all.length - dead.length;
    return {
      count: dead.length,
      summary:
        all.length === 0
          ? "none"
          : `${plural(dead.length, "generation")} left running by a process that is gone${waiting > 0 ? `; ${waiting} younger than ${Math.round(ctx.generationGraceMs / 1000)} s may still be running elsewhere` : ""}`,
      examples: dead.slice(0, EXAMPLES).map((g) => `${g.id} (started ${g.createdAt.toISOString()})`),
      repairable: dead.length,
      repair: async () => {
        const closed = await closeInterruptedGenerations(ctx.db, {
          olderThanMs,
          message: "the service stopped before this generation finished; it was closed when the data was next checked",
        });
        return `closed ${closed.length} as failed (interrupted)`;
      },
    };
  },
};

/** What a fill did, in one line: `done`, and how many it could not fill (they stay missing). */
function filled(done: string, failed: readonly BackfillFailure[]): string {
  return failed.length === 0 ? done : `${done}; ${failed.length} could not be filled (${failed[0]!.reason})`;
}

const BACKFILL_ADVICE = "or run `bun run backfill`, which fills the same parts";

/**
 * Images without caption or labels while a labeler is configured: it was down when they were
 * uploaded. With no labeler (offline), such an image is as it was uploaded, not a problem.
 */
const missingLabels: Check = {
  name: "missing labels",
  atStart: false,
  async run(ctx) {
    const { labeler, embedder } = ctx;
    if (!labeler) {
      return { count: 0, summary: "not checked", examples: [], repairable: 0, skipped: "no labeler configured (GEMINI_API_KEY unset): an image without caption or labels is as it was uploaded" };
    }
    const missing = await countImagesMissing(ctx.db, "text");
    return {
      count: missing,
      summary: `${plural(missing, "image")} without caption or labels`,
      examples: [],
      repairable: embedder ? missing : 0,
      repair: embedder
        ? async () => {
            const report = await backfillLabels({ ...ctx, labeler, embedder });
            return filled(`labelled ${report.labelled} with ${labeler.model}`, report.failed);
          }
        : undefined,
      advice: `run the doctor --repair with ${labeler.model} reachable, ${BACKFILL_ADVICE}`,
    };
  },
};

/** Images with text but no embedding for a model: search by that model cannot find them. */
const missingEmbeddings: Check = {
  name: "missing embeddings",
  atStart: false,
  async run(ctx) {
    const models = new Set((await embeddingModels(ctx.db)).map((m) => m.model));
    if (ctx.embedder) models.add(ctx.embedder.model);
    const counts = await Promise.all([...models].map(async (model) => ({ model, missing: await countImagesMissing(ctx.db, { embedding: model }) })));
    const wanting = counts.filter((c) => c.missing > 0);
    const embedder = ctx.embedder;
    const ours = embedder ? wanting.find((c) => c.model === embedder.model) : undefined;
    const others = wanting.filter((c) => c !== ours);
    return {
      count: wanting.reduce((sum, c) => sum + c.missing, 0),
      summary: counts.length === 0 ? "no embedding models in use" : counts.map((c) => `${c.model}: ${c.missing} missing`).join(", "),
      examples: [],
      repairable: ours?.missing ?? 0,
      repair:
        embedder && ours
          ? async () => {
              const report = await backfillEmbeddings({ db: ctx.db, embedder, telemetry: ctx.telemetry });
              return filled(`embedded ${report.embedded} with ${embedder.model}`, report.failed);
            }
          : undefined,
      advice: others.length > 0 ? `run the doctor --repair with ${others.map((c) => c.model).join(", ")} configured to fill the others in, ${BACKFILL_ADVICE}` : undefined,
    };
  },
};

/** Images stored without their WordNet hypernyms (before the column existed, or when WordNet failed): category queries miss them. */
const missingHypernyms: Check = {
  name: "missing hypernyms",
  atStart: false,
  async run(ctx) {
    const missing = await countImagesMissing(ctx.db, "hypernyms");
    const expander = ctx.hypernyms;
    return {
      count: missing,
      summary: `${plural(missing, "image")} without hypernyms`,
      examples: [],
      repairable: expander ? missing : 0,
      repair: expander
        ? async () => {
            const report = await backfillHypernyms({ db: ctx.db, expander, log: ctx.log });
            return `expanded ${report.written} of ${report.read}`;
          }
        : undefined,
      advice: missing > 0 && !expander ? "run `bun run backfill`" : undefined,
    };
  },
};

/**
 * Every check, in the order they run and print. Add one here to extend `bun run doctor`.
 *
 * @example
 * for (const check of CHECKS.filter((c) => c.atStart)) await check.run(ctx);
 */
export const CHECKS: readonly Check[] = [scratchFiles, orphanBlobs, missingBlobs, openGenerationsCheck, missingLabels, missingEmbeddings, missingHypernyms];
