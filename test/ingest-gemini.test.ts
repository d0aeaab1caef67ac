import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { createAiProviders, createWordVectors, type AiProviders } from "../src/ai/index.ts";
import { loadConfig, type AppConfig } from "../src/config.ts";
import { getImage } from "../src/db/images.ts";
import { backfillImages } from "../src/ingest/backfill.ts";
import { createHypernymExpander } from "../src/ingest/hypernyms.ts";
import { ingestImage } from "../src/ingest/pipeline.ts";
import { checkContext, CHECKS, runChecks } from "../src/integrity/index.ts";
import { createApp } from "../src/http/app.ts";
import { silentLogger } from "../src/log.ts";
import { createLocalBlobStore } from "../src/storage/index.ts";
import { startFakeGemini, type FakeGemini } from "./harness/fake-gemini.ts";
import { scene } from "./ingest-fixtures.ts";
import { jsonOf, openSuite, SUITE_ENV, type SuiteContext } from "./ingest-suite.shared.ts";

setDefaultTimeout(30_000);

describe("ingest with Gemini (fake Gemini server over HTTP via GEMINI_BASE_URL)", () => {
  let gemini: FakeGemini;
  let dir: string;
  let suite: Awaited<ReturnType<typeof openSuite>>;
  let ctx: SuiteContext;
  let app: ReturnType<typeof createApp>;
  let config: AppConfig;
  let ai: AiProviders;

  beforeAll(async () => {
    gemini = await startFakeGemini({ apiKey: "test-key" });
    dir = await mkdtemp(join(tmpdir(), "ingest-gemini-"));
    suite = await openSuite({ store: await createLocalBlobStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) });
    ctx = suite.ctx;
    config = loadConfig({ ...SUITE_ENV, GEMINI_API_KEY: "test-key", GEMINI_BASE_URL: gemini.url });
    ai = createAiProviders(config, { telemetry: suite.telemetry, log: silentLogger });
    app = createApp({ config, telemetry: suite.telemetry, log: silentLogger, images: { ...ctx.deps, config, embedder: ai.embedder, labeler: ai.labeler } });
  }, 60_000);
  afterAll(async () => {
    await suite.close();
    await gemini.stop();
  });

  function form(bytes: Uint8Array, fields: Record<string, string> = {}): FormData {
    const f = new FormData();
    f.append("file", new File([bytes], "photo.jpg", { type: "image/jpeg" }));
    for (const [k, v] of Object.entries(fields)) f.append(k, v);
    return f;
  }

  test("an upload without caption or labels is labelled by the vision model and embedded with gemini-embedding-001 (768-d)", async () => {
    gemini.reset();
    gemini.setScenario("gemini-2.5-flash", { textJson: () => ({ caption: "A lighthouse on a rocky coast", labels: ["lighthouse", "coast", "rocks"], category: "landscape" }) });
    const response = await app.request("/api/images", { method: "POST", body: form(await scene(6001)) });
    expect(response.status).toBe(201);
    const image = await jsonOf(response);
    expect(image).toMatchObject({ caption: "A lighthouse on a rocky coast", labels: ["lighthouse", "coast", "rocks"], category: "landscape" });
    const rows = await ctx.database.db.execute(sql`select model, dimensions from image_embeddings where image_id = ${image.id}`);
    expect((rows as unknown as { rows: unknown[] }).rows).toEqual([{ model: "gemini-embedding-001", dimensions: 768 }]);
    const actions = gemini.requests.map((r) => `${r.model} ${r.action}`);
    expect(actions).toContain("gemini-2.5-flash generateContent");
    expect(actions.some((a) => a.startsWith("gemini-embedding-001 ") && /embed/i.test(a))).toBe(true);
    const embedCall = gemini.requests.find((r) => r.model === "gemini-embedding-001")!;
    expect(JSON.stringify(embedCall.body)).toContain("A lighthouse on a rocky coast");
    expect(embedCall.apiKey).toBe("test-key");
  });

  const embeddingModels = async (id: string) =>
    ((await ctx.database.db.execute(sql`select model from image_embeddings where image_id = ${id}`)) as unknown as { rows: { model: string }[] }).rows.map((r) => r.model);
  const stageSpan = (traceId: string, name: string) => ctx.recorder.spans(traceId).find((s) => s.name === name)!;
  const traceOf = (response: Response) => response.headers.get("traceresponse")!.split("-")[1]!;

  test("when the labeler fails the image is stored with the request's category, says degraded, and the backfill labels it later", async () => {
    gemini.reset();
    gemini.setScenario("gemini-2.5-flash", { status: 503, message: "overloaded" });
    const response = await app.request("/api/images", { method: "POST", body: form(await scene(6002), { category: "food" }) });
    expect(response.status).toBe(201);
    const image = await jsonOf(response);
    expect(image).toMatchObject({ caption: null, labels: [], category: "food", degraded: ["ingest.label"] });
    const label = stageSpan(traceOf(response), "ingest.label");
    expect(label.attributes).toMatchObject({ "ingest.degraded": true, "ingest.degraded.reason": "unavailable", "ingest.label.source": "model_failed" });
    expect(label.events.map((e) => e.name)).toContain("ingest.degraded");
    // Only the category to embed: the text embedding is of "food".
    expect(await embeddingModels(image.id)).toEqual(["gemini-embedding-001"]);

    // The model is back: the backfill labels it, keeps the client's category, and embeds the new text.
    gemini.reset();
    gemini.setScenario("gemini-2.5-flash", { textJson: () => ({ caption: "A bowl of noodles", labels: ["noodles", "bowl"], category: "dinner" }) });
    const report = await backfillImages({ ...ctx.deps, embedder: ai.embedder, labeler: ai.labeler, config });
    expect(report).toEqual({ labelled: 1, embedded: 1, expanded: 0, failed: [] });
    const record = await jsonOf(await app.request(`/api/images/${image.id}`));
    expect(record).toMatchObject({ caption: "A bowl of noodles", labels: ["noodles", "bowl"], category: "food" });
    expect(await embeddingModels(image.id)).toEqual(["gemini-embedding-001"]);
    const embedCall = gemini.requests.find((r) => r.model === "gemini-embedding-001")!;
    expect(JSON.stringify(embedCall.body)).toContain("A bowl of noodles. noodles, bowl. food");
    // A second run finds nothing to do.
    expect(await backfillImages({ ...ctx.deps, embedder: ai.embedder, labeler: ai.labeler, config })).toEqual({ labelled: 0, embedded: 0, expanded: 0, failed: [] });
  });

  test("an embedder outage still stores the image (201, degraded ingest.embed, no embedding); the backfill embeds it once the model is back", async () => {
    gemini.reset();
    gemini.setScenario("gemini-embedding-001", { status: 500, message: "down" });
    const before = (await ctx.rawStore.list("")).length;
    const response = await app.request("/api/images", { method: "POST", body: form(await scene(6003), { caption: "embedded later" }) });
    expect(response.status).toBe(201);
    const image = await jsonOf(response);
    expect(image).toMatchObject({ caption: "embedded later", degraded: ["ingest.embed"] });
    expect((await ctx.rawStore.list("")).length).toBe(before + 2);
    expect(await embeddingModels(image.id)).toEqual([]);
    const embed = stageSpan(traceOf(response), "ingest.embed");
    expect(embed.attributes).toMatchObject({ "ingest.degraded": true, "ingest.degraded.reason": "unavailable" });
    expect(embed.events.map((e) => e.name)).toContain("ingest.degraded");

    // Still down: the backfill reports it and changes nothing.
    const still = await backfillImages({ ...ctx.deps, embedder: ai.embedder, labeler: ai.labeler, config });
    expect(still.failed).toEqual([{ id: image.id, stage: "ingest.embed", reason: "the embedder failed again (unavailable)" }]);
    gemini.reset();
    const report = await backfillImages({ ...ctx.deps, embedder: ai.embedder, labeler: ai.labeler, config });
    expect(report).toEqual({ labelled: 0, embedded: 1, expanded: 0, failed: [] });
    expect(await embeddingModels(image.id)).toEqual(["gemini-embedding-001"]);
    const embedCall = gemini.requests.find((r) => r.model === "gemini-embedding-001")!;
    expect(JSON.stringify(embedCall.body)).toContain("embedded later");
  });

  test("doctor --repair labels an image the labeler missed with the backfill's own function: new text, its embedding and its hypernyms", async () => {
    const deps = { ...ctx.deps, config, embedder: ai.embedder, labeler: ai.labeler, hypernyms: createHypernymExpander({ wordVectors: createWordVectors() }) };
    gemini.reset();
    gemini.setScenario("gemini-2.5-flash", { status: 503, message: "overloaded" });
    const { image, degraded } = await ingestImage(deps, { bytes: await scene(6004) });
    expect(degraded).toEqual(["ingest.label"]);
    // Expanded at ingest from no text at all: nothing.
    expect(image).toMatchObject({ caption: null, labels: [], hypernyms: [] });
    const target = { database: ctx.database, storage: ctx.deps.storage, config, embedder: ai.embedder, labeler: ai.labeler, hypernyms: deps.hypernyms, telemetry: suite.telemetry };
    const labelsCheck = CHECKS.filter((c) => c.name === "missing labels");
    const [found] = await runChecks(checkContext(target), { repair: false, checks: labelsCheck });
    expect(found!.finding).toMatchObject({ count: 1, repairable: 1, summary: "1 image without caption or labels" });

    gemini.reset();
    gemini.setScenario("gemini-2.5-flash", { textJson: () => ({ caption: "A delivery van parked outside a bakery", labels: ["van"], category: "street" }) });
    const [repaired] = await runChecks(checkContext(target), { repair: true, checks: labelsCheck });
    expect(repaired!.repaired).toBe("labelled 1 with gemini-2.5-flash");
    const row = await getImage(ctx.database.db, image.id);
    expect(row).toMatchObject({ caption: "A delivery van parked outside a bakery", labels: ["van"], category: "street" });
    // The expansion of no text is replaced by the new text's, as at ingest.
    expect(row!.hypernyms).toEqual(expect.arrayContaining(["truck", "motor vehicle", "vehicle"]));
    expect(await embeddingModels(image.id)).toEqual(["gemini-embedding-001"]);
    const [after] = await runChecks(checkContext(target), { repair: false, checks: labelsCheck });
    expect(after!.finding).toMatchObject({ count: 0 });
    // Without a labeler, an image without text is as it was uploaded: not checked, not a problem.
    const [offline] = await runChecks(checkContext({ ...target, labeler: undefined }), { repair: false, checks: labelsCheck });
    expect(offline!.finding).toMatchObject({ count: 0, skipped: expect.stringContaining("no labeler configured") });
  });
});
