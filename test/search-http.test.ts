import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createOfflineEmbedder, createWordVectors } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import { deleteImage } from "../src/db/images.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import type { ImageRow } from "../src/db/schema.ts";
import { hc } from "hono/client";
import { createApp, type AppType } from "../src/http/app.ts";
import { createSearchDeps } from "../src/search/pipeline.ts";
import { silentLogger } from "../src/log.ts";
import { ciede2000, hexToLab } from "../src/search/color.ts";
import { createTestTelemetry, SEARCH_STAGES, SpanKind } from "../src/telemetry/index.ts";
import { FIXTURE, insertFixture } from "./search-fixture.ts";

const { telemetry, recorder } = createTestTelemetry();
// Every search checks the vocabulary's version, so a test sees its own inserts at once.
const config = loadConfig({ LOG_LEVEL: "silent", SEARCH_VOCABULARY_REFRESH_MS: "0" });
const wordVectors = createWordVectors();
const embedder = createOfflineEmbedder(wordVectors);
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let rows: Map<string, ImageRow>;
let server: ReturnType<typeof Bun.serve>;
let base: string;

beforeAll(async () => {
  database = await createTestDatabase(telemetry);
  rows = await insertFixture(database, embedder);
  const app = createApp({ config, telemetry, log: silentLogger, search: createSearchDeps({ db: database, embedder, wordVectors, telemetry, config }) });
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
  base = `http://127.0.0.1:${server.port}`;
}, 60_000);

afterAll(async () => {
  await server?.stop(true);
  await database?.close();
});

function post(body: unknown, init: RequestInit = {}) {
  return fetch(`${base}/api/search`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
}

interface Hit {
  id: string;
  rank: number;
  score: number;
  image: { id: string; caption: string; labels: string[]; category: string; role: string; hexColors: string[]; url: string };
  components: { text?: { rank: number; score: number }; vector?: { rank: number; score: number }; rerank?: { score: number; source: string; features: Record<string, number> } };
}
interface Answer {
  results: Hit[];
  traceId: string;
  explain?: any;
}

async function search(body: unknown): Promise<Answer> {
  const res = await post(body);
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

describe("POST /api/search", () => {
  test("answers ranked images with every branch's rank and score, the trace id, and an explanation", async () => {
    const res = await post({ query: "red car", limit: 5, explain: true });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Answer;
    expect(res.headers.get("traceresponse")).toContain(body.traceId);
    expect(body.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(body.results.length).toBe(5);
    expect(body.results.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5]);
    for (let i = 1; i < body.results.length; i++) expect(body.results[i]!.score).toBeLessThanOrEqual(body.results[i - 1]!.score);
    const top2 = body.results.slice(0, 2).map((r) => r.id).sort();
    expect(top2).toEqual([rows.get("red-car")!.id, rows.get("angle-car")!.id].sort());
    const first = body.results[0]!;
    expect(first.image).toMatchObject({ id: first.id, url: `/api/images/${first.id}/file` });
    expect(first.image.caption).toContain("red");
    expect(first.components.text!.rank).toBeGreaterThanOrEqual(1);
    expect(first.components.text!.score).toBeGreaterThan(0);
    expect(first.components.vector!.score).toBeGreaterThan(0);
    expect(first.components.vector!.score).toBeLessThanOrEqual(1);
    expect(first.components.rerank!.score).toBeGreaterThan(0);
    const e = body.explain;
    expect(e.expandedQuery.terms).toEqual(["red", "car"]);
    expect(e.fusion).toMatchObject({ k: 60, weights: { text: 1, vector: 1 }, overfetch: 3 });
    expect(Object.keys(e.stageMs).sort()).toEqual(["embed", "expand", "fulltext", "fuse", "rerank", "vector"]);
    expect(e.rerank.query).toBe("red car");
  });

  test.each(["dog on a couch", "a red dog on a couch"])("the trace holds one span per stage under the request span, with database CLIENT spans below (%p)", async (query) => {
    const body = await search({ query, limit: 3 });
    const tree = recorder.tree(body.traceId);
    expect(tree.length).toBe(1);
    const root = tree[0]!;
    expect(root.name).toBe("POST /api/search");
    const stages = root.children.map((c) => c.name).filter((n) => n.startsWith("search."));
    expect([...stages].sort()).toEqual([...SEARCH_STAGES].sort());
    // Each branch is one statement that also loads its candidates' records; fusion (colour words
    // included: they read the palettes the branches brought) and rerank need no database.
    for (const [name, statements] of [["search.vector", 1], ["search.fulltext", 1], ["search.fuse", 0], ["search.rerank", 0]] as const) {
      const stage = root.children.find((c) => c.name === name)!;
      const db = stage.children.flatMap(function all(n): typeof stage.children {
        return [n, ...n.children.flatMap(all)];
      }).filter((n) => n.span.kind === SpanKind.CLIENT);
      expect([name, db.length]).toEqual([name, statements]);
      expect(db.every((n) => typeof n.attributes["db.query.text"] === "string")).toBe(true);
    }
    for (const name of SEARCH_STAGES) {
      const span = recorder.spans(body.traceId).find((s) => s.name === name)!;
      expect(typeof span.attributes["process.cpu_user_ms"]).toBe("number");
    }
  });

  test("words that are not in any caption are found through neighbours (couch ~ sofa)", async () => {
    const body = await search({ query: "puppy asleep on a sofa", limit: 3 });
    expect(body.results[0]!.id).toBe(rows.get("puppy")!.id);
  });

  test("filters by category and role inside the candidate fetch", async () => {
    const animals = await search({ query: "red car", limit: 10, filters: { category: "animal" } });
    expect(animals.results.length).toBeGreaterThan(0);
    expect(animals.results.every((r) => r.image.category === "animal")).toBe(true);
    const tone = await search({ query: "orange light", limit: 10, filters: { role: "tone-ref" } });
    expect(tone.results.map((r) => r.id)).toEqual([rows.get("tone-warm")!.id]);
    const corpus = await search({ query: "red car", limit: 10, filters: { role: "corpus" } });
    expect(corpus.results.some((r) => r.id === rows.get("angle-car")!.id)).toBe(false);
  });

  test("filters by colour: every result has a palette colour within the CIEDE2000 threshold", async () => {
    const body = await search({ query: "car", limit: 10, filters: { color: "#c0392b" }, explain: true });
    const target = hexToLab("#c0392b")!;
    expect(body.results.length).toBeGreaterThan(0);
    for (const r of body.results) {
      const nearest = Math.min(...r.image.hexColors.map((h) => ciede2000(target, hexToLab(h)!)));
      expect(nearest).toBeLessThanOrEqual(config.search.colorThreshold);
    }
    const ids = body.results.map((r) => r.id);
    expect(ids).toContain(rows.get("red-car")!.id);
    expect(ids).not.toContain(rows.get("blue-car")!.id);
    expect(body.explain.color.mode).toContain("post-filter");
    expect(body.results[0]!.components.rerank!.features.color).toBeGreaterThan(0);
  });

  test("imageId searches by the image's own vector and leaves the image out", async () => {
    const source = rows.get("red-car")!;
    const body = await search({ imageId: source.id, limit: 5 });
    expect(body.results.map((r) => r.id)).not.toContain(source.id);
    expect(body.results[0]!.image.category).toBe("vehicle");
    const embed = recorder.tree(body.traceId)[0]!.children.find((c) => c.name === "search.embed")!;
    expect(embed.attributes["search.embed.source"]).toBe("stored");
    expect(embed.children.some((c) => c.span.kind === SpanKind.CLIENT)).toBe(true);
    const withQuery = await search({ imageId: source.id, query: "car", limit: 20 });
    expect(withQuery.results.map((r) => r.id)).not.toContain(source.id);
  });

  test("tsquery and SQL syntax in the query is searched as plain words", async () => {
    for (const query of ["car & !red | :* 'truck'", "car' ); drop table images; --", '"car" -red <-> truck:*', "!!!", "'", "&|!"]) {
      const res = await post({ query, limit: 5, explain: true });
      const body = (await res.json()) as Answer & { error?: unknown };
      expect(res.status).toBe(200);
      expect(body.error).toBeUndefined();
      expect(body.explain.fulltextQuery).not.toMatch(/[&|!:*'"()<>-]/);
    }
    const body = await search({ query: "car & !red | :* 'truck'", limit: 5, explain: true });
    expect(body.explain.fulltextQuery.split(" or ")).toEqual(expect.arrayContaining(["car", "red", "truck"]));
    expect(body.results.map((r) => r.id)).toEqual(expect.arrayContaining([rows.get("truck")!.id]));
    const still = await search({ query: "truck", limit: 1 });
    expect(still.results[0]!.id).toBe(rows.get("truck")!.id);
  });

  test("full text ranks rows holding every query word first and only widens to the expansion when they are too few", async () => {
    const narrow = await search({ query: "red car", limit: 1, fusion: { overfetch: 1 }, explain: true });
    const narrowSpan = recorder.spans(narrow.traceId).find((s) => s.name === "search.fulltext")!;
    expect(narrowSpan.attributes["search.fulltext.tiers"]).toBe(1);
    const wide = await search({ query: "sofa", limit: 5, explain: true });
    const wideSpan = recorder.spans(wide.traceId).find((s) => s.name === "search.fulltext")!;
    expect(wideSpan.attributes["search.fulltext.tiers"]).toBe(2);
    expect(wide.explain.expandedQuery.synonyms).toContain("couch");
    const textHits = wide.results.filter((r) => r.components.text).map((r) => r.id);
    expect(textHits).toContain(rows.get("puppy")!.id);
  });

  test("expansion offers only words of the corpus, and learns new ones as images arrive and forgets them when they go", async () => {
    const corpusText = FIXTURE.map((f) => `${f.caption} ${f.labels.join(" ")} ${f.category}`).join(" ");
    const before = await search({ query: "violin", limit: 3, explain: true });
    expect(before.explain.expandedQuery.synonyms.every((w: string) => corpusText.includes(w))).toBe(true);
    expect(before.explain.expandedQuery.synonyms).not.toContain("cello");
    const [added] = (await insertFixture(database, embedder, [
      { key: "cello", caption: "a cello leaning on a chair", labels: ["cello", "music"], category: "still-life", hexColors: ["#7d3c98"] },
    ])).values();
    const after = await search({ query: "violin", limit: 3, explain: true });
    expect(after.explain.expandedQuery.synonyms).toContain("cello");
    expect(after.results[0]!.id).toBe(added!.id);
    expect(after.results[0]!.components.text).toBeDefined();
    expect(await deleteImage(database.db, added!.id)).toBe(true);
    const gone = await search({ query: "violin", limit: 3, explain: true });
    expect(gone.explain.expandedQuery.synonyms).not.toContain("cello");
  });

  test("per-request fusion and rerank settings are used and reported", async () => {
    const body = await search({ query: "city", limit: 3, explain: true, fusion: { k: 10, weights: { text: 2, vector: 0.5 }, overfetch: 2 }, rerank: { weight: 0 } });
    expect(body.explain.fusion).toMatchObject({ k: 10, weights: { text: 2, vector: 0.5 }, overfetch: 2, branchK: 6 });
    expect(body.explain.rerank.weight).toBe(0);
    const rrf = (r: Hit) => (r.components.text ? 2 / (10 + r.components.text.rank) : 0) + (r.components.vector ? 0.5 / (10 + r.components.vector.rank) : 0);
    const best = rrf(body.results[0]!);
    for (const r of body.results) expect(r.score).toBeCloseTo(rrf(r) / best, 9);
    expect(body.results[0]!.score).toBe(1);
  });

  test("GET /api/search?q= answers the same shape", async () => {
    const res = await fetch(`${base}/api/search?q=${encodeURIComponent("snowy mountain")}&limit=2`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Answer;
    expect(body.results.length).toBe(2);
    expect(body.results[0]!.id).toBe(rows.get("mountain")!.id);
    expect(body.traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("bad input is a 4xx JSON error, never a 500 or SQL text", () => {
  const cases: [string, unknown, number][] = [
    ["empty body object", {}, 400],
    ["empty query", { query: "" }, 400],
    ["whitespace query", { query: "   \t " }, 400],
    ["query over 500 characters", { query: "a".repeat(501) }, 400],
    ["limit 0", { query: "car", limit: 0 }, 400],
    ["limit 101", { query: "car", limit: 101 }, 400],
    ["fractional limit", { query: "car", limit: 2.5 }, 400],
    ["string limit", { query: "car", limit: "10" }, 400],
    ["unknown filter", { query: "car", filters: { shape: "round" } }, 400],
    ["unknown field", { query: "car", sort: "date" }, 400],
    ["colour name", { query: "car", filters: { color: "red" } }, 400],
    ["short hex colour", { query: "car", filters: { color: "#f00" } }, 400],
    ["unknown role", { query: "car", filters: { role: "hero" } }, 400],
    ["number query", { query: 42 }, 400],
    ["array query", { query: ["car"] }, 400],
    ["fusion k out of range", { query: "car", fusion: { k: 0 } }, 400],
    ["rerank weight out of range", { query: "car", rerank: { weight: 2 } }, 400],
    ["malformed imageId", { imageId: "not-a-uuid" }, 400],
    ["JSON null", null, 400],
    ["JSON array", [], 400],
  ];
  for (const [name, body, status] of cases) {
    test(name, async () => {
      const res = await post(body);
      expect(res.status).toBe(status);
      const json = (await res.json()) as { error: { code: string; message: string } };
      expect(typeof json.error.code).toBe("string");
      expect(json.error.message).not.toMatch(/select|syntax|postgres|tsquery/i);
    });
  }

  test("unknown imageId is a 404", async () => {
    const res = await post({ imageId: "0190f000-0000-7000-8000-000000000000" });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("image_not_found");
  });

  test("no body and malformed JSON are 400s", async () => {
    const none = await fetch(`${base}/api/search`, { method: "POST", headers: { "content-type": "application/json" } });
    expect(none.status).toBe(400);
    const broken = await post('{"query": "car",');
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: { code: string } }).error.code).toBe("malformed_json");
  });

  test("GET without q or with a bad limit is a 400 that says what is wrong", async () => {
    const message = async (query: string) => {
      const res = await fetch(`${base}/api/search${query}`);
      expect(res.status).toBe(400);
      return ((await res.json()) as { error: { message: string } }).error.message;
    };
    expect(await message("")).toBe("q: is required");
    expect(await message("?q=car&limit=abc")).toBe("limit: must be a number");
    expect(await message("?q=car&limit=1000")).toBe("limit: must be between 1 and 100, got 1000");
    expect(await message("?q=car&limit=2.5")).toBe("limit: must be a whole number");
    expect(await message("?q=%20%20")).toBe("q: must not be empty");
  });

  test("the body's messages name the field and the range or type", async () => {
    const message = async (body: unknown) => ((await (await post(body)).json()) as { error: { message: string } }).error.message;
    expect(await message({ query: "car", limit: 101 })).toBe("limit: must be between 1 and 100, got 101");
    expect(await message({ query: "car", limit: "10" })).toBe("limit: must be a number");
    expect(await message({ query: 42 })).toBe("query: must be a string");
    expect(await message({ query: "car", rerank: { weight: 2 } })).toBe("rerank.weight: must be between 0 and 1, got 2");
    expect(await message({ query: "car", filters: { role: "hero" } })).toBe("filters.role: must be one of corpus, tone-ref, angle-ref");
    expect(await message({ query: "car", sort: "date" })).toBe('unknown field "sort"');
  });

  test("hono/client reads the routes' types from AppType and calls them", async () => {
    const api = hc<AppType>(base);
    const res = await api.api.search.$get({ query: { q: "mountain", limit: "3" } });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.results.length).toBeLessThanOrEqual(3);
    const posted = await api.api.search.$post({ json: { query: "mountain lake", limit: 2 } });
    expect((await posted.json()).results.length).toBeLessThanOrEqual(2);
  });
});
