import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { createAiProviders } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
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

  beforeAll(async () => {
    gemini = await startFakeGemini({ apiKey: "test-key" });
    dir = await mkdtemp(join(tmpdir(), "ingest-gemini-"));
    suite = await openSuite({ store: await createLocalBlobStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) });
    ctx = suite.ctx;
    const config = loadConfig({ ...SUITE_ENV, GEMINI_API_KEY: "test-key", GEMINI_BASE_URL: gemini.url });
    const ai = createAiProviders(config, { telemetry: suite.telemetry, log: silentLogger });
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

  test("when the labeler fails the image is still stored with the request's category", async () => {
    gemini.reset();
    gemini.setScenario("gemini-2.5-flash", { status: 503, message: "overloaded" });
    const response = await app.request("/api/images", { method: "POST", body: form(await scene(6002), { category: "food" }) });
    expect(response.status).toBe(201);
    expect(await jsonOf(response)).toMatchObject({ caption: null, labels: [], category: "food" });
  });

  test("an embedder outage answers 503 with nothing stored", async () => {
    gemini.reset();
    gemini.setScenario("gemini-embedding-001", { status: 500, message: "down" });
    const before = (await ctx.rawStore.list("")).length;
    const rowsBefore = await ctx.database.db.$count((await import("../src/db/schema.ts")).images);
    const response = await app.request("/api/images", { method: "POST", body: form(await scene(6003), { caption: "will not embed" }) });
    expect(response.status).toBe(503);
    expect((await jsonOf(response)).error.code).toBe("embedding_unavailable");
    expect((await ctx.rawStore.list("")).length).toBe(before);
    expect(await ctx.database.db.$count((await import("../src/db/schema.ts")).images)).toBe(rowsBefore);
  });
});
