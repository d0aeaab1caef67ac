/**
 * The production blob store: any S3-compatible server through `@aws-sdk/client-s3`. Checksums
 * only when required (S3-compatible servers often reject the newer defaults), and every call is
 * bounded by a timeout so a dead endpoint gives an error, never a hung request.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { assertValidKey, assertValidPrefix } from "./keys.ts";
import type { Blob, BlobBody, BlobInfo, BlobStore, BlobStream, PutOptions, ScratchEntry } from "./types.ts";
import { StorageFullError, StorageUnavailableError } from "./types.ts";

export interface S3StoreSettings {
  bucket: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  presignTtlSeconds: number;
  /** Explicit credentials (tests); default is the SDK's chain (env, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Upper bound on any one call, retries included. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;

function statusOf(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata?.httpStatusCode;
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isNotFound(error: unknown): boolean {
  const name = (error as Error)?.name;
  return statusOf(error) === 404 || name === "NoSuchKey" || name === "NotFound";
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Builds an S3 blob store from the service's S3 settings.
 *
 * @example
 * const store = createS3BlobStore({ bucket: "images", region: "eu-west-1", forcePathStyle: false, presignTtlSeconds: 900 });
 */
export function createS3BlobStore(settings: S3StoreSettings): BlobStore {
  const timeoutMs = settings.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const clientConfig: S3ClientConfig = {
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: settings.forcePathStyle,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 2,
    requestHandler: {
      connectionTimeout: settings.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      requestTimeout: timeoutMs,
    },
  };
  if (settings.credentials) clientConfig.credentials = settings.credentials;
  const client = new S3Client(clientConfig);
  const Bucket = settings.bucket;

  async function send<T>(operation: string, call: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      return await call(signal);
    } catch (error) {
      if (isNotFound(error)) throw error;
      const status = statusOf(error);
      // S3-compatible servers on their own disks (MinIO: XMinioStorageFull) answer 507 when full.
      if (status === 507 || (error as Error)?.name === "XMinioStorageFull") {
        throw new StorageFullError(`blob storage ${operation} failed: the storage server is out of space`, { cause: error });
      }
      if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) throw error;
      const reason = signal.aborted ? `no answer within ${timeoutMs} ms` : (error as Error)?.message || String(error);
      throw new StorageUnavailableError(`blob storage ${operation} failed: ${reason}`, { cause: error });
    }
  }

  function toInfo(key: string, out: { ContentLength?: number; ContentType?: string; ETag?: string; CacheControl?: string; LastModified?: Date }): BlobInfo {
    return {
      key,
      size: out.ContentLength ?? 0,
      contentType: out.ContentType ?? "application/octet-stream",
      etag: out.ETag ?? "",
      cacheControl: out.CacheControl,
      lastModified: out.LastModified,
    };
  }

  async function getObject(key: string, signal: AbortSignal) {
    try {
      return await client.send(new GetObjectCommand({ Bucket, Key: key }), { abortSignal: signal });
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  return {
    kind: "s3",

    async put(key: string, body: BlobBody, options: PutOptions): Promise<BlobInfo> {
      assertValidKey(key);
      const bytes = body instanceof Uint8Array ? body : await collect(body);
      const out = await send("put", (abortSignal) =>
        client.send(
          new PutObjectCommand({
            Bucket,
            Key: key,
            Body: bytes,
            ContentType: options.contentType,
            CacheControl: options.cacheControl,
            ContentLength: bytes.byteLength,
          }),
          { abortSignal },
        ),
      );
      return {
        key,
        size: bytes.byteLength,
        contentType: options.contentType,
        etag: out.ETag ?? "",
        cacheControl: options.cacheControl,
        lastModified: new Date(),
      };
    },

    async get(key: string): Promise<Blob | null> {
      assertValidKey(key);
      return send("get", async (signal) => {
        const out = await getObject(key, signal);
        if (!out?.Body) return null;
        const bytes = await out.Body.transformToByteArray();
        return { ...toInfo(key, out), size: bytes.byteLength, bytes };
      });
    },

    async getStream(key: string): Promise<BlobStream | null> {
      assertValidKey(key);
      return send("get", async (signal) => {
        const out = await getObject(key, signal);
        if (!out?.Body) return null;
        return { ...toInfo(key, out), body: out.Body.transformToWebStream() as ReadableStream<Uint8Array> };
      });
    },

    async head(key: string): Promise<BlobInfo | null> {
      assertValidKey(key);
      return send("head", async (abortSignal) => {
        try {
          return toInfo(key, await client.send(new HeadObjectCommand({ Bucket, Key: key }), { abortSignal }));
        } catch (error) {
          if (isNotFound(error)) return null;
          throw error;
        }
      });
    },

    async delete(key: string): Promise<void> {
      assertValidKey(key);
      await send("delete", (abortSignal) => client.send(new DeleteObjectCommand({ Bucket, Key: key }), { abortSignal }));
    },

    async list(prefix: string): Promise<string[]> {
      assertValidPrefix(prefix);
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await send("list", (abortSignal) =>
          client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal }),
        );
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    },

    // PutObject (the only write here) lands whole or not at all, so S3 never holds a partial blob.
    async listScratch(): Promise<ScratchEntry[]> {
      return [];
    },

    async removeScratch(): Promise<void> {},

    async readUrl(key: string, options: { ttlSeconds?: number } = {}): Promise<string | undefined> {
      assertValidKey(key);
      return getSignedUrl(client, new GetObjectCommand({ Bucket, Key: key }), {
        expiresIn: options.ttlSeconds ?? settings.presignTtlSeconds,
      });
    },

    async close(): Promise<void> {
      client.destroy();
    },
  };
}
