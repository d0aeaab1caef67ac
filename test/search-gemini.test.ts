import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createAiProviders, createWordVectors } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import type { ImageRow } from "../src/db/schema.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { createApp } from "../src/http/app.ts";
import { createSearchDeps } from "../src/search/pipeline.ts";
import { silentLogger } from "../src/log.ts";
import { createTestTelemetry } from "../src/telemetry/index.ts";
import { startFakeGemini, type FakeGemini, type GeminiRequestBody } from "./harness/fake-gemini.ts";
import { insertFixture } from "./search-fixture.ts";

const TEXT_MODEL = "gemini-2.5-flash";
const { telemetry, recorder } = createTestTelemetry();
let fake: FakeGemini;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let rows: Map<string, ImageRow>;
let server: ReturnType<typeof Bun.serve>;
let base: string;

const promptOf = (body: GeminiRequestBody) => (body.contents ?? []).flatMap((c) => c.parts ?? []).map((p) => p.text ?? "").join(" ");

/** Answers the rewrite with fixed terms and scores the candidate whose caption mentions a garage 10, the rest 1. */
function answerFor(body: GeminiRequestBody): unknown {
  const prompt = promptOf(body);
  if (prompt.includes("Score how well")) {
    const lines = prompt.split("\n").filter((l) => /^\[\d+\]/.test(l));
    return { scores: lines.map((l, i) => ({ index: i, score: l.includes("garage") ? 10 : 1 })) };
  }
  return { terms: ["Automobile", "coupe", "car"] };
}

beforeAll(async () => {
  fake = await startFakeGemini({ apiKey: "secret-test-key" });
  const config = loadConfig({ GEMINI_API_KEY: "secret-test-key", GEMINI_BASE_URL: fake.url, GEMINI_AUX_TIMEOUT_MS: "250", LOG_LEVEL: "silent" });
  database = await createTestDatabase(telemetry);
  const ai = createAiProviders(config, { wordVectors: createWordVectors() });
  rows = await insertFixture(database, ai.embedder);
  const app = createApp({
    config,
    telemetry,
    log: silentLogger,
    search: createSearchDeps({ db: database, embedder: ai.embedder, wordVectors: ai.wordVectors, textModel: ai.textModel, telemetry, config }),
  });
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
  base = `http://127.0.0.1:${server.port}`;
}, 60_000);

afterAll(async () => {
  await server?.stop(true);
  await database?.close();
  await fake?.stop();
});

interface Answer {
  results: { id: string; components: { text?: unknown; vector?: unknown; rerank?: { score: number; source: string } } }[];
  degraded: string[];
  traceId: string;
  explain: any;
}

async function search(body: unknown): Promise<Answer> {
  const res = await fetch(`${base}/api/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

const EMBEDDING_MODEL = "gemini-embedding-001";

/** A text model that adds no words and scores every candidate alike, so the order is the fused one. */
function neutral(body: GeminiRequestBody): unknown {
  const prompt = promptOf(body);
  if (!prompt.includes("Score how well")) return { terms: [] };
  return { scores: prompt.split("\n").filter((l) => /^\[\d+\]/.test(l)).map((_, i) => ({ index: i, score: 5 })) };
}

/** The stage span of a trace, with its degradation attribute and events. */
function stage(traceId: string, name: string) {
  const span = recorder.spans(traceId).find((s) => s.name === name);
  return { span, degraded: span?.attributes["search.degraded"], reason: span?.attributes["search.degraded.reason"], events: span?.events.filter((e) => e.name === "search.degraded") ?? [] };
}

describe("search with GEMINI_API_KEY (fake Gemini server)", () => {
  test("the query is rewritten by Gemini, embedded by Gemini, and the reranker sees the ORIGINAL query", async () => {
    fake.reset();
    fake.setScenario(TEXT_MODEL, { textJson: answerFor });
    const body = await search({ query: "Red sports-car!", limit: 5, explain: true, rerank: { weight: 1 } });
    expect(body.explain.expandedQuery.source).toBe("gemini");
    expect(body.explain.expandedQuery.synonyms).toEqual(["automobile", "coupe"]);
    expect(body.explain.fulltextQuery.split(" or ")).toEqual(expect.arrayContaining(["red", "sports", "car", "automobile", "coupe"]));

    const calls = fake.requests.filter((r) => r.model === TEXT_MODEL);
    expect(calls.length).toBe(2);
    const rerankPrompt = calls.map((c) => promptOf(c.body!)).find((p) => p.includes("Score how well"))!;
    expect(rerankPrompt.split("\n").filter((l) => l.startsWith("Query:"))).toEqual(['Query: "Red sports-car!"']);
    expect(rerankPrompt).not.toContain("coupe");
    expect(fake.requests.some((r) => r.model === "gemini-embedding-001" && r.body?.requests?.[0]?.taskType === "RETRIEVAL_QUERY")).toBe(true);

    expect(body.explain.rerank.source).toBe("gemini");
    expect(body.degraded).toEqual([]);
    expect(body.results[0]!.id).toBe(rows.get("blue-car")!.id);
    expect(body.results[0]!.components.rerank).toMatchObject({ score: 1, source: "gemini" });

    const expand = recorder.spans(body.traceId).find((s) => s.name === "search.expand")!;
    expect(expand.attributes["gen_ai.request.model"]).toBe(TEXT_MODEL);
    const everything = JSON.stringify(recorder.spans(body.traceId).map((s) => s.attributes));
    expect(everything).not.toContain("secret-test-key");
  });

  test("a Gemini slower than the timeout falls back to the offline expansion and reranker, no error", async () => {
    fake.reset();
    fake.setScenario(TEXT_MODEL, { delayMs: 3000, then: { textJson: answerFor } });
    const started = performance.now();
    const body = await search({ query: "puppy on a sofa", limit: 3, explain: true });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(2500);
    expect(body.explain.expandedQuery).toMatchObject({ source: "offline", fallbackReason: "timeout" });
    expect(body.explain.rerank).toMatchObject({ source: "offline", fallbackReason: "timeout" });
    expect(body.results[0]!.id).toBe(rows.get("puppy")!.id);
    expect(body.results[0]!.components.rerank!.source).toBe("offline");
    const rerank = recorder.spans(body.traceId).find((s) => s.name === "search.rerank")!;
    expect(rerank.attributes["search.rerank.fallback"]).toBe("timeout");
  });

  test("a failing Gemini (503, malformed) also falls back", async () => {
    for (const scenario of [{ status: 503 }, "malformed"] as const) {
      fake.reset();
      fake.setScenario(TEXT_MODEL, scenario);
      const body = await search({ query: "snowy mountain", limit: 2, explain: true });
      expect(body.explain.expandedQuery.source).toBe("offline");
      expect(body.explain.rerank.source).toBe("offline");
      expect(body.results[0]!.id).toBe(rows.get("mountain")!.id);
    }
  });
});

describe("a model helper that fails or times out never fails the search (answer 200, `degraded` names the stage)", () => {
  test("the embedding model answering 503: full text alone answers, search.embed is degraded, its span says why", async () => {
    fake.reset();
    fake.setScenario(TEXT_MODEL, { textJson: answerFor });
    fake.setScenario(EMBEDDING_MODEL, { status: 503, message: "overloaded" });
    const body = await search({ query: "vintage automobile in a garage", limit: 3, explain: true });
    expect(body.degraded).toEqual(["search.embed"]);
    expect(body.results[0]!.id).toBe(rows.get("blue-car")!.id);
    expect(body.results.every((r) => r.components.vector === undefined)).toBe(true);
    expect(body.explain.embed).toEqual({ fallbackReason: "unavailable" });
    const embed = stage(body.traceId, "search.embed");
    expect([embed.degraded, embed.reason]).toEqual([true, "unavailable"]);
    expect(embed.events.map((e) => e.attributes?.reason)).toEqual(["unavailable"]);
    expect(stage(body.traceId, "search.vector").span).toBeUndefined();
    expect(stage(body.traceId, "search.rerank").degraded).toBeUndefined();
    const root = recorder.spans(body.traceId).find((s) => s.name === "POST /api/search")!;
    expect(root.attributes["http.response.status_code"]).toBe(200);
  });

  test("the embedding model slower than GEMINI_AUX_TIMEOUT_MS: degraded as a timeout, the call cut off", async () => {
    fake.reset();
    fake.setScenario(TEXT_MODEL, { textJson: neutral });
    fake.setScenario(EMBEDDING_MODEL, { delayMs: 3000, then: "auto" });
    const body = await search({ query: "snowy mountain", limit: 2 });
    expect(body.degraded).toEqual(["search.embed"]);
    expect(body.results[0]!.id).toBe(rows.get("mountain")!.id);
    expect(stage(body.traceId, "search.embed").reason).toBe("timeout");
  });

  test("every model down: expansion and reranker fall back offline, no vector branch; still a ranked answer", async () => {
    fake.reset();
    fake.setScenario("*", { status: 500 });
    const body = await search({ query: "puppy on a sofa", limit: 3, explain: true });
    expect(body.degraded).toEqual(["search.expand", "search.embed", "search.rerank"]);
    expect(body.results[0]!.id).toBe(rows.get("puppy")!.id);
    expect(body.explain.expandedQuery.source).toBe("offline");
    expect(body.explain.rerank.source).toBe("offline");
    for (const name of ["search.expand", "search.embed", "search.rerank"]) expect(stage(body.traceId, name).degraded).toBe(true);
    expect(stage(body.traceId, "search.fulltext").degraded).toBeUndefined();
  });

  test("the models back: nothing degraded again", async () => {
    fake.reset();
    fake.setScenario(TEXT_MODEL, { textJson: neutral });
    const body = await search({ query: "snowy mountain", limit: 5 });
    expect(body.degraded).toEqual([]);
    expect(body.results.some((r) => r.components.vector !== undefined)).toBe(true);
  });

  test("a fault of the search's own (the database gone) is not hidden as a degradation", async () => {
    const config = loadConfig({ GEMINI_API_KEY: "secret-test-key", GEMINI_BASE_URL: fake.url, GEMINI_AUX_TIMEOUT_MS: "250", LOG_LEVEL: "silent" });
    const gone = await createTestDatabase(telemetry);
    const ai = createAiProviders(config, { wordVectors: createWordVectors() });
    const app = createApp({ config, telemetry, log: silentLogger, search: createSearchDeps({ db: gone, embedder: ai.embedder, wordVectors: ai.wordVectors, textModel: ai.textModel, telemetry, config }) });
    const other = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
    try {
      fake.reset();
      fake.setScenario(TEXT_MODEL, { textJson: answerFor });
      await gone.close();
      const res = await fetch(`http://127.0.0.1:${other.port}/api/search`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"query":"red car"}' });
      expect(res.status).toBeGreaterThanOrEqual(500);
      const body = (await res.json()) as { error?: { code: string }; degraded?: unknown };
      expect(body.error).toBeDefined();
      expect(body.degraded).toBeUndefined();
    } finally {
      await other.stop(true);
    }
  });
});
