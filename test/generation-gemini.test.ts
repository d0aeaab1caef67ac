import { afterAll, afterEach, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import sharp from "sharp";
import { createGeminiImageModel } from "../src/ai/gemini-image.ts";
import type { ImageModel, ImageRequest } from "../src/ai/image-model.ts";
import { ModelError } from "../src/ai/types.ts";
import { createOfflineImageModel, dimensionsFor, paletteFor } from "../src/ai/offline-image.ts";
import { createTestTelemetry } from "../src/telemetry/index.ts";
import { inlineDataOf, startFakeGemini, type FakeGemini } from "./harness/fake-gemini.ts";

// Real servers and PGlite on a loaded 2-core machine: some steps take longer than bun's 5 s default.
setDefaultTimeout(30_000);

const MODEL = "gemini-2.5-flash-image";
let fake: FakeGemini;
let model: ImageModel;
let reference: Uint8Array;

const request = (over: Partial<ImageRequest> = {}): ImageRequest => ({
  prompt: "## Subject\na fox",
  subject: "a fox",
  references: [{ id: "r1", role: "tone", bytes: reference, mimeType: "image/png" }],
  aspectRatio: "16:9",
  seed: 1,
  ...over,
});

const failure = async (promise: Promise<unknown>): Promise<ModelError> => {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ModelError);
    return error as ModelError;
  }
  throw new Error("expected the call to fail");
};

beforeAll(async () => {
  fake = await startFakeGemini();
  reference = new Uint8Array(await sharp({ create: { width: 16, height: 16, channels: 3, background: "#2040a0" } }).png().toBuffer());
  model = createGeminiImageModel({ apiKey: "test-key", baseUrl: fake.url, model: MODEL, timeoutMs: 5_000, backoffMs: 50 });
});
afterEach(() => fake.reset());
afterAll(() => fake.stop());

describe("Gemini image model against the fake API", () => {
  test("success: the prompt, the references as inline data, the aspect ratio and modalities are sent; the PNG comes back", async () => {
    const result = await model.generate(request());
    expect(Buffer.from(result.bytes).equals(Buffer.from(fake.png))).toBe(true);
    expect(result).toMatchObject({ mimeType: "image/png", model: MODEL, attempts: 1, outputTokens: 1290 });
    expect(result.inputTokens).toBeGreaterThan(258);

    expect(fake.requests).toHaveLength(1);
    const sent = fake.requests[0]!;
    expect(sent.model).toBe(MODEL);
    expect(sent.apiKey).toBe("test-key");
    expect(sent.body?.contents?.[0]?.parts?.[0]?.text).toBe("## Subject\na fox");
    expect(inlineDataOf(sent)).toEqual([{ mimeType: "image/png", bytes: reference }]);
    expect(sent.body?.generationConfig).toMatchObject({ responseModalities: ["IMAGE", "TEXT"], imageConfig: { aspectRatio: "16:9" } });
  });

  test.each(["safety", "safety-finish"] as const)("%s → safety_blocked, not retried", async (scenario) => {
    fake.setScenario(MODEL, scenario);
    const error = await failure(model.generate(request()));
    expect(error.kind).toBe("safety_blocked");
    expect(error.message).toMatch(scenario === "safety" ? /blocked \(SAFETY\)/ : /IMAGE_SAFETY/);
    expect(fake.requests).toHaveLength(1);
  });

  test("429 with Retry-After: waits that long, then succeeds", async () => {
    fake.setScenario(MODEL, [{ status: 429, retryAfter: "1" }, "image"]);
    const { telemetry, recorder } = createTestTelemetry();
    const started = performance.now();
    const result = await telemetry.tracedSpan("outer", {}, () =>
      createGeminiImageModel({ apiKey: "k", baseUrl: fake.url, model: MODEL, timeoutMs: 5_000, telemetry }).generate(request()),
    );
    const elapsed = performance.now() - started;
    expect(result.attempts).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
    const retry = recorder.byName("outer")[0]!.events.find((e) => e.name === "gen_ai.retry");
    expect(retry?.attributes).toMatchObject({ "http.response.status_code": 429, "retry.wait_ms": 1000 });
  });

  test("429 three times: two retries, then rate_limited with the server's Retry-After", async () => {
    fake.setScenario(MODEL, { status: 429, retryAfter: "0" });
    const error = await failure(model.generate(request()));
    expect(error.kind).toBe("rate_limited");
    expect(error.details).toMatchObject({ status: 429, attempts: 3, retryAfterSeconds: 1 });
    expect(fake.requests).toHaveLength(3);
  });

  test("a Retry-After longer than the time left is not waited for", async () => {
    fake.setScenario(MODEL, { status: 429, retryAfter: "30" });
    const quick = createGeminiImageModel({ apiKey: "k", baseUrl: fake.url, model: MODEL, timeoutMs: 2_000 });
    const started = performance.now();
    const error = await failure(quick.generate(request()));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(error.details).toMatchObject({ retryAfterSeconds: 30, attempts: 1 });
  });

  test("503 is retried (backoff without Retry-After); 500 is not", async () => {
    fake.setScenario(MODEL, [{ status: 503 }, "image"]);
    expect((await model.generate(request())).attempts).toBe(2);
    fake.reset();
    fake.setScenario(MODEL, { status: 500 });
    const error = await failure(model.generate(request()));
    expect(error.kind).toBe("unavailable");
    expect(error.details).toMatchObject({ status: 500, attempts: 1 });
    expect(fake.requests).toHaveLength(1);
  });

  test("503 on every attempt: unavailable after three calls", async () => {
    fake.setScenario(MODEL, { status: 503 });
    const error = await failure(model.generate(request()));
    expect(error.kind).toBe("unavailable");
    expect(fake.requests).toHaveLength(3);
  });

  test("slower than the timeout: aborted (the fake sees the disconnect) → timeout", async () => {
    fake.setScenario(MODEL, { delayMs: 3_000, then: "image" });
    const quick = createGeminiImageModel({ apiKey: "k", baseUrl: fake.url, model: MODEL, timeoutMs: 200 });
    const started = performance.now();
    const error = await failure(quick.generate(request()));
    expect(error.kind).toBe("timeout");
    expect(performance.now() - started).toBeLessThan(1_500);
    for (let i = 0; i < 50 && !fake.requests[0]?.aborted; i++) await Bun.sleep(10);
    expect(fake.requests[0]?.aborted).toBe(true);
  });

  test("no image → no_image with the model's words; malformed JSON → malformed", async () => {
    fake.setScenario(MODEL, "no-image");
    const noImage = await failure(model.generate(request()));
    expect(noImage.kind).toBe("no_image");
    expect(noImage.message).toContain("describe the image in words");
    fake.setScenario(MODEL, "malformed");
    const malformed = await failure(model.generate(request()));
    expect(malformed.kind).toBe("malformed");
    expect(malformed.message).toContain("not JSON");
  });

  test("an unreachable API is unavailable, not a hang", async () => {
    const nowhere = createGeminiImageModel({ apiKey: "k", baseUrl: "http://127.0.0.1:9", model: MODEL, timeoutMs: 2_000 });
    expect((await failure(nowhere.generate(request()))).kind).toBe("unavailable");
  });

  test("the caller's signal aborting mid-call (the client went away) → cancelled, and the fake sees the disconnect", async () => {
    fake.setScenario(MODEL, { delayMs: 5_000, then: "image" });
    const controller = new AbortController();
    const pending = failure(model.generate(request({ signal: controller.signal })));
    for (let i = 0; i < 500 && fake.requests.length === 0; i++) await Bun.sleep(10);
    controller.abort();
    const error = await pending;
    expect(error.kind).toBe("cancelled");
    expect(error.details.attempts).toBe(1);
    for (let i = 0; i < 100 && !fake.requests[0]?.aborted; i++) await Bun.sleep(10);
    expect(fake.requests[0]?.aborted).toBe(true);
  });
});

describe("offline image model", () => {
  test("a real, deterministic PNG of the requested shape, carrying the references' colours", async () => {
    const offline = createOfflineImageModel({ longSide: 256 });
    const yellow = new Uint8Array(await sharp({ create: { width: 40, height: 40, channels: 3, background: "#f0d000" } }).jpeg().toBuffer());
    const req = request({
      aspectRatio: "3:2",
      references: [
        { id: "a", role: "tone", bytes: reference, mimeType: "image/png", hexColors: ["#2040a0"] },
        { id: "b", role: "tone", bytes: yellow, mimeType: "image/jpeg", hexColors: ["#f0d000"] },
      ],
    });
    const first = await offline.generate(req);
    const again = await offline.generate(req);
    expect(Buffer.from(first.bytes).equals(Buffer.from(again.bytes))).toBe(true);
    expect(await sharp(first.bytes).metadata()).toMatchObject({ format: "png", width: 256, height: 171 });
    expect(first).toMatchObject({ mimeType: "image/png", model: "offline-moodboard-1", attempts: 1 });

    // The reference tiles are really drawn: the centre of the first tile is the first reference's blue.
    const { data, info } = await sharp(first.bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
    const near = (rgb: number[], target: number[]) => rgb.every((v, i) => Math.abs(v - target[i]!) < 40);
    expect(near(at(60, 60), [0x20, 0x40, 0xa0])).toBe(true);
    expect(near(at(190, 60), [0xf0, 0xd0, 0x00])).toBe(true);

    const otherSeed = await offline.generate({ ...req, seed: 2, references: [] });
    expect(Buffer.from(otherSeed.bytes).equals(Buffer.from(first.bytes))).toBe(false);
  });

  test("palette: references first, then colours the prompt names, then seeded ones; five distinct", () => {
    const palette = paletteFor({ subject: "a teal sea under a golden sky", references: [{ id: "a", role: "tone", bytes: reference, mimeType: "image/png", hexColors: ["#112233", "#445566"] }], seed: 9 });
    expect(palette.slice(0, 4)).toEqual(["#112233", "#445566", "#16a085", "#d4a017"]);
    expect(new Set(palette).size).toBe(5);
    expect(dimensionsFor("9:16", 768)).toEqual({ width: 432, height: 768 });
  });
});
