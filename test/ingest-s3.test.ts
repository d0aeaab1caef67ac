import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { images } from "../src/db/schema.ts";
import { createS3BlobStore } from "../src/storage/index.ts";
import { startS3, type TestS3 } from "./harness/s3.ts";
import { scene } from "./ingest-fixtures.ts";
import { jsonOf, ingestSuite, openSuite, type SuiteContext } from "./ingest-suite.shared.ts";

setDefaultTimeout(30_000);

function s3Store(s3: TestS3, timeoutMs?: number) {
  return createS3BlobStore({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    presignTtlSeconds: 300,
    credentials: s3.credentials,
    timeoutMs,
  });
}

ingestSuite("s3", async () => {
  const s3 = await startS3();
  return { store: s3Store(s3), cleanup: () => s3.stop() };
});

describe("ingest when S3 goes away (PGlite + s3rver)", () => {
  let s3: TestS3;
  let suite: Awaited<ReturnType<typeof openSuite>>;
  let ctx: SuiteContext;

  beforeAll(async () => {
    s3 = await startS3();
    suite = await openSuite({ store: s3Store(s3, 2_000), cleanup: () => s3.stop() });
    ctx = suite.ctx;
  }, 60_000);
  afterAll(() => suite.close());

  test("a stopped S3 answers 503 quickly and writes no row; records still read from the database", async () => {
    const ok = await fetch(`${ctx.url}/api/images`, { method: "POST", body: form(await scene(801)) });
    expect(ok.status).toBe(201);
    const image = await jsonOf(ok);
    const rowsBefore = await ctx.database.db.$count(images);
    await s3.stop();
    const started = performance.now();
    const response = await fetch(`${ctx.url}/api/images`, { method: "POST", body: form(await scene(802)) });
    expect(response.status).toBe(503);
    expect((await jsonOf(response)).error.code).toBe("storage_unavailable");
    expect(performance.now() - started).toBeLessThan(8_000);
    expect(await ctx.database.db.$count(images)).toBe(rowsBefore);
    const record = await fetch(`${ctx.url}/api/images/${image.id}`);
    expect(record.status).toBe(200);
  });
});

function form(bytes: Uint8Array): FormData {
  const f = new FormData();
  f.append("file", new File([bytes], "x.jpg", { type: "image/jpeg" }));
  f.append("caption", "s3 outage");
  return f;
}
