import { and, eq, getTableColumns, inArray, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client.ts";
import { newestFirst, pageLimit, toPage, type Page } from "./cursor.ts";
import { DatabaseQueryError, guard } from "./errors.ts";
import { isUuid, newId } from "./ids.ts";
import { imageEmbeddings, images, type ImageRole, type ImageRow, type NewImage } from "./schema.ts";

/** One embedding to store beside an image. */
export interface EmbeddingInput {
  model: string;
  dimensions: number;
  vector: number[];
}

/** A stored embedding. */
export interface StoredEmbedding extends EmbeddingInput {
  createdAt: Date;
}

/**
 * The same bytes (sha256) are already stored; `existingId` is the stored image.
 *
 * @example
 * if (error instanceof DuplicateImageError) return c.json(await getImage(db, error.existingId), 200);
 */
export class DuplicateImageError extends Error {
  constructor(
    readonly sha256: string,
    readonly existingId: string | undefined,
  ) {
    super("an image with the same bytes is already stored");
    this.name = "DuplicateImageError";
  }
}

export type { Page } from "./cursor.ts";

const { searchTsv: _searchTsv, ...recordColumns } = getTableColumns(images);
/**
 * The columns of an image record: every column but the generated `search_tsv`.
 *
 * @example
 * db.select(imageColumns).from(images)
 */
export const imageColumns = recordColumns;

export interface ListImagesOptions {
  /** Page size, clamped to 1..500. */
  limit: number;
  cursor?: string;
  role?: ImageRole;
  category?: string;
}

function checkEmbedding(e: EmbeddingInput): void {
  if (!Number.isInteger(e.dimensions) || e.dimensions < 1 || e.dimensions > 16_000) throw new RangeError(`embedding ${e.model}: dimensions must be 1..16000`);
  if (e.vector.length !== e.dimensions) throw new RangeError(`embedding ${e.model}: ${e.vector.length} values for ${e.dimensions} dimensions`);
  if (!e.vector.every(Number.isFinite)) throw new RangeError(`embedding ${e.model}: values must be finite numbers`);
}

/**
 * Stores an image and its embeddings in one transaction: both or neither. The same bytes twice
 * throw `DuplicateImageError`.
 *
 * @example
 * const image = await insertImageWithEmbeddings(db, { storageKey, mimeType: "image/png", width, height, byteSize, sha256 },
 *   [{ model: "wink-sg-100d", dimensions: 100, vector }]);
 */
export async function insertImageWithEmbeddings(db: Db, image: NewImage, embeddings: EmbeddingInput[]): Promise<ImageRow> {
  embeddings.forEach(checkEmbedding);
  const values = { ...image, id: image.id ?? newId(), createdAt: image.createdAt ?? new Date() };
  try {
    return await guard(() =>
      db.transaction(async (tx) => {
        const [row] = await tx.insert(images).values(values).returning(imageColumns);
        if (embeddings.length > 0) {
          await tx.insert(imageEmbeddings).values(
            embeddings.map((e) => ({ imageId: row!.id, model: e.model, dimensions: e.dimensions, embedding: e.vector, createdAt: values.createdAt })),
          );
        }
        return row!;
      }),
    );
  } catch (error) {
    if (error instanceof DatabaseQueryError && error.code === "23505" && error.constraint === "images_sha256_key") {
      const existing = await findImageBySha256(db, image.sha256);
      throw new DuplicateImageError(image.sha256, existing?.id);
    }
    throw error;
  }
}

/** One image and its embeddings, for `bulkInsertImages`. */
export interface BulkImage {
  image: NewImage;
  embeddings: EmbeddingInput[];
}

/**
 * Stores many images and their embeddings in one transaction with two statements, each taking
 * its rows as one JSON parameter (`jsonb_to_recordset`), so a large corpus loads at thousands of rows per second
 * instead of one round trip per image. Same bytes twice throw `DuplicateImageError` and store
 * nothing; returns the ids in input order.
 *
 * @example
 * const ids = await bulkInsertImages(db, items.map((it) => ({ image: it.image, embeddings: [it.embedding] })));
 */
export async function bulkInsertImages(db: Db, items: readonly BulkImage[]): Promise<string[]> {
  if (items.length === 0) return [];
  for (const item of items) item.embeddings.forEach(checkEmbedding);
  const createdAt = new Date();
  const rows = items.map((item) => ({ ...item.image, id: item.image.id ?? newId(), createdAt: item.image.createdAt ?? createdAt }));
  const imageJson = rows.map((r) => ({
    id: r.id,
    storage_key: r.storageKey,
    original_name: r.originalName ?? null,
    mime_type: r.mimeType,
    width: r.width,
    height: r.height,
    byte_size: r.byteSize,
    sha256: r.sha256,
    caption: r.caption ?? null,
    labels: r.labels ?? [],
    category: r.category ?? null,
    role: r.role ?? "corpus",
    hex_colors: r.hexColors ?? [],
    hypernyms: r.hypernyms ?? null,
    created_at: r.createdAt.toISOString(),
  }));
  const embeddingJson = items.flatMap((item, i) =>
    item.embeddings.map((e) => ({ image_id: rows[i]!.id, model: e.model, dimensions: e.dimensions, embedding: `[${e.vector.join(",")}]` })),
  );
  try {
    await guard(() =>
      db.transaction(async (tx) => {
        await tx.execute(sql`
          insert into ${images} (id, storage_key, original_name, mime_type, width, height, byte_size, sha256, caption, labels, category, role, hex_colors, hypernyms, created_at)
          select u.id, u.storage_key, u.original_name, u.mime_type, u.width, u.height, u.byte_size, u.sha256, u.caption,
                 array(select jsonb_array_elements_text(u.labels)), u.category, u.role,
                 array(select jsonb_array_elements_text(u.hex_colors)), u.hypernyms, u.created_at
          from jsonb_to_recordset(${JSON.stringify(imageJson)}::jsonb) as u(id uuid, storage_key text, original_name text, mime_type text,
            width int, height int, byte_size int, sha256 text, caption text, labels jsonb, category text, role text, hex_colors jsonb, hypernyms text[], created_at timestamptz)`);
        if (embeddingJson.length > 0) {
          await tx.execute(sql`
            insert into ${imageEmbeddings} (image_id, model, dimensions, embedding, created_at)
            select u.image_id, u.model, u.dimensions, u.embedding::vector, ${createdAt.toISOString()}::timestamptz
            from jsonb_to_recordset(${JSON.stringify(embeddingJson)}::jsonb) as u(image_id uuid, model text, dimensions int, embedding text)`);
        }
      }),
    );
  } catch (error) {
    if (error instanceof DatabaseQueryError && error.code === "23505" && error.constraint === "images_sha256_key") {
      throw new DuplicateImageError("(one of the batch)", undefined);
    }
    throw error;
  }
  return rows.map((r) => r.id);
}

/**
 * One image by id, or undefined (also for a malformed id).
 *
 * @example
 * const image = await getImage(db, id);
 * if (!image) throw new NotFoundError(`no image with id ${id}`);
 */
export async function getImage(db: Db, id: string): Promise<ImageRow | undefined> {
  if (!isUuid(id)) return undefined;
  const rows = await guard(() => db.select(imageColumns).from(images).where(eq(images.id, id)).limit(1));
  return rows[0];
}

/**
 * Images by id, in the order asked; missing and malformed ids are skipped.
 *
 * @example
 * const rows = await getImagesByIds(db, candidates.map((c) => c.id));
 */
export async function getImagesByIds(db: Db, ids: readonly string[]): Promise<ImageRow[]> {
  const wanted = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
  if (wanted.length === 0) return [];
  const rows = await guard(() => db.select(imageColumns).from(images).where(inArray(images.id, wanted)));
  const byId = new Map(rows.map((r) => [r.id, r]));
  return wanted.flatMap((id) => byId.get(id) ?? []);
}

/**
 * The image stored with these bytes, if any.
 *
 * @example
 * const existing = await findImageBySha256(db, sha256);
 */
export async function findImageBySha256(db: Db, sha256: string): Promise<ImageRow | undefined> {
  const rows = await guard(() => db.select(imageColumns).from(images).where(eq(images.sha256, sha256)).limit(1));
  return rows[0];
}

/**
 * The statement behind {@link listImages}: newest first, filtered by role and category, one row
 * more than the page. Its plan must walk an index, never sort the table (a test runs EXPLAIN).
 *
 * @example
 * const { sql, params } = listImagesQuery(db, { limit: 20, role: "corpus" }).toSQL();
 */
export function listImagesQuery(db: Db, options: ListImagesOptions) {
  const page = newestFirst(images, options.cursor);
  return db
    .select(imageColumns)
    .from(images)
    .where(and(options.role ? eq(images.role, options.role) : undefined, options.category ? eq(images.category, options.category) : undefined, page.after))
    .orderBy(...page.orderBy)
    .limit(pageLimit(options.limit) + 1);
}

/**
 * A page of images, newest first, optionally of one role and/or category. A cursor this service
 * did not issue throws `InvalidCursorError` (HTTP 400).
 *
 * @example
 * const { items, nextCursor } = await listImages(db, { limit: 20, role: "corpus" });
 */
export async function listImages(db: Db, options: ListImagesOptions): Promise<Page<ImageRow>> {
  return toPage(await guard(() => listImagesQuery(db, options)), pageLimit(options.limit));
}

/** A category in use and how many images it holds. */
export interface CategoryCount {
  category: string;
  count: number;
}

/**
 * The categories in use with their image counts, by name (at most `limit`); the web app's
 * category filter offers them.
 *
 * @example
 * await listCategories(db) // [{ category: "animal", count: 8 }, { category: "food", count: 6 }]
 */
export async function listCategories(db: Db, limit = 500): Promise<CategoryCount[]> {
  const rows = await guard(() =>
    db
      .select({ category: images.category, count: sql<number>`count(*)::int` })
      .from(images)
      .where(sql`${images.category} is not null`)
      .groupBy(images.category)
      .orderBy(images.category)
      .limit(limit),
  );
  return rows.map((r) => ({ category: r.category!, count: Number(r.count) }));
}

/**
 * Deletes an image and (cascade) its embeddings; true when something was deleted.
 *
 * @example
 * if (!(await deleteImage(db, id))) throw new NotFoundError(`no image with id ${id}`);
 */
export async function deleteImage(db: Db, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const rows = await guard(() => db.delete(images).where(eq(images.id, id)).returning({ id: images.id }));
  return rows.length > 0;
}

/**
 * The embedding stored for an image and model, if any.
 *
 * @example
 * const stored = await getEmbedding(db, imageId, "wink-sg-100d");
 */
export async function getEmbedding(db: Db, imageId: string, model: string): Promise<StoredEmbedding | undefined> {
  if (!isUuid(imageId)) return undefined;
  const rows = await guard(() =>
    db
      .select()
      .from(imageEmbeddings)
      .where(and(eq(imageEmbeddings.imageId, imageId), eq(imageEmbeddings.model, model)))
      .limit(1),
  );
  const row = rows[0];
  return row ? { model: row.model, dimensions: row.dimensions, vector: row.embedding, createdAt: row.createdAt } : undefined;
}

/**
 * What an image can be stored without and have filled in later (`bun run backfill`, `doctor
 * --repair`): its text (caption and labels, from a vision labeler), an embedding of a model (only
 * when it has text to embed: caption, labels or category), its WordNet hypernyms (null: not
 * expanded; `{}` is "expanded, nothing concrete"). Written once, so what the doctor counts is
 * what the backfill fills.
 */
export type Missing = "text" | "hypernyms" | { embedding: string };

function missingCondition(missing: Missing): SQL {
  if (missing === "text") return sql`(${images.caption} is null and cardinality(${images.labels}) = 0)`;
  if (missing === "hypernyms") return sql`${images.hypernyms} is null`;
  const embedded = sql`select 1 from ${imageEmbeddings} where ${imageEmbeddings.imageId} = ${images.id} and ${imageEmbeddings.model} = ${missing.embedding}`;
  return sql`(${images.caption} is not null or cardinality(${images.labels}) > 0 or ${images.category} is not null) and not exists (${embedded})`;
}

/** A page of images in id order, after `afterId`. */
export interface IdPage {
  /** Clamped to 1..5000. */
  limit: number;
  /** Only ids after this one (keyset), so each image is visited once per pass, even one that cannot be filled. */
  afterId?: string;
}

/**
 * The next page of images missing something, in id order.
 *
 * @example
 * const batch = await imagesMissing(db, { embedding: "wink-sg-100d" }, { limit: 50, afterId: last?.id });
 */
export async function imagesMissing(db: Db, missing: Missing, page: IdPage): Promise<ImageRow[]> {
  const after = page.afterId && isUuid(page.afterId) ? sql`${images.id} > ${page.afterId}::uuid` : undefined;
  return guard(() =>
    db
      .select(imageColumns)
      .from(images)
      .where(and(missingCondition(missing), after))
      .orderBy(images.id)
      .limit(Math.min(5000, Math.max(1, Math.trunc(page.limit) || 1))),
  );
}

/**
 * Visits every image missing something once, a page at a time in id order: an image the visit
 * could not fill is not read again, and one filled meanwhile by another process is skipped.
 *
 * @example
 * await eachPageMissing(db, "hypernyms", 500, async (page) => { await setHypernyms(db, await expand(page)); });
 */
export async function eachPageMissing(db: Db, missing: Missing, limit: number, visit: (page: ImageRow[]) => Promise<void>): Promise<void> {
  const page: IdPage = { limit };
  for (;;) {
    const batch = await imagesMissing(db, missing, page);
    if (batch.length === 0) return;
    await visit(batch);
    page.afterId = batch.at(-1)!.id;
  }
}

/**
 * How many images miss something (what `doctor` and `bun run backfill --check` report).
 *
 * @example
 * const n = await countImagesMissing(db, "hypernyms"); // 0 once the backfill has run
 */
export async function countImagesMissing(db: Db, missing: Missing): Promise<number> {
  const [row] = await guard(() => db.select({ n: sql<number>`count(*)::int` }).from(images).where(missingCondition(missing)));
  return Number(row?.n ?? 0);
}

/**
 * Gives an image without caption or labels the ones a labeler found (the category only when it
 * has none) and the hypernyms of that text (null when not expanded: the expansion it had was of
 * no text, and the hypernym backfill redoes it). Never overwrites: false when the image has text
 * by now, or is gone.
 *
 * @example
 * await fillImageText(db, id, { caption: "a red boat", labels: ["boat"], category: "natural", hypernyms: ["vessel"] });
 */
export async function fillImageText(
  db: Db,
  id: string,
  text: { caption: string | null; labels: string[]; category: string | null; hypernyms?: string[] | null },
): Promise<boolean> {
  if (!isUuid(id)) return false;
  const rows = await guard(() =>
    db
      .update(images)
      .set({ caption: text.caption, labels: text.labels, category: sql`coalesce(${images.category}, ${text.category})`, hypernyms: text.hypernyms ?? null })
      .where(and(eq(images.id, id), missingCondition("text")))
      .returning({ id: images.id }),
  );
  return rows.length > 0;
}

/**
 * Stores embeddings of stored images in one statement: each added when its image has none of that
 * model, replaced only with `replace` (its text changed). Returns how many were written (one that
 * exists without `replace`, or whose image is gone, is not).
 *
 * @example
 * await saveEmbeddings(db, [{ imageId, embedding: { model: "wink-sg-100d", dimensions: 100, vector } }], { replace: true });
 */
export async function saveEmbeddings(
  db: Db,
  rows: readonly { imageId: string; embedding: EmbeddingInput }[],
  options: { replace?: boolean } = {},
): Promise<number> {
  rows.forEach((r) => checkEmbedding(r.embedding));
  const createdAt = new Date();
  const values = rows
    .filter((r) => isUuid(r.imageId))
    .map(({ imageId, embedding: e }) => ({ imageId, model: e.model, dimensions: e.dimensions, embedding: e.vector, createdAt }));
  if (values.length === 0) return 0;
  try {
    const insert = db.insert(imageEmbeddings).values(values);
    const written = await guard(() =>
      (options.replace
        ? insert.onConflictDoUpdate({
            target: [imageEmbeddings.imageId, imageEmbeddings.model],
            set: { dimensions: sql`excluded.dimensions`, embedding: sql`excluded.embedding`, createdAt: sql`excluded.created_at` },
          })
        : insert.onConflictDoNothing()
      ).returning({ imageId: imageEmbeddings.imageId }),
    );
    return written.length;
  } catch (error) {
    if (!(error instanceof DatabaseQueryError && error.code === "23503")) throw error;
    // An image was deleted meanwhile (foreign key): nothing to add to it; the others one by one.
    if (rows.length === 1) return 0;
    let written = 0;
    for (const row of rows) written += await saveEmbeddings(db, [row], options);
    return written;
  }
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
      where ${images.id} = v.id and ${missingCondition("hypernyms")}`),
  );
  return Number((result as unknown as { affectedRows?: number; rowCount?: number }).affectedRows ?? (result as unknown as { rowCount?: number }).rowCount ?? 0);
}
