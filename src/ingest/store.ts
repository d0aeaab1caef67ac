/**
 * The last ingest step: the original and its thumbnail into the blob store, then the image row
 * and its embeddings in one transaction. Nothing is left half-written: when a blob write fails
 * no row is written (and the blob that did land is removed); when the database step fails both
 * blobs are removed. Two uploads of the same bytes racing each other end with one image.
 */
import type { Db } from "../db/client.ts";
import { DuplicateImageError, findImageBySha256, getImage, insertImageWithEmbeddings, type EmbeddingInput } from "../db/images.ts";
import type { ImageRole, ImageRow } from "../db/schema.ts";
import type { Logger } from "../log.ts";
import { originalKey, thumbnailKey } from "../storage/keys.ts";
import type { BlobStore } from "../storage/types.ts";
import type { DecodedImage } from "./decode.ts";
import type { ImageText } from "./label.ts";

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
 * Writes the blobs, then the rows; cleans up on failure. A duplicate found at insert time (a
 * concurrent upload of the same bytes won) returns that image with `created: false`.
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
        role: input.role,
        hexColors: input.hexColors,
      },
      input.embeddings,
    );
    return { image, created: true };
  } catch (error) {
    await removeAll(deps, [key, thumbKey]);
    if (error instanceof DuplicateImageError) {
      const existing = error.existingId ? await getImage(deps.db, error.existingId) : await findImageBySha256(deps.db, input.sha256);
      if (existing) return { image: existing, created: false };
    }
    throw error;
  }
}
