import { ClientFacingError } from "../errors.ts";
/**
 * The blob store: one small interface with two implementations, S3 (`s3.ts`) and local files
 * (`local.ts`). Keys come from `keys.ts`; they are built by the service, never from a client's
 * file name.
 */

/** What `put` is told about a blob. */
export interface PutOptions {
  contentType: string;
  /** `Cache-Control` to serve the blob with; immutable content-addressed keys may cache forever. */
  cacheControl?: string;
}

/** A stored blob's metadata. */
export interface BlobInfo {
  key: string;
  size: number;
  contentType: string;
  /** A strong validator for `ETag`/`If-None-Match`, quoted as HTTP wants it. */
  etag: string;
  cacheControl: string | undefined;
  lastModified: Date | undefined;
}

/** A blob read fully into memory. */
export interface Blob extends BlobInfo {
  bytes: Uint8Array;
}

/** A blob read as a stream (large files are served without buffering them). */
export interface BlobStream extends BlobInfo {
  body: ReadableStream<Uint8Array>;
}

/** Bytes to store: a buffer, or a stream of known or unknown length. */
export type BlobBody = Uint8Array | ReadableStream<Uint8Array>;

/**
 * A key-value store of immutable blobs.
 *
 * @example
 * await store.put("uploads/0d9c….jpg", bytes, { contentType: "image/jpeg" });
 * const blob = await store.get("uploads/0d9c….jpg");
 */
export interface BlobStore {
  readonly kind: "s3" | "local";
  /** Writes the whole blob or nothing (readers never see a partial blob). */
  put(key: string, body: BlobBody, options: PutOptions): Promise<BlobInfo>;
  /** The blob's bytes, or null when the key is absent. */
  get(key: string): Promise<Blob | null>;
  /** The blob as a stream, or null when the key is absent. */
  getStream(key: string): Promise<BlobStream | null>;
  /** Metadata without the bytes, or null when the key is absent. */
  head(key: string): Promise<BlobInfo | null>;
  /** Removes the blob; removing an absent key is not an error. */
  delete(key: string): Promise<void>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /**
   * A URL a client can fetch the blob from directly (S3: presigned GET), or undefined when the
   * service itself must serve the bytes (local files).
   */
  readUrl(key: string, options?: { ttlSeconds?: number }): Promise<string | undefined>;
  /**
   * Leftovers of interrupted writes that belong to no blob: temp files and metadata without a
   * blob (local files). S3 has none: a PutObject lands whole or not at all.
   */
  listScratch(): Promise<ScratchEntry[]>;
  /** Removes one leftover; an absent one is not an error. */
  removeScratch(entry: ScratchEntry): Promise<void>;
  /** Releases connections; the store is unusable afterwards. */
  close(): Promise<void>;
}

/** A leftover of an interrupted write (see `BlobStore.listScratch`). */
export interface ScratchEntry {
  /** Store-specific name (a path under the store's root). */
  name: string;
  kind: "temp" | "orphan-metadata";
  size: number;
  lastModified: Date;
}

/**
 * A storage key that does not match the service's key layout (never a client's name).
 *
 * @example
 * expect(() => assertValidKey("../etc/passwd")).toThrow(InvalidKeyError);
 */
export class InvalidKeyError extends Error {
  constructor(key: string) {
    super(`invalid storage key: ${JSON.stringify(key.slice(0, 200))}`);
    this.name = "InvalidKeyError";
  }
}

/**
 * The blob store could not be reached or refused the call; the HTTP layer answers 503.
 *
 * @example
 * throw new StorageUnavailableError("blob storage put failed: no answer within 15000 ms");
 */
export class StorageUnavailableError extends ClientFacingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(503, "storage_unavailable", message, options);
  }
}

/**
 * The blob store has no room for the write (ENOSPC/EDQUOT locally, 507 from an S3-compatible
 * server). Nothing of the write is left behind; the HTTP layer answers 507.
 *
 * @example
 * throw new StorageFullError("blob storage is full: no space left on the device");
 */
export class StorageFullError extends ClientFacingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(507, "storage_full", message, options);
  }
}
