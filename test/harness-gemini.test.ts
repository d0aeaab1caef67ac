import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { ApiError, GoogleGenAI, type GenerateContentResponse } from "@google/genai";
import sharp from "sharp";
import { FAKE_IMAGE_COLOR, fakeEmbedding, inlineDataOf, startFakeGemini, type FakeGemini } from "./harness/fake-gemini.ts";

const IMAGE_MODEL = "gemini-2.5-flash-image";
const TEXT_MODEL = "gemini-2.5-flash";
const EMBED_MODEL = "gemini-embedding-001";

let fake: FakeGemini;
let ai: GoogleGenAI;
beforeAll(async () => {
  fake = await startFakeGemini({ textJson: () => ({ default: true }) });
  ai = new GoogleGenAI({ apiKey: "test-key", httpOptions: { baseUrl: fake.url } });
});
afterEach(() => fake.reset());
afterAll(() => fake.stop());

/** The base64 image of a response; `response.data` would log a warning when text parts are present. */
const imageOf = (response: GenerateContentResponse) =>
  response.candidates?.[0]?.content?.parts?.find((p) => p.inlineData)?.inlineData?.data;

const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
};

describe("generateContent through the real SDK", () => {
  test("image: the request's inline image reaches the fake and a real PNG comes back", async () => {
    const reference = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#00ff00" } }).png().toBuffer();
    const response = await ai.models.generateContent({
      model: IMAGE_MODEL,
      contents: [{ role: "user", parts: [{ text: "a fox in the snow" }, { inlineData: { mimeType: "image/png", data: reference.toString("base64") } }] }],
    });

    const parts = response.candidates?.[0]?.content?.parts ?? [];
    const image = parts.find((p) => p.inlineData)?.inlineData;
    expect(image?.mimeType).toBe("image/png");
    const bytes = Buffer.from(image?.data ?? "", "base64");
    expect(bytes.equals(fake.png)).toBe(true);
    expect(await sharp(bytes).metadata()).toMatchObject({ format: "png", width: 64, height: 48 });
    const pixels = await sharp(bytes).raw().toBuffer();
    expect([...pixels.subarray(0, 3)]).toEqual([FAKE_IMAGE_COLOR.r, FAKE_IMAGE_COLOR.g, FAKE_IMAGE_COLOR.b]);
    expect(parts.find((p) => p.text)?.text).toBe("Here is the image.");
    expect(response.candidates?.[0]?.finishReason).toBe("STOP" as never);
    const usage = response.usageMetadata;
    expect(usage?.promptTokenCount).toBeGreaterThan(258);
    expect(usage?.candidatesTokenCount).toBe(1290);
    expect(usage?.totalTokenCount).toBe((usage?.promptTokenCount ?? 0) + 1290);

    expect(fake.requests).toHaveLength(1);
    const recorded = fake.requests[0]!;
    // @google/genai 3.3.0 defaults to API version v1, not v1beta.
    expect(recorded.path).toBe(`/v1/models/${IMAGE_MODEL}:generateContent`);
    expect(recorded.apiVersion).toBe("v1");
    expect(recorded.model).toBe(IMAGE_MODEL);
    expect(recorded.action).toBe("generateContent");
    expect(recorded.status).toBe(200);
    expect(inlineDataOf(recorded)).toEqual([{ mimeType: "image/png", bytes: new Uint8Array(reference) }]);
    expect(recorded.body?.contents?.[0]?.parts?.[0]?.text).toBe("a fox in the snow");
  });

  test("the API key travels only in the x-goog-api-key header", async () => {
    await ai.models.generateContent({ model: TEXT_MODEL, contents: "hello" });
    const recorded = fake.requests[0]!;
    expect(recorded.apiKey).toBe("test-key");
    expect(recorded.headers["x-goog-api-key"]).toBe("test-key");
    expect(recorded.path).not.toContain("test-key");
    expect(JSON.stringify(recorded.body)).not.toContain("test-key");
    const otherHeaders = Object.entries(recorded.headers).filter(([k]) => k !== "x-goog-api-key");
    expect(JSON.stringify(otherHeaders)).not.toContain("test-key");
  });

  test("a request without an API key is refused with 403", async () => {
    const res = await fetch(`${fake.url}/v1/models/${TEXT_MODEL}:generateContent`, { method: "POST", body: "{}" });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { status: string } }).error.status).toBe("PERMISSION_DENIED");
    expect(fake.requests[0]?.apiKey).toBeUndefined();
  });

  test("text-json answers with the callback's object, computed from the request", async () => {
    fake.setScenario(TEXT_MODEL, { textJson: (body) => ({ labels: ["cat"], echoed: body.contents?.[0]?.parts?.[0]?.text }) });
    const response = await ai.models.generateContent({
      model: TEXT_MODEL,
      contents: "label this",
      config: { responseMimeType: "application/json", responseJsonSchema: { type: "object" } },
    });
    expect(JSON.parse(response.text ?? "")).toEqual({ labels: ["cat"], echoed: "label this" });
    expect(fake.requests[0]?.body?.generationConfig?.responseMimeType).toBe("application/json");
  });

  test("auto answers JSON requests with the default textJson and others with an image", async () => {
    const json = await ai.models.generateContent({ model: TEXT_MODEL, contents: "x", config: { responseMimeType: "application/json" } });
    expect(JSON.parse(json.text ?? "")).toEqual({ default: true });
    const image = await ai.models.generateContent({ model: TEXT_MODEL, contents: "x" });
    expect(imageOf(image)).toBe(Buffer.from(fake.png).toString("base64"));
  });

  test("no-image answers text only", async () => {
    fake.setScenario("*", "no-image");
    const response = await ai.models.generateContent({ model: IMAGE_MODEL, contents: "x" });
    expect(imageOf(response)).toBeUndefined();
    expect(response.text).toContain("describe");
  });

  test("safety blocks the prompt: promptFeedback and no candidates", async () => {
    fake.setScenario(IMAGE_MODEL, "safety");
    const response = await ai.models.generateContent({ model: IMAGE_MODEL, contents: "x" });
    expect(response.candidates).toBeUndefined();
    expect(response.promptFeedback?.blockReason).toBe("SAFETY" as never);
    expect(response.text).toBeUndefined();
  });

  test("safety-finish: a candidate with IMAGE_SAFETY (or a chosen reason) and no parts", async () => {
    fake.setScenario(IMAGE_MODEL, ["safety-finish", { safetyFinish: "SAFETY" }]);
    const first = await ai.models.generateContent({ model: IMAGE_MODEL, contents: "x" });
    expect(first.candidates?.[0]?.finishReason).toBe("IMAGE_SAFETY" as never);
    expect(first.candidates?.[0]?.content).toBeUndefined();
    expect(imageOf(first)).toBeUndefined();
    const second = await ai.models.generateContent({ model: IMAGE_MODEL, contents: "x" });
    expect(second.candidates?.[0]?.finishReason).toBe("SAFETY" as never);
  });

  test("malformed JSON makes the SDK throw a SyntaxError", async () => {
    fake.setScenario(IMAGE_MODEL, "malformed");
    const error = await rejection(ai.models.generateContent({ model: IMAGE_MODEL, contents: "x" }));
    expect(error).toBeInstanceOf(SyntaxError);
  });

  test.each([500, 503])("status %d surfaces as ApiError with that status, no retry by default", async (status) => {
    fake.setScenario(IMAGE_MODEL, { status });
    const error = await rejection(ai.models.generateContent({ model: IMAGE_MODEL, contents: "x" }));
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(status);
    expect(fake.requests).toHaveLength(1);
  });

  test("429 then success: the SDK does not retry by default, the next call succeeds", async () => {
    fake.setScenario(IMAGE_MODEL, [{ status: 429, retryAfter: "1" }, "image"]);
    const error = await rejection(ai.models.generateContent({ model: IMAGE_MODEL, contents: "x" }));
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(429);
    expect((error as ApiError).message).toContain("RESOURCE_EXHAUSTED");
    expect((error as ApiError).message).toContain("retryDelay");
    expect(fake.requests).toHaveLength(1);
    const ok = await ai.models.generateContent({ model: IMAGE_MODEL, contents: "x" });
    expect(imageOf(ok)).toBeDefined();
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  test("with httpOptions.retryOptions the SDK retries 429 itself, ignoring Retry-After", async () => {
    fake.setScenario(IMAGE_MODEL, [{ status: 429, retryAfter: "5" }, "image"]);
    const retrying = new GoogleGenAI({
      apiKey: "test-key",
      httpOptions: { baseUrl: fake.url, retryOptions: { attempts: 3, initialDelay: 0.05, maxDelay: 0.1 } },
    });
    const started = performance.now();
    const ok = await retrying.models.generateContent({ model: IMAGE_MODEL, contents: "x" });
    expect(imageOf(ok)).toBeDefined();
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  test("a per-model script wins over '*', and the last queued entry repeats", async () => {
    fake.setScenario("*", { status: 500 });
    fake.setScenario(TEXT_MODEL, [{ text: "one" }, { text: "two" }]);
    const texts = [];
    for (let i = 0; i < 3; i++) texts.push((await ai.models.generateContent({ model: TEXT_MODEL, contents: "x" })).text);
    expect(texts).toEqual(["one", "two", "two"]);
    const error = await rejection(ai.models.generateContent({ model: IMAGE_MODEL, contents: "x" }));
    expect((error as ApiError).status).toBe(500);
  });
});

describe("slow answers and aborts", () => {
  test("config.abortSignal aborts a slow call; the fake notices and keeps serving", async () => {
    fake.setScenario(IMAGE_MODEL, { delayMs: 3000, then: "image" });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = performance.now();
    const error = await rejection(ai.models.generateContent({ model: IMAGE_MODEL, contents: "x", config: { abortSignal: controller.signal } }));
    expect(performance.now() - started).toBeLessThan(1500);
    expect((error as Error).name).toBe("AbortError");
    for (let i = 0; i < 50 && !fake.requests[0]?.aborted; i++) await Bun.sleep(10);
    expect(fake.requests[0]?.aborted).toBe(true);
    expect(fake.requests[0]?.status).toBe(0);

    fake.setScenario(IMAGE_MODEL, "image");
    expect(imageOf(await ai.models.generateContent({ model: IMAGE_MODEL, contents: "x" }))).toBeDefined();
  });

  test("httpOptions.timeout bounds a slow call", async () => {
    fake.setScenario(IMAGE_MODEL, { delayMs: 3000, then: "image" });
    const started = performance.now();
    const error = await rejection(
      ai.models.generateContent({ model: IMAGE_MODEL, contents: "x", config: { httpOptions: { timeout: 150 } } }),
    );
    expect(error).toBeInstanceOf(Error);
    expect(performance.now() - started).toBeLessThan(1500);
    expect(fake.requests[0]?.headers["x-server-timeout"]).toBe("1");
  });

  test("a delay shorter than the caller's patience answers normally", async () => {
    fake.setScenario(IMAGE_MODEL, { delayMs: 100, then: { text: "late" } });
    const response = await ai.models.generateContent({ model: IMAGE_MODEL, contents: "x" });
    expect(response.text).toBe("late");
  });
});

describe("embeddings through the real SDK", () => {
  test("embedContent goes to batchEmbedContents and returns deterministic vectors", async () => {
    const response = await ai.models.embedContent({
      model: EMBED_MODEL,
      contents: ["red car", "blue sky"],
      config: { outputDimensionality: 768, taskType: "RETRIEVAL_QUERY" },
    });
    const vectors = response.embeddings?.map((e) => e.values ?? []) ?? [];
    expect(vectors).toHaveLength(2);
    expect(vectors[0]).toHaveLength(768);
    expect(vectors[0]).toEqual(fakeEmbedding("red car", 768));
    expect(vectors[1]).toEqual(fakeEmbedding("blue sky", 768));
    expect(vectors[0]).not.toEqual(vectors[1]);
    expect(Math.hypot(...(vectors[0] ?? []))).toBeCloseTo(1, 6);

    const recorded = fake.requests[0]!;
    expect(recorded.path).toBe(`/v1/models/${EMBED_MODEL}:batchEmbedContents`);
    expect(recorded.body?.requests?.map((r) => [r.model, r.outputDimensionality, r.taskType])).toEqual([
      [`models/${EMBED_MODEL}`, 768, "RETRIEVAL_QUERY"],
      [`models/${EMBED_MODEL}`, 768, "RETRIEVAL_QUERY"],
    ]);
  });

  test("the same text embeds the same way across calls; other sizes are honoured", async () => {
    const a = await ai.models.embedContent({ model: EMBED_MODEL, contents: "sunset", config: { outputDimensionality: 64 } });
    const b = await ai.models.embedContent({ model: EMBED_MODEL, contents: "sunset" });
    expect(a.embeddings?.[0]?.values).toHaveLength(64);
    expect(b.embeddings?.[0]?.values).toHaveLength(768);
    expect(b.embeddings?.[0]?.values).toEqual(fakeEmbedding("sunset"));
  });

  test("error scenarios apply to embeddings too", async () => {
    fake.setScenario(EMBED_MODEL, [{ status: 503 }, "auto"]);
    const error = await rejection(ai.models.embedContent({ model: EMBED_MODEL, contents: "x" }));
    expect((error as ApiError).status).toBe(503);
    expect((await ai.models.embedContent({ model: EMBED_MODEL, contents: "x" })).embeddings).toHaveLength(1);
  });

  test("the single embedContent endpoint answers one embedding", async () => {
    const res = await fetch(`${fake.url}/v1beta/models/${EMBED_MODEL}:embedContent`, {
      method: "POST",
      headers: { "x-goog-api-key": "k", "content-type": "application/json" },
      body: JSON.stringify({ content: { parts: [{ text: "tree" }] }, outputDimensionality: 16 }),
    });
    expect(await res.json()).toEqual({ embedding: { values: fakeEmbedding("tree", 16) } });
  });
});
