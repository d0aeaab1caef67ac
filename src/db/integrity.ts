/**
 * The queries behind the consistency checks (`src/integrity/`): what the rows say the blob store
 * should hold, generations left open, the embedding models in use. What an image can miss and
 * have filled in (text, embeddings, hypernyms) is `imagesMissing` in `images.ts`, shared with the
 * backfill.
 */
import { and, eq, isNotNull, lt, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client.ts";
import { guard } from "./errors.ts";
import { generations, imageEmbeddings, images } from "./schema.ts";

/** The blob keys rows point at. */
export interface BlobReferences {
  images: Array<{ id: string; storageKey: string }>;
  generations: Array<{ id: string; outputKey: string }>;
}

/**
 * Every image's original key and every generation's output key.
 *
 * @example
 * const refs = await blobReferences(db);
 */
export async function blobReferences(db: Db): Promise<BlobReferences> {
  const [imageRows, generationRows] = await Promise.all([
    guard(() => db.select({ id: images.id, storageKey: images.storageKey }).from(images)),
    guard(() => db.select({ id: generations.id, outputKey: generations.outputKey }).from(generations).where(isNotNull(generations.outputKey))),
  ]);
  return { images: imageRows, generations: generationRows as BlobReferences["generations"] };
}

/** A generation still marked `running`. */
export interface OpenGeneration {
  id: string;
  createdAt: Date;
}

const runningSince = (olderThanMs: number | undefined): SQL | undefined =>
  and(
    eq(generations.status, "running"),
    // The database's clock, not this host's: instances may disagree on the time.
    olderThanMs === undefined ? undefined : lt(generations.createdAt, sql`now() - make_interval(secs => ${olderThanMs / 1000})`),
  );

/**
 * Generations marked `running`, all of them or only those started more than `olderThanMs` ago.
 *
 * @example
 * const stuck = await openGenerations(db, { olderThanMs: 660_000 });
 */
export async function openGenerations(db: Db, options: { olderThanMs?: number } = {}): Promise<OpenGeneration[]> {
  return guard(() =>
    db
      .select({ id: generations.id, createdAt: generations.createdAt })
      .from(generations)
      .where(runningSince(options.olderThanMs))
      .orderBy(generations.createdAt),
  );
}

/** The error kind of a generation its process never finished. */
export const INTERRUPTED = "interrupted";

/**
 * Closes open generations (all, or those older than `olderThanMs`) as `failed` with error kind
 * `interrupted`; returns the ids closed.
 *
 * @example
 * const closed = await closeInterruptedGenerations(db, { message: "the service stopped before it finished" });
 */
export async function closeInterruptedGenerations(db: Db, options: { olderThanMs?: number; message: string }): Promise<string[]> {
  const rows = await guard(() =>
    db
      .update(generations)
      .set({ status: "failed", errorKind: INTERRUPTED, errorMessage: options.message, completedAt: sql`now()` })
      .where(runningSince(options.olderThanMs))
      .returning({ id: generations.id }),
  );
  return rows.map((r) => r.id);
}

/**
 * The embedding models rows exist for, with their counts.
 *
 * @example
 * await embeddingModels(db) // [{ model: "wink-sg-100d", count: 51 }]
 */
export async function embeddingModels(db: Db): Promise<Array<{ model: string; count: number }>> {
  return guard(() =>
    db
      .select({ model: imageEmbeddings.model, count: sql<number>`count(*)::int` })
      .from(imageEmbeddings)
      .groupBy(imageEmbeddings.model)
      .orderBy(imageEmbeddings.model),
  );
}
