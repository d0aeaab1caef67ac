/**
 * The last ingest step: the original and its thumbnail into the blob store, then the image row
 * and its embeddings in one transaction. Nothing is left half-written: when a blob write fails
 * no row is written (and the blob that did land is removed); when the database refuses the rows
 * both blobs are removed, and when it does not answer (a dropped connection may hide a commit) the
 * row is looked up before anything is removed. Two uploads of the same bytes racing each other end
 * with one image.
 */
import type { Db } from "../db/client.ts";
import { DatabaseQueryError } from "../db/errors.ts";
import { DuplicateImageError, findImageBySha256, getImage, insertImageWithEmbeddings, type EmbeddingInput } from "../db/images.ts";
import type { ImageRole, ImageRow } from "../db/schema.ts";
import type { Logger } from "../log.ts";
import { originalKey, slugifyCategory, thumbnailKey } from "../storage/keys.ts";
import { StorageFullError, type BlobStore } from "../storage/types.ts";
import type { DecodedImage } from "./decode.ts";
import { normalizeCaption, normalizeLabels, type GivenLabels, type ImageText } from "./label.ts";

/** Stored blobs never change (keys are fresh uuids), so clients and CDNs may cache them for good. */
export const IMMUTABLE_CACHE = "public, max-age=31536000, immutable";

export interface StoreDeps {
  db: Db;
  storage: BlobStore;
  log?: Logger;
}

export interface StoreInput {
  id: string;
  sha256: string;
  role: ImageRole;
  /** The client's file name, kept as a label only (never in a key). */
  originalName: string | null;
  decoded: DecodedImage;
  text: ImageText;
  hexColors: string[];
  embeddings: EmbeddingInput[];
}

export interface StoredImage {
  image: ImageRow;
  /** False when the same bytes were already stored (`image` is that record). */
  created: boolean;
  /** For a duplicate: submitted fields that differ from the stored record and were not applied. */
  notApplied: UploadField[];
}

/**
 * The fields an upload may carry besides the file.
 *
 * @example
 * z.enum(UPLOAD_FIELDS)
 */
export const UPLOAD_FIELDS = ["caption", "labels", "category", "role"] as const;
export type UploadField = (typeof UPLOAD_FIELDS)[number];

/**
 * The answer for bytes already stored: the stored record, unchanged, and which submitted fields
 * differ from it (compared after the same normalisation an upload gets), so a client re-uploading
 * with new metadata learns it was not applied instead of finding out later.
 *
 * @example
 * duplicateOf(stored, { caption: "new words", role: "corpus" }) // { image: stored, created: false, notApplied: ["caption"] }
 */
export function duplicateOf(stored: ImageRow, given: GivenLabels & { role?: ImageRole }): StoredImage {
  const notApplied: UploadField[] = [];
  const caption = normalizeCaption(given.caption);
  if (caption !== null && caption !== stored.caption) notApplied.push("caption");
  const labels = normalizeLabels(given.labels ?? []);
  const sameLabels = labels.length === stored.labels.length && labels.every((l) => stored.labels.includes(l));
  if (labels.length > 0 && !sameLabels) notApplied.push("labels");
  const category = given.category ? slugifyCategory(given.category) : undefined;
  if (category !== undefined && category !== stored.category) notApplied.push("category");
  if (given.role !== undefined && given.role !== stored.role) notApplied.push("role");
  return { image: stored, created: false, notApplied };
}

async function removeAll(deps: StoreDeps, keys: string[]): Promise<void> {
  await Promise.all(
    keys.map((key) =>
      deps.storage.delete(key).catch((error) => {
        deps.log?.error("could not remove a blob after a failed ingest; it is orphaned", { key, error: (error as Error)?.message });
      }),
    ),
  );
}

/**
 * Whether a failed insert's row is there after all. The database answering with an error
 * (a SQLSTATE, a duplicate) rolled the transaction back: undefined, nothing landed. No answer (the
 * connection dropped, a timeout) may hide a commit whose acknowledgement was lost: the row is
 * looked up — the row when it landed, undefined when it did not, null when the look-up fails too.
 */
async function committedDespite(deps: StoreDeps, error: unknown, id: string): Promise<ImageRow | undefined | null> {
  // A DatabaseQueryError without a SQLSTATE is a driver failure drizzle wrapped: no answer either.
  if ((error instanceof DatabaseQueryError && error.code !== undefined) || error instanceof DuplicateImageError) return undefined;
  try {
    return await getImage(deps.db, id);
  } catch {
    return null;
  }
}

/**
 * Writes the blobs, then the rows; cleans up on failure. A duplicate found at insert time (a
 * concurrent upload of the same bytes won) returns that image with `created: false` (the caller
 * says which of its fields were not applied, `duplicateOf`). A database out of disk space is a
 * `StorageFullError` (507), like a full blob store.
 *
 * @example
 * const { image, created } = await storeImage({ db, storage, log }, { id: newId(), sha256, role: "corpus", ... });
 */
export async function storeImage(deps: StoreDeps, input: StoreInput): Promise<StoredImage> {
  const { decoded, text } = input;
  const key = originalKey({ id: input.id, mimeType: decoded.mimeType, role: input.role, category: text.category });
  const thumbKey = thumbnailKey(input.id);
  const writes = await Promise.allSettled([
    deps.storage.put(key, decoded.original, { contentType: decoded.mimeType, cacheControl: IMMUTABLE_CACHE }),
    deps.storage.put(thumbKey, decoded.thumbnail, { contentType: "image/webp", cacheControl: IMMUTABLE_CACHE }),
  ]);
  const failed = writes.find((w): w is PromiseRejectedResult => w.status === "rejected");
  if (failed) {
    await removeAll(deps, [key, thumbKey]);
    throw failed.reason;
  }
  try {
    const image = await insertImageWithEmbeddings(
      deps.db,
      {
        id: input.id,
        storageKey: key,
        originalName: input.originalName,
        mimeType: decoded.mimeType,
        width: decoded.width,
        height: decoded.height,
        byteSize: decoded.original.byteLength,
        sha256: input.sha256,
        caption: text.caption,
        labels: text.labels,
        category: text.category,
        hypernyms: text.hypernyms ?? null,
        role: input.role,
        hexColors: input.hexColors,
      },
      input.embeddings,
    );
    return { image, created: true, notApplied: [] };
  } catch (error) {
    const landed = await committedDespite(deps, error, input.id);
    if (landed) return { image: landed, created: true, notApplied: [] };
    if (landed === null) {
      // Unknown: a row may be holding these blobs. A blob without its row is reconciled later
      // (moved to lost-found); a row without its blob could never be repaired.
      deps.log?.warn("the insert's outcome is unknown: its blobs are kept for reconciliation", { key, error: (error as Error)?.message });
      throw error;
    }
    await removeAll(deps, [key, thumbKey]);
    // SQLSTATE 53100 disk_full: the database shares the full disk; same answer as a full blob store.
    if (error instanceof DatabaseQueryError && error.code === "53100") {
      throw new StorageFullError("the database is out of disk space; nothing was stored", { cause: error });
    }
    if (error instanceof DuplicateImageError) {
      const existing = error.existingId ? await getImage(deps.db, error.existingId) : await findImageBySha256(deps.db, input.sha256);
      if (existing) return { image: existing, created: false, notApplied: [] };
    }
    throw error;
  }
}
