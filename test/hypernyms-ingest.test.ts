import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { createOfflineEmbedder, createWordVectors } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/client.ts";
import { countImagesWithoutHypernyms } from "../src/db/hypernyms.ts";
import { bulkInsertImages } from "../src/db/images.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { renderScene } from "../src/ingest/demo/render.ts";
import { createHypernymExpander, type HypernymExpander } from "../src/ingest/hypernyms.ts";
import { ingestImage } from "../src/ingest/pipeline.ts";
import { silentLogger } from "../src/log.ts";
import { createLocalBlobStore } from "../src/storage/local.ts";
import { createTestTelemetry, noopTelemetry, SPAN } from "../src/telemetry/index.ts";

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
    expect(await countImagesWithoutHypernyms(database.db)).toBe(0);
  });

  test("without an expander, or when it fails, the upload still succeeds and the row waits for the backfill (null)", async () => {
    const { image: plain, created } = await ingestImage(await deps(), { bytes: await image("plain"), caption: "An owl on a branch" });
    expect(created).toBe(true);
    expect(plain.hypernyms).toBeNull();
    const broken: HypernymExpander = { source: "broken", expand: () => Promise.reject(new Error("index.noun: no such file")) };
    const { image: failed } = await ingestImage(await deps(broken), { bytes: await image("failed"), caption: "A heron in the reeds" });
    expect(failed.hypernyms).toBeNull();
    expect(recorder.byName(SPAN.ingestLabel).at(-1)!.attributes["ingest.label.hypernyms_error"]).toBe("Error");
    expect(await countImagesWithoutHypernyms(database.db)).toBe(2);
  });
});

describe("bun run backfill:hypernyms, as a process", () => {
  let dataDir: string;
  const env = () => ({ ...process.env, DATA_DIR: dataDir, DATABASE_URL: "", LOG_LEVEL: "error", OTEL_SDK_DISABLED: "true" });
  const run = async (...args: string[]) => {
    const proc = Bun.spawn(["bun", "run", "src/cli/backfill-hypernyms.ts", ...args], { cwd: join(import.meta.dir, ".."), env: env(), stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { stdout, stderr, code };
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "backfill-cli-"));
    const database = await openDatabase({ dataDir, telemetry: noopTelemetry(), log: silentLogger, databaseUrl: undefined });
    await bulkInsertImages(
      database.db,
      ["Espresso in a white cup", "A heron in the reeds", "A velvet sofa", null].map((caption, i) => ({
        image: { storageKey: `x/${i}.png`, mimeType: "image/png", width: 1, height: 1, byteSize: 1, sha256: `cli-${i}`, caption },
        embeddings: [],
      })),
    );
    await database.close();
  }, 60_000);
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  test("--check counts the rows without hypernyms and exits 1; the backfill fills them; --check then exits 0", async () => {
    const before = await run("--check");
    expect(before).toMatchObject({ code: 1, stdout: "4 image(s) without hypernyms\n" });
    const filled = await run("--batch", "3");
    expect(filled.code).toBe(0);
    expect(filled.stdout).toMatch(/^4 image\(s\) given hypernyms in \d+ ms; 0 left without\n$/);
    expect(filled.stderr).toContain("4/4 images expanded");
    expect(await run("--check")).toMatchObject({ code: 0, stdout: "0 image(s) without hypernyms\n" });
    expect(await run()).toMatchObject({ code: 0, stdout: "0 image(s) without hypernyms\n" });
    const database = await openDatabase({ dataDir, telemetry: noopTelemetry(), log: silentLogger, databaseUrl: undefined });
    try {
      const rows = (await database.db.execute(sql`select caption, hypernyms from images order by sha256`)) as unknown as { rows: { caption: string | null; hypernyms: string[] }[] };
      expect(rows.rows.find((r) => r.caption?.startsWith("Espresso"))!.hypernyms).toContain("beverage");
      expect(rows.rows.find((r) => r.caption === null)!.hypernyms).toEqual([]);
    } finally {
      await database.close();
    }
  }, 120_000);

  test("a bad --batch is refused before anything is opened", async () => {
    expect(await run("--batch", "0")).toMatchObject({ code: 2, stderr: "--batch must be a whole number from 1 to 5000\n" });
  });
});
