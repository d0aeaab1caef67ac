import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { createS3BlobStore, StorageUnavailableError } from "../src/storage/index.ts";
import { startS3, type TestS3 } from "./harness/s3.ts";
import { storageContract } from "./storage-contract.shared.ts";

setDefaultTimeout(30_000);

function storeFor(s3: TestS3, timeoutMs?: number) {
  return createS3BlobStore({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    presignTtlSeconds: 60,
    credentials: s3.credentials,
    timeoutMs,
  });
}

storageContract("s3", async () => {
  const s3 = await startS3();
  return { store: storeFor(s3), cleanup: () => s3.stop() };
});

describe("S3 blob store", () => {
  test("a stopped S3 server gives a StorageUnavailableError quickly, never a hang", async () => {
    const s3 = await startS3();
    const store = storeFor(s3, 2_000);
    const key = `uploads/${crypto.randomUUID()}.png`;
    await store.put(key, new Uint8Array([1]), { contentType: "image/png" });
    await s3.stop();
    const started = performance.now();
    await expect(store.put(`uploads/${crypto.randomUUID()}.png`, new Uint8Array([2]), { contentType: "image/png" })).rejects.toBeInstanceOf(
      StorageUnavailableError,
    );
    await expect(store.get(key)).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(performance.now() - started).toBeLessThan(5_000);
    await store.close();
  });

  test("a server that accepts but never answers is cut off by the timeout", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const store = createS3BlobStore({
      bucket: "b",
      endpoint: `http://127.0.0.1:${silent.port}`,
      region: "us-east-1",
      forcePathStyle: true,
      presignTtlSeconds: 60,
      credentials: { accessKeyId: "x", secretAccessKey: "y" },
      timeoutMs: 500,
    });
    const started = performance.now();
    const error = await store.get(`uploads/${crypto.randomUUID()}.png`).catch((e) => e);
    expect(error).toBeInstanceOf(StorageUnavailableError);
    expect(performance.now() - started).toBeLessThan(3_000);
    await store.close();
    silent.stop(true);
  });
});
