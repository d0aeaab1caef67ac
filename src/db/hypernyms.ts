import { and, asc, count, gt, isNull, sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { guard } from "./errors.ts";
import { images } from "./schema.ts";

/** An image whose hypernyms are not stored yet, with the text they come from. */
export interface UnexpandedImage {
  id: string;
  caption: string | null;
  labels: string[];
}

/**
 * How many images have no hypernym expansion yet (`hypernyms` is null: stored before the
 * column existed, or by a process without WordNet). What `doctor` reports; `{}` (text without
 * a concrete noun) counts as expanded.
 *
 * @example
 * const missing = await countImagesWithoutHypernyms(db); // 0 once the backfill has run
 */
export async function countImagesWithoutHypernyms(db: Db): Promise<number> {
  const [row] = await guard(() => db.select({ n: count() }).from(images).where(isNull(images.hypernyms)));
  return Number(row?.n ?? 0);
}

/**
 * The next `limit` images without hypernyms, by id after `afterId` (keyset order, so a batch
 * that could not be written is not read again forever).
 *
 * @example
 * const batch = await imagesWithoutHypernyms(db, { limit: 200, afterId: last?.id });
 */
export async function imagesWithoutHypernyms(db: Db, options: { limit: number; afterId?: string }): Promise<UnexpandedImage[]> {
  const limit = Math.min(5000, Math.max(1, Math.trunc(options.limit) || 1));
  const where = and(isNull(images.hypernyms), options.afterId ? gt(images.id, options.afterId) : undefined);
  return guard(() =>
    db.select({ id: images.id, caption: images.caption, labels: images.labels }).from(images).where(where).orderBy(asc(images.id)).limit(limit),
  );
}

/**
 * Stores hypernyms for images that still have none, in one statement (rows as one JSON
 * parameter); a row another process filled meanwhile is left as it is. Returns how many rows
 * were written. `search_tsv` follows by itself (a generated column).
 *
 * @example
 * await setHypernyms(db, [{ id, hypernyms: ["beverage", "drink"] }]);
 */
export async function setHypernyms(db: Db, rows: readonly { id: string; hypernyms: readonly string[] }[]): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await guard(() =>
    db.execute(sql`
      update ${images} set hypernyms = v.hypernyms
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(id uuid, hypernyms text[])
      where ${images.id} = v.id and ${images.hypernyms} is null`),
  );
  return Number((result as unknown as { affectedRows?: number; rowCount?: number }).affectedRows ?? (result as unknown as { rowCount?: number }).rowCount ?? 0);
}
