import { afterAll, beforeAll, expect, test, setDefaultTimeout } from "bun:test";
import sharp from "sharp";
import { loadConfig } from "../src/config.ts";
import { insertImageWithEmbeddings, type Database } from "../src/db/index.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { createGenerationDeps } from "../src/generation/index.ts";
import { createApp } from "../src/http/app.ts";
import { silentLogger } from "../src/log.ts";
import { createS3BlobStore, originalKey, tracedBlobStore, type BlobStore } from "../src/storage/index.ts";
import { createTestTelemetry, SPAN, SpanKind } from "../src/telemetry/index.ts";
import { startS3, type TestS3 } from "./harness/s3.ts";

// Real servers and PGlite on a loaded 2-core machine: some steps take longer than bun's 5 s default.
setDefaultTimeout(30_000);

const { telemetry, recorder } = createTestTelemetry();
let s3: TestS3;
let database: Database;
let storage: BlobStore;
let refBytes: Uint8Array;

beforeAll(async () => {
  s3 = await startS3();
  database = await createTestDatabase(telemetry);
  storage = tracedBlobStore(
    createS3BlobStore({ bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, presignTtlSeconds: 60, credentials: s3.credentials }),
    telemetry,
  );
  refBytes = new Uint8Array(await sharp({ create: { width: 32, height: 32, channels: 3, background: "#3366cc" } }).png().toBuffer());
  const id = Bun.randomUUIDv7();
  const key = originalKey({ id, mimeType: "image/png", role: "tone-ref", category: "animal" });
  await storage.put(key, refBytes, { contentType: "image/png" });
  await insertImageWithEmbeddings(
    database.db,
    { id, storageKey: key, mimeType: "image/png", width: 32, height: 32, byteSize: refBytes.byteLength, sha256: "s3-ref", role: "tone-ref", category: "animal", hexColors: ["#3366cc"] },
    [],
  );
}, 30_000);
afterAll(async () => {
  await storage?.close();
  await database?.close();
  await s3?.stop();
});

test("on S3: references read from the bucket, the image stored there and served by a presigned redirect", async () => {
  const config = loadConfig({ LOG_LEVEL: "silent", ...s3.env });
  const app = createApp({ config, telemetry, log: silentLogger, generation: createGenerationDeps({ config, telemetry, log: silentLogger, db: database.db, storage }) });
  const res = await app.request("/api/generate", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: "a fox", seed: 1 }) });
  expect(res.status).toBe(201);
  const json = (await res.json()) as { id: string; imageUrl: string; references: { id: string }[]; traceId: string; hexColors: string[] };
  expect(json.references).toHaveLength(1);

  const reads = recorder.spans(json.traceId).filter((s) => s.name === SPAN.storageGet);
  expect(reads).toHaveLength(1);
  expect(reads[0]!.kind).toBe(SpanKind.CLIENT);
  expect(reads[0]!.attributes["storage.kind"]).toBe("s3");

  const redirect = await app.request(json.imageUrl);
  expect(redirect.status).toBe(302);
  const location = redirect.headers.get("location")!;
  expect(location).toStartWith(`${s3.endpoint}/${s3.bucket}/generated/${json.id}.png?`);
  expect(location).toContain("X-Amz-Signature=");
  const image = await fetch(location);
  expect(image.status).toBe(200);
  const bytes = new Uint8Array(await image.arrayBuffer());
  expect(await sharp(bytes).metadata()).toMatchObject({ format: "png", width: 768, height: 768 });
  expect(json.hexColors).toHaveLength(5);
});
