import { and, eq, getTableColumns, inArray, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
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

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
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
    created_at: r.createdAt.toISOString(),
  }));
  const embeddingJson = items.flatMap((item, i) =>
    item.embeddings.map((e) => ({ image_id: rows[i]!.id, model: e.model, dimensions: e.dimensions, embedding: `[${e.vector.join(",")}]` })),
  );
  try {
    await guard(() =>
      db.transaction(async (tx) => {
        await tx.execute(sql`
          insert into ${images} (id, storage_key, original_name, mime_type, width, height, byte_size, sha256, caption, labels, category, role, hex_colors, created_at)
          select u.id, u.storage_key, u.original_name, u.mime_type, u.width, u.height, u.byte_size, u.sha256, u.caption,
                 array(select jsonb_array_elements_text(u.labels)), u.category, u.role,
                 array(select jsonb_array_elements_text(u.hex_colors)), u.created_at
          from jsonb_to_recordset(${JSON.stringify(imageJson)}::jsonb) as u(id uuid, storage_key text, original_name text, mime_type text,
            width int, height int, byte_size int, sha256 text, caption text, labels jsonb, category text, role text, hex_colors jsonb, created_at timestamptz)`);
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
 * if (!image) throw new ApiError(404, "not_found", "no such image");
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
 * A page of images, newest first, optionally of one role and/or category. A cursor this service
 * did not issue throws `InvalidCursorError` (HTTP 400).
 *
 * @example
 * const { items, nextCursor } = await listImages(db, { limit: 20, role: "corpus" });
 */
export async function listImages(db: Db, options: ListImagesOptions): Promise<Page<ImageRow>> {
  const limit = Math.min(500, Math.max(1, Math.trunc(options.limit) || 1));
  const where: SQL[] = [];
  if (options.role) where.push(eq(images.role, options.role));
  if (options.category) where.push(eq(images.category, options.category));
  if (options.cursor) {
    const at = decodeCursor(options.cursor);
    where.push(sql`(${images.createdAt}, ${images.id}) < (${at.createdAt.toISOString()}::timestamptz, ${at.id}::uuid)`);
  }
  const rows = await guard(() =>
    db
      .select(imageColumns)
      .from(images)
      .where(where.length > 0 ? and(...where) : undefined)
      .orderBy(sql`${images.createdAt} desc`, sql`${images.id} desc`)
      .limit(limit + 1),
  );
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null };
}

/**
 * Deletes an image and (cascade) its embeddings; true when something was deleted.
 *
 * @example
 * if (!(await deleteImage(db, id))) throw new ApiError(404, "not_found", "no such image");
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
