/**
 * The checks on a shared store: the Neon driver (over the WebSocket bridge to PGlite) and S3
 * (s3rver), where other instances may be writing. Leftovers younger than the grace period and
 * generations younger than the longest a generation can run are left alone; older ones are
 * repaired. Also: the doctor's exit codes, missing embeddings filled in, an in-memory database.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createOfflineEmbedder, createWordVectors } from "../src/ai/index.ts";
import { doctorExitCode, DOCTOR_EXIT, formatReport } from "../src/cli/doctor.ts";
import { loadConfig } from "../src/config.ts";
import { openDatabase, type Database } from "../src/db/client.ts";
import { getGeneration, insertGeneration } from "../src/db/generations.ts";
import { getEmbedding, insertImageWithEmbeddings } from "../src/db/images.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { createHypernymExpander } from "../src/ingest/hypernyms.ts";
import { CHECKS, checkContext, generationGraceMs, LOST_FOUND_PREFIX, reconcileAtStart, runChecks, type IntegrityTarget } from "../src/integrity/index.ts";
import { silentLogger } from "../src/log.ts";
import { createS3BlobStore, thumbnailKey, type BlobStore } from "../src/storage/index.ts";
import { noopTelemetry } from "../src/telemetry/index.ts";
import { startNeonBridge, type NeonBridge } from "./harness/neon-bridge.ts";
import { startS3, type TestS3 } from "./harness/s3.ts";
import { captureLogger } from "./telemetry-helpers.ts";

setDefaultTimeout(60_000);

const GRACE_MS = 3_000;
const config = loadConfig({ RECONCILE_GRACE_MS: String(GRACE_MS), GEMINI_TIMEOUT_MS: "100", LOG_LEVEL: "silent" });
const png = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);

let pglite: Awaited<ReturnType<typeof createTestDatabase>>;
let bridge: NeonBridge;
let s3: TestS3;
let database: Database;
let storage: BlobStore;
let target: IntegrityTarget;

beforeAll(async () => {
  pglite = await createTestDatabase();
  bridge = await startNeonBridge({ pglite: pglite.pglite });
  s3 = await startS3();
  database = await openDatabase({ databaseUrl: bridge.url, neon: bridge.neon, maxConnections: 1, dataDir: "/unused", telemetry: noopTelemetry(), log: silentLogger, migrate: false });
  storage = createS3BlobStore({ bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, presignTtlSeconds: 60, credentials: s3.credentials });
  const wordVectors = createWordVectors();
  target = { database, storage, config, embedder: createOfflineEmbedder(wordVectors), hypernyms: createHypernymExpander({ wordVectors }) };
}, 60_000);

afterAll(async () => {
  await database?.close();
  await storage?.close();
  await s3?.stop();
  await bridge?.stop();
  await pglite?.close();
});

const put = (key: string) => storage.put(key, png, { contentType: "image/png" });

describe("checks on Neon + S3, shared with other instances", () => {
  test("only leftovers older than the grace period are repaired; younger ones may be another instance's write in flight", async () => {
    const image = await insertImageWithEmbeddings(database.db, { storageKey: "uploads/00000000-0000-4000-8000-000000000001.png", mimeType: "image/png", width: 1, height: 1, byteSize: 8, sha256: "shared-1", caption: "a red boat" }, []);
    await put(image.storageKey);
    // No thumbnail for it: a record without a blob, which no repair can bring back.
    const oldOrphan = "uploads/00000000-0000-4000-8000-0000000000aa.png";
    await put(oldOrphan);
    const oldRun = await insertGeneration(database.db, { prompt: "old", provider: "offline", model: "m", status: "running", createdAt: new Date(Date.now() - 2 * 3_600_000) });
    // S3's Last-Modified has one-second resolution: wait well past the grace so the first blob is old.
    await Bun.sleep(GRACE_MS + 1_500);
    const youngOrphan = "generated/00000000-0000-4000-8000-0000000000bb.png";
    await put(youngOrphan);
    const youngRun = await insertGeneration(database.db, { prompt: "young", provider: "offline", model: "m", status: "running" });
    // Blob ages are measured against this moment in every run below, however slow the machine.
    const now = new Date();

    const ctx = checkContext(target, now);
    expect([ctx.blobs, ctx.generations]).toEqual(["shared", "shared"]);
    expect(ctx.generationGraceMs).toBe(generationGraceMs(config));
    const before = await runChecks(ctx, { repair: false });
    const byName = Object.fromEntries(before.map((o) => [o.check.name, o.finding!]));
    expect(byName["temp files"]).toMatchObject({ count: 0 });
    expect(byName["blobs without records"]).toMatchObject({ count: 2, repairable: 1 });
    expect(byName["blobs without records"]!.summary).toContain("1 younger than 3 s left alone");
    expect(byName["records without blobs"]).toMatchObject({ count: 1, repairable: 0, examples: [`thumbnail of image ${image.id}: ${thumbnailKey(image.id)}`] });
    expect(byName["open generations"]).toMatchObject({ count: 1, repairable: 1 });
    expect(byName["missing labels"]).toMatchObject({ count: 0, skipped: expect.stringContaining("no labeler configured") });
    expect(byName["missing embeddings"]).toMatchObject({ count: 1, repairable: 1, summary: "wink-sg-100d: 1 missing" });
    expect(byName["missing hypernyms"]).toMatchObject({ count: 1, repairable: 1, summary: "1 image without hypernyms" });
    expect(doctorExitCode(before)).toBe(DOCTOR_EXIT.problemsLeft);
    expect(formatReport(before)).toContain("PROBLEM   records without blobs: 1 blob rows point at are missing");

    const repaired = await runChecks(checkContext(target, now), { repair: true });
    expect(repaired.map((o) => o.repaired)).toEqual([undefined, expect.stringMatching(/^moved 1 to lost-found\/\d{8}t\d{6}z\/$/), undefined, "closed 1 as failed (interrupted)", undefined, "embedded 1 with wink-sg-100d", "expanded 1 of 1"]);
    const keys = await storage.list("");
    expect(keys).toContain(youngOrphan);
    expect(keys).not.toContain(oldOrphan);
    expect(keys.filter((k) => k.startsWith(LOST_FOUND_PREFIX) && k.endsWith(oldOrphan))).toHaveLength(1);
    expect(await getGeneration(database.db, oldRun.id)).toMatchObject({ status: "failed", errorKind: "interrupted" });
    expect(await getGeneration(database.db, youngRun.id)).toMatchObject({ status: "running" });
    expect(await getEmbedding(database.db, image.id, "wink-sg-100d")).toMatchObject({ dimensions: 100 });

    const after = await runChecks(checkContext(target, now), { repair: false });
    // What is left: the missing thumbnail (not repairable) and the young orphan (not yet a problem to fix).
    expect(after.map((o) => [o.check.name, o.finding!.count, o.finding!.repairable])).toEqual([
      ["temp files", 0, 0],
      ["blobs without records", 1, 0],
      ["records without blobs", 1, 0],
      ["open generations", 0, 0],
      ["missing labels", 0, 0],
      ["missing embeddings", 0, 0],
      ["missing hypernyms", 0, 0],
    ]);
    expect(doctorExitCode(repaired, after)).toBe(DOCTOR_EXIT.problemsLeft);
    await storage.delete(youngOrphan);
    await put(thumbnailKey(image.id));
    expect(doctorExitCode(repaired, await runChecks(checkContext(target, now), { repair: false }))).toBe(DOCTOR_EXIT.repaired);
    expect(doctorExitCode(await runChecks(checkContext(target, now), { repair: false }))).toBe(DOCTOR_EXIT.clean);
  });

  test("the start-up reconciliation logs what it repaired and what it left alone", async () => {
    await insertGeneration(database.db, { prompt: "older still", provider: "offline", model: "m", status: "running", createdAt: new Date(Date.now() - 3_600_000) });
    const young = await insertGeneration(database.db, { prompt: "just started elsewhere", provider: "offline", model: "m", status: "running" });
    const { log, lines } = captureLogger("info");
    await reconcileAtStart(target, log);
    expect(lines.find((l) => l.msg === "data reconciled")).toMatchObject({
      blobs: "shared",
      generations: "shared",
      repaired: { "temp files": 0, "blobs without records": 0, "open generations": 1 },
    });
    expect(await getGeneration(database.db, young.id)).toMatchObject({ status: "running" });
  });

  test("an upload another instance completes between the listing and the read of the rows is not a record without its blob", async () => {
    const id = "00000000-0000-4000-8000-0000000000cc";
    const storageKey = `uploads/${id}.png`;
    // The listing sees neither of its blobs; the rows, read after it, see the image.
    const racing: BlobStore = {
      ...storage,
      async list(prefix) {
        const keys = await storage.list(prefix);
        await put(storageKey);
        await put(thumbnailKey(id));
        await insertImageWithEmbeddings(database.db, { id, storageKey, mimeType: "image/png", width: 1, height: 1, byteSize: 8, sha256: "shared-race" }, []);
        return keys;
      },
    };
    const checks = CHECKS.filter((c) => c.name === "records without blobs");
    const [outcome] = await runChecks(checkContext({ ...target, storage: racing }), { repair: false, checks });
    expect(outcome!.finding).toMatchObject({ count: 0 });
  });
});

describe("a database in memory", () => {
  test("is no record of the blob files beside it: the blob checks are skipped and nothing is reconciled at start", async () => {
    const memory = await createTestDatabase();
    try {
      const ctx = checkContext({ database: memory, storage, config });
      expect(ctx.blobs).toBe("unowned");
      const outcomes = await runChecks(ctx, { repair: true });
      expect(outcomes.find((o) => o.check.name === "blobs without records")?.finding?.skipped).toContain("in memory");
      expect(await storage.list("")).not.toHaveLength(0);
      const { log, lines } = captureLogger("debug");
      expect(await reconcileAtStart({ database: memory, storage, config }, log)).toEqual([]);
      expect(lines).toEqual([]);
    } finally {
      await memory.close();
    }
  });
});
