import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  createGeminiClient,
  createGeminiEmbedder,
  createGeminiLabeler,
  createGeminiTextModel,
  createOfflineEmbedder,
  createWordVectors,
  ModelError,
  type Embedder,
} from "../src/ai/index.ts";
import { createAiProviders } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import { startFakeGemini, type FakeGemini } from "./harness/fake-gemini.ts";

let fake: FakeGemini;
const wordVectors = createWordVectors();

beforeAll(async () => {
  fake = await startFakeGemini({ apiKey: "test-key" });
  await wordVectors.ready();
}, 60_000);
afterAll(() => fake?.stop());

const norm = (v: number[]) => Math.hypot(...v);
const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

/** The contract every embedder keeps; the search pipeline and ingest rely on it. */
function embedderContract(name: string, make: () => Embedder, expected: { model: string; dimensions: number }) {
  describe(`${name} embedder contract`, () => {
    test("names its model and size", () => {
      const e = make();
      expect(e.model).toBe(expected.model);
      expect(e.dimensions).toBe(expected.dimensions);
    });

    test("one finite unit vector per text, in order, also past one request batch", async () => {
      const e = make();
      const texts = Array.from({ length: 150 }, (_, i) => `photo number ${i} of a ${["red car", "quiet beach", "bowl of fruit"][i % 3]}`);
      const vectors = await e.embed(texts, "document");
      expect(vectors.length).toBe(150);
      for (const v of vectors) {
        expect(v.length).toBe(expected.dimensions);
        expect(v.every(Number.isFinite)).toBe(true);
        expect(norm(v)).toBeCloseTo(1, 5);
      }
      const [single] = await e.embed([texts[137]!], "document");
      expect(cosine(single!, vectors[137]!)).toBeCloseTo(1, 5);
      expect(cosine(vectors[0]!, vectors[1]!)).toBeLessThan(0.9999);
    });

    test("is deterministic", async () => {
      const e = make();
      const [a] = await e.embed(["a snowy mountain above a pine forest"], "query");
      const [b] = await e.embed(["a snowy mountain above a pine forest"], "query");
      expect(a).toEqual(b!);
    });

    test("texts with no known word, empty text and symbols still give unit vectors, never NaN", async () => {
      const e = make();
      const vectors = await e.embed(["", "   ", "xqzzvq blorptang", "&|!:*'"], "query");
      for (const v of vectors) {
        expect(v.every(Number.isFinite)).toBe(true);
        expect(norm(v)).toBeCloseTo(1, 5);
      }
    });

    test("an empty list gives an empty list", async () => {
      expect(await make().embed([], "document")).toEqual([]);
    });
  });
}

embedderContract("offline (wink-sg-100d)", () => createOfflineEmbedder(wordVectors), { model: "wink-sg-100d", dimensions: 100 });
embedderContract(
  "Gemini (fake server)",
  () => createGeminiEmbedder(createGeminiClient({ ...loadConfig({}).gemini, apiKey: "test-key", baseUrl: fake.url })),
  { model: "gemini-embedding-001", dimensions: 768 },
);

describe("offline embedder", () => {
  test("related texts are closer than unrelated ones (weighted word vectors carry meaning)", async () => {
    const e = createOfflineEmbedder(wordVectors);
    const [car, automobile, fruit] = await e.embed(["a red sports car on the street", "a crimson automobile parked outside", "a bowl of fresh fruit"], "document");
    expect(cosine(car!, automobile!)).toBeGreaterThan(cosine(car!, fruit!) + 0.1);
  });

  test("frequent words weigh less than rare ones (SIF)", async () => {
    const e = createOfflineEmbedder(wordVectors);
    const [withStopwords, bare] = await e.embed(["the car is in the street and it is there", "car street"], "query");
    expect(cosine(withStopwords!, bare!)).toBeGreaterThan(0.9);
  });
});

describe("Gemini embedder requests", () => {
  test("documents and queries use their task types, 768 dims, the key in a header, batches of 100", async () => {
    fake.reset();
    const e = createGeminiEmbedder(createGeminiClient({ ...loadConfig({}).gemini, apiKey: "test-key", baseUrl: fake.url }));
    await e.embed(Array.from({ length: 120 }, (_, i) => `text ${i}`), "document");
    await e.embed(["red car"], "query");
    const embeds = fake.requests.filter((r) => r.action.toLowerCase().includes("embed"));
    expect(embeds.length).toBe(3);
    const tasks = embeds.flatMap((r) => (r.body?.requests ?? [{ taskType: r.body?.taskType as string | undefined, outputDimensionality: r.body?.outputDimensionality }]).map((q) => q.taskType));
    expect(new Set(tasks.slice(0, 120))).toEqual(new Set(["RETRIEVAL_DOCUMENT"]));
    expect(tasks.at(-1)).toBe("RETRIEVAL_QUERY");
    expect(embeds[0]!.body!.requests!.length).toBe(100);
    expect(embeds[0]!.body!.requests![0]!.outputDimensionality).toBe(768);
    expect(embeds.every((r) => r.apiKey === "test-key")).toBe(true);
    expect(embeds.every((r) => !r.path.includes("test-key"))).toBe(true);
  });

  test("errors come back classified, without the key", async () => {
    fake.reset();
    fake.setScenario("gemini-embedding-001", { status: 429, message: "quota" });
    const e = createGeminiEmbedder(createGeminiClient({ ...loadConfig({}).gemini, apiKey: "test-key", baseUrl: fake.url }));
    const error = await e.embed(["x"], "query").catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).kind).toBe("rate_limited");
    expect(String((error as Error).message)).not.toContain("test-key");
    fake.reset();
  });
});

describe("Gemini text model", () => {
  const make = () => createGeminiTextModel(createGeminiClient({ ...loadConfig({}).gemini, apiKey: "test-key", baseUrl: fake.url }), "gemini-2.5-flash");
  const schema = { type: "object", properties: { terms: { type: "array", items: { type: "string" } } }, required: ["terms"] };

  test("asks for JSON under the schema and parses the answer", async () => {
    fake.reset();
    fake.setScenario("gemini-2.5-flash", { textJson: () => ({ terms: ["automobile", "vehicle"] }) });
    const out = await make().json<{ terms: string[] }>("synonyms of car", schema, { timeoutMs: 2000 });
    expect(out.terms).toEqual(["automobile", "vehicle"]);
    const sent = fake.requests.at(-1)!.body!.generationConfig!;
    expect(sent.responseMimeType).toBe("application/json");
    expect(sent.responseJsonSchema ?? sent.responseSchema).toEqual(schema);
  });

  test("a slow answer is cut at the timeout and the request aborted", async () => {
    fake.reset();
    fake.setScenario("gemini-2.5-flash", { delayMs: 3000, then: "text-json" });
    const started = performance.now();
    const error = await make().json("x", schema, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(1500);
    expect((error as ModelError).kind).toBe("timeout");
  });

  test("malformed, blocked and unauthorised answers are classified", async () => {
    const kinds: string[] = [];
    for (const scenario of ["malformed", "safety", { status: 403 }, { status: 503 }, { text: "not json" }] as const) {
      fake.reset();
      fake.setScenario("gemini-2.5-flash", scenario);
      const error = await make().json("x", schema, { timeoutMs: 2000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelError);
      kinds.push((error as ModelError).kind);
    }
    expect(kinds).toEqual(["malformed", "safety_blocked", "auth", "unavailable", "malformed"]);
  });
});

describe("Gemini labeler and provider choice", () => {
  test("labels an image from a JSON answer, lowercased and deduplicated", async () => {
    fake.reset();
    fake.setScenario("gemini-2.5-flash", { textJson: () => ({ caption: "A red car.", labels: ["Car", "car", "Street"], category: "Vehicle" }) });
    const labeler = createGeminiLabeler(createGeminiClient({ ...loadConfig({}).gemini, apiKey: "test-key", baseUrl: fake.url }), "gemini-2.5-flash");
    const out = await labeler.label({ bytes: fake.png, mimeType: "image/png" }, { timeoutMs: 2000 });
    expect(out).toEqual({ caption: "A red car.", labels: ["car", "street"], category: "vehicle" });
    expect(fake.requests.at(-1)!.body!.contents![0]!.parts!.some((p) => p.inlineData?.mimeType === "image/png")).toBe(true);
  });

  test("createAiProviders picks Gemini with a key and the offline models without", () => {
    const offline = createAiProviders(loadConfig({}), { wordVectors });
    expect(offline.kind).toBe("offline");
    expect(offline.embedder.model).toBe("wink-sg-100d");
    expect(offline.textModel).toBeUndefined();
    const gemini = createAiProviders(loadConfig({ GEMINI_API_KEY: "k", GEMINI_BASE_URL: fake.url }), { wordVectors });
    expect(gemini.kind).toBe("gemini");
    expect(gemini.embedder).toMatchObject({ model: "gemini-embedding-001", dimensions: 768 });
    expect(gemini.textModel?.model).toBe("gemini-2.5-flash");
  });
});

describe("word vectors", () => {
  test("nearest neighbours are close words above the threshold, best first, never the word itself", () => {
    const near = wordVectors.similar("sofa", 5, 0.6);
    expect(near.map((n) => n.word)).toContain("couch");
    expect(near.map((n) => n.word)).not.toContain("sofa");
    expect(near.every((n) => n.similarity >= 0.6)).toBe(true);
    for (let i = 1; i < near.length; i++) expect(near[i]!.similarity).toBeLessThanOrEqual(near[i - 1]!.similarity);
    expect(wordVectors.similar("sofa", 5, 0.99)).toEqual([]);
    expect(wordVectors.similar("xqzzvq", 5, 0)).toEqual([]);
  });

  test("tokens carry lemmas, stopword flags and part-of-speech tags; punctuation is dropped", () => {
    expect(wordVectors.tokenize("The cars, parked!")).toEqual([
      { word: "the", lemma: "the", stopWord: true, pos: "DET" },
      { word: "cars", lemma: "car", stopWord: false, pos: "NOUN" },
      { word: "parked", lemma: "park", stopWord: false, pos: "VERB" },
    ]);
  });
});
