/**
 * Opens the configured blob store (S3 when `S3_BUCKET` is set, local files otherwise) and wraps
 * it so every read and write is a `storage.get` / `storage.put` span.
 */
import type { AppConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import { SPAN, SpanKind, type Telemetry } from "../telemetry/index.ts";
import { createLocalBlobStore } from "./local.ts";
import { createS3BlobStore, type S3StoreSettings } from "./s3.ts";
import type { BlobStore } from "./types.ts";

export * from "./types.ts";
export * from "./keys.ts";
export { createLocalBlobStore } from "./local.ts";
export { createS3BlobStore, type S3StoreSettings } from "./s3.ts";

/** Span attributes of storage calls. */
export const STORAGE_ATTR = {
  kind: "storage.kind",
  operation: "storage.operation",
  key: "storage.key",
  bytes: "storage.bytes",
  found: "storage.found",
} as const;

/**
 * Wraps a store so `put` is a `storage.put` span and `get`/`getStream`/`head` are `storage.get`
 * spans (CLIENT for S3, INTERNAL for local files); `delete`, `list`, the scratch calls and `readUrl` run inside
 * whatever span called them.
 *
 * @example
 * const store = tracedBlobStore(await createLocalBlobStore(dir), telemetry);
 */
export function tracedBlobStore(inner: BlobStore, telemetry: Telemetry): BlobStore {
  const kind = inner.kind === "s3" ? SpanKind.CLIENT : SpanKind.INTERNAL;
  const read = <T extends { size: number } | null>(operation: string, key: string, fn: () => Promise<T>) =>
    telemetry.tracedSpan(
      SPAN.storageGet,
      { [STORAGE_ATTR.kind]: inner.kind, [STORAGE_ATTR.operation]: operation, [STORAGE_ATTR.key]: key },
      async (span) => {
        const result = await fn();
        span.setAttribute(STORAGE_ATTR.found, result !== null);
        if (result) span.setAttribute(STORAGE_ATTR.bytes, result.size);
        return result;
      },
      { kind },
    );
  return {
    kind: inner.kind,
    put: (key, body, options) =>
      telemetry.tracedSpan(
        SPAN.storagePut,
        { [STORAGE_ATTR.kind]: inner.kind, [STORAGE_ATTR.operation]: "put", [STORAGE_ATTR.key]: key },
        async (span) => {
          const info = await inner.put(key, body, options);
          span.setAttribute(STORAGE_ATTR.bytes, info.size);
          return info;
        },
        { kind },
      ),
    get: (key) => read("get", key, () => inner.get(key)),
    getStream: (key) => read("get", key, () => inner.getStream(key)),
    head: (key) => read("head", key, () => inner.head(key)),
    delete: (key) => inner.delete(key),
    list: (prefix) => inner.list(prefix),
    listScratch: () => inner.listScratch(),
    removeScratch: (entry) => inner.removeScratch(entry),
    readUrl: (key, options) => inner.readUrl(key, options),
    close: () => inner.close(),
  };
}

export interface BlobStoreOptions {
  /** Overrides for the S3 client (tests pass credentials and short timeouts). */
  s3?: Partial<Pick<S3StoreSettings, "credentials" | "timeoutMs" | "connectTimeoutMs">>;
}

/**
 * Opens the blob store the settings ask for, traced.
 *
 * @example
 * const storage = await createBlobStore(config, telemetry, log);
 */
export async function createBlobStore(config: AppConfig, telemetry: Telemetry, log: Logger, options: BlobStoreOptions = {}): Promise<BlobStore> {
  if (config.s3) {
    log.info("blob storage: S3", { bucket: config.s3.bucket, endpoint: config.s3.endpoint, path_style: config.s3.forcePathStyle });
    return tracedBlobStore(createS3BlobStore({ ...config.s3, ...options.s3 }), telemetry);
  }
  log.info("blob storage: local files", { dir: `${config.dataDir}/blobs` });
  return tracedBlobStore(await createLocalBlobStore(config.dataDir), telemetry);
}
