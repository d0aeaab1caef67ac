import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOfflineEmbedder, createWordVectors } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import { countImagesMissing } from "../src/db/images.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { renderScene } from "../src/ingest/demo/render.ts";
import { createHypernymExpander, type HypernymExpander } from "../src/ingest/hypernyms.ts";
import { ingestImage } from "../src/ingest/pipeline.ts";
import { silentLogger } from "../src/log.ts";
import { createLocalBlobStore } from "../src/storage/local.ts";
import { createTestTelemetry, SPAN } from "../src/telemetry/index.ts";

const wordVectors = createWordVectors();
const embedder = createOfflineEmbedder(wordVectors);
const config = loadConfig({ LOG_LEVEL: "silent" });
let shade = 0;
/** A different small image each call (stripes in a fresh colour). */
const image = (seed: string) => renderScene({ kind: "abstract", colors: ["#ffffff", `#${(++shade * 40).toString(16).padStart(2, "0")}0000`, "#00ff00"], variant: 2 }, seed);

describe("ingest.label adds hypernyms", () => {
  const { telemetry, recorder } = createTestTelemetry();
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let dir: string;
  const deps = async (hypernyms?: HypernymExpander) => ({ db: database.db, storage: await createLocalBlobStore(dir), embedder, hypernyms, telemetry, config, log: silentLogger });

  beforeAll(async () => {
    database = await createTestDatabase(telemetry);
    dir = await mkdtemp(join(tmpdir(), "hypernyms-ingest-"));
  }, 60_000);
  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("an upload's caption and labels are expanded and stored, with the figures on the ingest.label span", async () => {
    const { image: row } = await ingestImage(await deps(createHypernymExpander({ wordVectors })), { bytes: await image("van"), caption: "A delivery van outside a bakery", labels: ["parcel"] });
    expect(row.hypernyms).toEqual(expect.arrayContaining(["truck", "motor vehicle", "vehicle"]));
    const label = recorder.byName(SPAN.ingestLabel).at(-1)!;
    expect(label.attributes["ingest.label.hypernyms"]).toBe(row.hypernyms!.length);
    expect(label.attributes["ingest.label.hypernym_nouns"]).toBeGreaterThanOrEqual(2);
    expect(Number(label.attributes["ingest.label.hypernyms_ms"])).toBeGreaterThanOrEqual(0);
    expect(await countImagesMissing(database.db, "hypernyms")).toBe(0);
  });

  test("without an expander, or when it fails, the upload still succeeds and the row waits for the backfill (null)", async () => {
    const { image: plain, created } = await ingestImage(await deps(), { bytes: await image("plain"), caption: "An owl on a branch" });
    expect(created).toBe(true);
    expect(plain.hypernyms).toBeNull();
    const broken: HypernymExpander = { source: "broken", expand: () => Promise.reject(new Error("index.noun: no such file")) };
    const { image: failed } = await ingestImage(await deps(broken), { bytes: await image("failed"), caption: "A heron in the reeds" });
    expect(failed.hypernyms).toBeNull();
    expect(recorder.byName(SPAN.ingestLabel).at(-1)!.attributes["ingest.label.hypernyms_error"]).toBe("Error");
    expect(await countImagesMissing(database.db, "hypernyms")).toBe(2);
  });
});
