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

async function search(body: unknown) {
  const res = await fetch(`${base}/api/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return (await res.json()) as { results: { id: string; components: { rerank?: { score: number; source: string } } }[]; traceId: string; explain: any };
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
