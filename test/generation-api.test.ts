import { afterAll, beforeAll, beforeEach, describe, expect, test, setDefaultTimeout } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { createGeminiClient } from "../src/ai/gemini-client.ts";
import { createGeminiTextModel } from "../src/ai/gemini-text.ts";
import { loadConfig } from "../src/config.ts";
import { insertImageWithEmbeddings, listGenerations, type Database } from "../src/db/index.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { createGenerationDeps } from "../src/generation/index.ts";
import { createApp } from "../src/http/app.ts";
import { silentLogger } from "../src/log.ts";
import { createLocalBlobStore, originalKey, tracedBlobStore, type BlobStore } from "../src/storage/index.ts";
import { createTestTelemetry, GENAI_ATTR, SPAN, SpanKind, SpanStatusCode } from "../src/telemetry/index.ts";
import { FAKE_IMAGE_COLOR, inlineDataOf, startFakeGemini, type FakeGemini } from "./harness/fake-gemini.ts";

// Real servers and PGlite on a loaded 2-core machine: some steps take longer than bun's 5 s default.
setDefaultTimeout(30_000);

const IMAGE_MODEL = "gemini-2.5-flash-image";
const TEXT_MODEL = "gemini-2.5-flash";
const { telemetry, recorder } = createTestTelemetry();

let fake: FakeGemini;
let dir: string;
let database: Database;
let storage: BlobStore;
/** Tone references by category: id → stored bytes. */
const refs = new Map<string, { category: string; bytes: Uint8Array; color: string }>();

type App = ReturnType<typeof createApp>;
let gemini: App;

function makeApp(env: Record<string, string>, options: { withTextModel?: boolean; db?: Database } = {}): App {
  const config = loadConfig({ DATA_DIR: dir, LOG_LEVEL: "silent", ...env });
  const textModel = options.withTextModel && config.gemini.apiKey ? createGeminiTextModel(createGeminiClient(config.gemini), TEXT_MODEL) : undefined;
  const generation = createGenerationDeps({ config, telemetry, log: silentLogger, db: (options.db ?? database).db, storage, ai: { textModel } });
  return createApp({ config, telemetry, log: silentLogger, generation });
}

const geminiEnv = (extra: Record<string, string> = {}) => ({ GEMINI_API_KEY: "test-key", GEMINI_BASE_URL: fake.url, ...extra });

async function post(app: App, body: unknown, raw = false) {
  const res = await app.request("/api/generate", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  return { res, json: (await res.json()) as any };
}

async function addToneRef(category: string, color: string) {
  const bytes = new Uint8Array(await sharp({ create: { width: 24, height: 24, channels: 3, background: color } }).png().toBuffer());
  const id = Bun.randomUUIDv7();
  const key = originalKey({ id, mimeType: "image/png", role: "tone-ref", category });
  await storage.put(key, bytes, { contentType: "image/png" });
  await insertImageWithEmbeddings(
    database.db,
    { id, storageKey: key, mimeType: "image/png", width: 24, height: 24, byteSize: bytes.byteLength, sha256: new Bun.CryptoHasher("sha256").update(bytes).digest("hex"), role: "tone-ref", category, hexColors: [color] },
    [],
  );
  refs.set(id, { category, bytes, color });
}

const imageRequests = () => fake.requests.filter((r) => r.model === IMAGE_MODEL);
const spanOf = (traceId: string, name: string) => recorder.spans(traceId).filter((s) => s.name === name);

beforeAll(async () => {
  fake = await startFakeGemini({ textJson: () => ({ category: "animal", toneRatio: 75, person: false, scene: false }) });
  dir = await mkdtemp(join(tmpdir(), "generation-api-"));
  database = await createTestDatabase(telemetry);
  storage = tracedBlobStore(await createLocalBlobStore(dir), telemetry);
  for (const color of ["#aa2200", "#22aa00", "#0022aa"]) await addToneRef("animal", color);
  await addToneRef("food", "#ddcc00");
  gemini = makeApp(geminiEnv({ GEMINI_TIMEOUT_MS: "5000" }), { withTextModel: true });
}, 30_000);
beforeEach(() => fake.reset());
afterAll(async () => {
  await fake.stop();
  await database?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("POST /api/generate with Gemini (fake API)", () => {
  test("success: 201, references from the category's pool really sent, a stored PNG at imageUrl, a full trace", async () => {
    const { res, json } = await post(gemini, { prompt: "a red fox in the snow", aspectRatio: "3:2", seed: 7 });
    expect(res.status).toBe(201);
    expect(json).toMatchObject({ status: "succeeded", provider: "gemini", model: IMAGE_MODEL, imageUrl: `/api/generations/${json.id}/image`, seed: 7 });
    expect(res.headers.get("location")).toBe(`/api/generations/${json.id}`);
    expect(json.traceId).toMatch(/^[0-9a-f]{32}$/);

    // Two tone references from the "animal" pool (the text model's category), their stored bytes sent inline.
    expect(json.references).toHaveLength(2);
    for (const ref of json.references) {
      expect(ref.role).toBe("tone-ref");
      expect(refs.get(ref.id)?.category).toBe("animal");
    }
    const [sent] = imageRequests();
    expect(inlineDataOf(sent!)).toEqual(json.references.map((r: { id: string }) => ({ mimeType: "image/png", bytes: refs.get(r.id)!.bytes })));
    expect(sent!.body?.generationConfig).toMatchObject({ imageConfig: { aspectRatio: "3:2" }, responseModalities: ["IMAGE", "TEXT"] });
    const promptText = sent!.body?.contents?.[0]?.parts?.[0]?.text ?? "";
    expect(promptText).toStartWith("## Subject\na red fox in the snow\n");
    expect(promptText).toContain("at 75%");
    expect(fake.requests.filter((r) => r.model === TEXT_MODEL)).toHaveLength(1);

    // The image is served, and its palette leads with the fake image's colour.
    const image = await gemini.request(json.imageUrl);
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await image.arrayBuffer()).equals(Buffer.from(fake.png))).toBe(true);
    const hex = `#${[FAKE_IMAGE_COLOR.r, FAKE_IMAGE_COLOR.g, FAKE_IMAGE_COLOR.b].map((v) => v.toString(16).padStart(2, "0")).join("")}`;
    expect(json.hexColors[0]).toBe(hex);
    const cached = await gemini.request(json.imageUrl, { headers: { "if-none-match": image.headers.get("etag")! } });
    expect(cached.status).toBe(304);
    // Served like an image's file: `If-None-Match` compares weakly (RFC 9110: a list, `W/`), no sniffing.
    const weak = await gemini.request(json.imageUrl, { headers: { "if-none-match": `"other", W/${image.headers.get("etag")!}` } });
    expect(weak.status).toBe(304);
    expect(image.headers.get("x-content-type-options")).toBe("nosniff");

    // The stored record.
    const record = (await (await gemini.request(`/api/generations/${json.id}`)).json()) as any;
    expect(record).toMatchObject({ id: json.id, status: "succeeded", prompt: "a red fox in the snow", error: null, traceId: json.traceId, provider: "gemini" });
    expect(record.usage.outputTokens).toBe(1290);
    expect(record.usage.inputTokens).toBeGreaterThan(2 * 258);
    expect(record.latencyMs).toBeGreaterThanOrEqual(0);
    expect(record.builtPrompt).toBe(promptText);
    expect(record.parameters).toMatchObject({ aspectRatio: "3:2", seed: 7, classification: { category: "animal", source: "gemini", toneRatio: 75 }, injection: { pool: "category" } });

    // One trace: the five stages in order, storage reads under injection, the model call as a CLIENT span.
    const stages = recorder.spans(json.traceId).filter((s) => s.name.startsWith("generation."));
    expect(stages.map((s) => s.name)).toEqual([SPAN.generationClassify, SPAN.generationInjection, SPAN.generationPromptBuild, SPAN.generationGeminiApi, SPAN.generationStore]);
    const injection = spanOf(json.traceId, SPAN.generationInjection)[0]!;
    const reads = spanOf(json.traceId, SPAN.storageGet).filter((s) => s.parentSpanContext?.spanId === injection.spanContext().spanId);
    expect(reads).toHaveLength(2);
    const call = spanOf(json.traceId, SPAN.generationGeminiApi)[0]!;
    expect(call.kind).toBe(SpanKind.CLIENT);
    expect(call.status.code).toBe(SpanStatusCode.UNSET);
    expect(call.attributes).toMatchObject({ [GENAI_ATTR.operation]: "generate_content", [GENAI_ATTR.requestModel]: IMAGE_MODEL, [GENAI_ATTR.outputTokens]: 1290 });
    expect(call.attributes["generation.queue_wait_ms"]).toBeNumber();
    expect(JSON.stringify(recorder.spans(json.traceId).map((s) => s.attributes))).not.toContain("test-key");
    const store = spanOf(json.traceId, SPAN.generationStore)[0]!;
    expect(spanOf(json.traceId, SPAN.storagePut).every((s) => s.parentSpanContext?.spanId === store.spanContext().spanId)).toBe(true);
  });

  test("the same seed picks the same references; the caller's category wins", async () => {
    const first = await post(gemini, { prompt: "a fox", seed: 123 });
    const second = await post(gemini, { prompt: "a fox", seed: 123 });
    expect(second.json.references).toEqual(first.json.references);
    const food = await post(gemini, { prompt: "a fox", seed: 123, category: "Food" });
    expect(food.json.references.map((r: { id: string }) => refs.get(r.id)?.category)).toEqual(["food"]);
  });

  test("a category without a pool falls back to any pool, with the reason stored", async () => {
    const { json } = await post(gemini, { prompt: "a fox", seed: 5, category: "vehicle" });
    expect(json.references.length).toBe(2);
    const record = (await (await gemini.request(`/api/generations/${json.id}`)).json()) as any;
    expect(record.parameters.injection).toEqual(expect.objectContaining({ pool: "any", reason: 'no tone references in category "vehicle"' }));
  });

  const failures = [
    { name: "prompt blocked (promptFeedback)", scenario: "safety", status: 422, kind: "safety_blocked", calls: 1 },
    { name: "image blocked (finishReason)", scenario: "safety-finish", status: 422, kind: "safety_blocked", calls: 1 },
    { name: "500", scenario: { status: 500 }, status: 502, kind: "unavailable", calls: 1 },
    { name: "503 every time", scenario: { status: 503, retryAfter: "0" }, status: 502, kind: "unavailable", calls: 3 },
    { name: "429 every time", scenario: { status: 429, retryAfter: "0" }, status: 503, kind: "rate_limited", calls: 3, retryAfter: "1" },
    { name: "no image", scenario: "no-image", status: 502, kind: "no_image", calls: 1 },
    { name: "malformed JSON", scenario: "malformed", status: 502, kind: "malformed", calls: 1 },
  ] as const;

  test.each(failures)("$name → $status $kind, stored as failed, gemini_api span ERROR", async ({ scenario, status, kind, calls, ...rest }) => {
    fake.setScenario(IMAGE_MODEL, scenario as never);
    const { res, json } = await post(gemini, { prompt: "a fox" });
    expect(res.status).toBe(status);
    expect(json.error.code).toBe(kind);
    if ("retryAfter" in rest) expect(res.headers.get("retry-after")).toBe(rest.retryAfter);
    expect(imageRequests()).toHaveLength(calls);

    const id = json.error.details.generationId;
    const record = (await (await gemini.request(`/api/generations/${id}`)).json()) as any;
    expect(record).toMatchObject({ id, status: "failed", imageUrl: null, error: { kind } });
    expect(record.error.message.length).toBeGreaterThan(5);
    expect((await gemini.request(`/api/generations/${id}/image`)).status).toBe(404);

    const traceId = json.error.details.traceId;
    expect(record.traceId).toBe(traceId);
    const call = spanOf(traceId, SPAN.generationGeminiApi)[0]!;
    expect(call.status.code).toBe(SpanStatusCode.ERROR);
    expect(call.attributes["error.type"]).toBe(kind);
    expect(call.attributes["generation.attempts"]).toBe(calls);
    expect(spanOf(traceId, SPAN.generationStore)).toHaveLength(0);
    const root = recorder.spans(traceId).find((s) => !s.parentSpanContext)!;
    expect(root.status.code).toBe(status >= 500 ? SpanStatusCode.ERROR : SpanStatusCode.UNSET);
  });

  test("429 then success: Retry-After honoured, 201", async () => {
    fake.setScenario(IMAGE_MODEL, [{ status: 429, retryAfter: "1" }, "image"]);
    const started = performance.now();
    const { res, json } = await post(gemini, { prompt: "a fox" });
    expect(res.status).toBe(201);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(imageRequests().map((r) => r.status)).toEqual([429, 200]);
    const call = spanOf(json.traceId, SPAN.generationGeminiApi)[0]!;
    expect(call.attributes["generation.attempts"]).toBe(2);
    expect(call.events.map((e) => e.name)).toEqual(["gen_ai.retry"]);
  });

  test("slower than GEMINI_TIMEOUT_MS → 504 timeout, stored, span ERROR", async () => {
    const quick = makeApp(geminiEnv({ GEMINI_TIMEOUT_MS: "300" }));
    fake.setScenario(IMAGE_MODEL, { delayMs: 5_000, then: "image" });
    const started = performance.now();
    const { res, json } = await post(quick, { prompt: "a fox" });
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(res.status).toBe(504);
    expect(json.error.code).toBe("timeout");
    const record = (await (await quick.request(`/api/generations/${json.error.details.generationId}`)).json()) as any;
    expect(record).toMatchObject({ status: "failed", error: { kind: "timeout" } });
    const call = spanOf(json.error.details.traceId, SPAN.generationGeminiApi)[0]!;
    expect(call.status.code).toBe(SpanStatusCode.ERROR);
    expect(call.attributes["error.type"]).toBe("timeout");
  });

  test("a queued request waits for the slot; the wait is on its gemini_api span", async () => {
    const single = makeApp(geminiEnv({ GENERATION_CONCURRENCY: "1", GENERATION_QUEUE_LIMIT: "4" }));
    fake.setScenario(IMAGE_MODEL, { delayMs: 500, then: "image" });
    const [a, b] = await Promise.all([post(single, { prompt: "a fox" }), post(single, { prompt: "a fox" })]);
    expect([a.res.status, b.res.status]).toEqual([201, 201]);
    const waits = [a, b].map((r) => spanOf(r.json.traceId, SPAN.generationGeminiApi)[0]!.attributes["generation.queue_wait_ms"] as number).sort((x, y) => x - y);
    expect(waits[0]).toBeLessThan(100);
    expect(waits[1]).toBeGreaterThanOrEqual(400);
  });

  test("the connection's idle timer is off while a generation runs and back to HTTP_IDLE_TIMEOUT_SECONDS for the answer", async () => {
    const app = makeApp(geminiEnv({ HTTP_IDLE_TIMEOUT_SECONDS: "42" }));
    const calls: { seconds: number; modelCalls: number }[] = [];
    // What Bun.serve hands Hono as `c.env`: the server, whose `timeout(request, seconds)` sets this connection's idle timer.
    const server = { timeout: (_request: Request, seconds: number) => void calls.push({ seconds, modelCalls: imageRequests().length }) };
    const res = await app.request("/api/generate", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: "a fox" }) }, server);
    expect(res.status).toBe(201);
    expect(calls).toEqual([
      { seconds: 0, modelCalls: 0 },
      { seconds: 42, modelCalls: 1 },
    ]);
  });

  test("past the queue: 503 overloaded with Retry-After, nothing stored, no extra model call", async () => {
    const narrow = makeApp(geminiEnv({ GENERATION_CONCURRENCY: "1", GENERATION_QUEUE_LIMIT: "0" }), { withTextModel: true });
    fake.setScenario(IMAGE_MODEL, { delayMs: 1_000, then: "image" });
    const slow = post(narrow, { prompt: "a fox" });
    for (let i = 0; i < 500 && imageRequests().length === 0; i++) await Bun.sleep(10);
    const before = (await listGenerations(database.db, { limit: 500 })).items.length;
    const { res, json } = await post(narrow, { prompt: "a fox" });
    expect(res.status).toBe(503);
    expect(json.error.code).toBe("overloaded");
    expect(json.error.details).toBeUndefined();
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await listGenerations(database.db, { limit: 500 })).items.length).toBe(before);
    expect((await slow).res.status).toBe(201);
    expect(imageRequests()).toHaveLength(1);
    // Neither the classification nor the image model was called for the refused one.
    expect(fake.requests.filter((r) => r.model === TEXT_MODEL)).toHaveLength(1);
  });
});

describe("bad input: 400 and no model call", () => {
  const cases: [string, string][] = [
    ["empty prompt", JSON.stringify({ prompt: "" })],
    ["blank prompt", JSON.stringify({ prompt: "   \n " })],
    ["prompt over 4,000 characters", JSON.stringify({ prompt: "a".repeat(4_001) })],
    ["prompt not a string", JSON.stringify({ prompt: 42 })],
    ["no prompt", JSON.stringify({ aspectRatio: "1:1" })],
    ["unknown aspect ratio", JSON.stringify({ prompt: "a fox", aspectRatio: "7:5" })],
    ["non-string category", JSON.stringify({ prompt: "a fox", category: 3 })],
    ["category with nothing usable", JSON.stringify({ prompt: "a fox", category: "!!!" })],
    ["fractional seed", JSON.stringify({ prompt: "a fox", seed: 1.5 })],
    ["body not an object", JSON.stringify(["a fox"])],
    ["missing body", ""],
    ["malformed JSON", '{"prompt": "a fox"'],
  ];

  test.each(cases)("%s", async (_name, body) => {
    const before = (await listGenerations(database.db, { limit: 500 })).items.length;
    const { res, json } = await post(gemini, body, true);
    expect(res.status).toBe(400);
    expect(typeof json.error.code).toBe("string");
    expect(typeof json.error.message).toBe("string");
    expect(fake.requests).toHaveLength(0);
    expect((await listGenerations(database.db, { limit: 500 })).items.length).toBe(before);
  });

  test("a prompt of exactly 4,000 characters is accepted", async () => {
    const { res } = await post(gemini, { prompt: `a fox ${"x".repeat(3_994)}` });
    expect(res.status).toBe(201);
  });
});

describe("GET /api/generations", () => {
  test("newest first, cursor pages cover every record once; bad cursor → 400; unknown id → 404", async () => {
    const all = (await listGenerations(database.db, { limit: 500 })).items.map((r) => r.id);
    expect(all.length).toBeGreaterThan(5);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: Response = await gemini.request(`/api/generations?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: { id: string; createdAt: string }[]; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all);
    expect((await gemini.request("/api/generations?cursor=nonsense")).status).toBe(400);
    expect((await gemini.request("/api/generations?limit=0")).status).toBe(400);
    expect((await gemini.request(`/api/generations/${Bun.randomUUIDv7()}`)).status).toBe(404);
    expect((await gemini.request("/api/generations/not-a-uuid")).status).toBe(404);
  });
});

describe("offline provider (no GEMINI_API_KEY)", () => {
  test("201 with provider offline, a real PNG at imageUrl drawn from the references, five colours", async () => {
    const offline = makeApp({});
    const { res, json } = await post(offline, { prompt: "a fox at dusk", aspectRatio: "16:9", seed: 3 });
    expect(res.status).toBe(201);
    expect(json).toMatchObject({ provider: "offline", model: "offline-moodboard-1", status: "succeeded" });
    expect(fake.requests).toHaveLength(0);
    expect(json.references).toHaveLength(2);
    const image = await offline.request(json.imageUrl);
    const bytes = new Uint8Array(await image.arrayBuffer());
    expect(await sharp(bytes).metadata()).toMatchObject({ format: "png", width: 768, height: 432 });
    expect(json.hexColors).toHaveLength(5);
    for (const hex of json.hexColors) expect(hex).toMatch(/^#[0-9a-f]{6}$/);
    const call = spanOf(json.traceId, SPAN.generationGeminiApi)[0]!;
    expect(call.attributes[GENAI_ATTR.requestModel]).toBe("offline-moodboard-1");
  });

  test("with no tone references stored at all, it still answers (pool none, reason recorded)", async () => {
    const empty = await createTestDatabase(telemetry);
    try {
      const offline = makeApp({}, { db: empty });
      const { res, json } = await post(offline, { prompt: "a fox" });
      expect(res.status).toBe(201);
      expect(json.references).toEqual([]);
      const record = (await (await offline.request(`/api/generations/${json.id}`)).json()) as any;
      expect(record.parameters.injection.pool).toBe("none");
      expect(record.parameters.injection.reason).toContain("no tone references stored");
      expect((await offline.request(json.imageUrl)).status).toBe(200);
    } finally {
      await empty.close();
    }
  });
});
