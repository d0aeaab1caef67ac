import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createOfflineEmbedder, createWordVectors } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import type { ImageRow } from "../src/db/schema.ts";
import { createApp } from "../src/http/app.ts";
import { BASIC_COLOR_TERMS, COLOR_NAMES, colorName } from "../src/ingest/color-names.ts";
import { silentLogger } from "../src/log.ts";
import { ciede2000, hexToLab } from "../src/search/color.ts";
import { colorMatch, colorWordsIn, filterColor, paletteMatch } from "../src/search/color-words.ts";
import { reciprocalRankFusion } from "../src/search/fuse.ts";
import { createSearchDeps, searchImages, type SearchDeps } from "../src/search/pipeline.ts";
import { createTestTelemetry, SPAN } from "../src/telemetry/index.ts";
import { insertFixture, type FixtureImage } from "./search-fixture.ts";

describe("colour words in a query", () => {
  test("are found in order, once each, with spellings and shades", () => {
    expect(colorWordsIn("Yellow flowers by a light-blue door").map((c) => c.name)).toEqual(["yellow", "light blue"]);
    expect(colorWordsIn("a light-blue door")[0]!.anchors.map((a) => a.keyword)).toEqual(["lightblue"]);
    expect(colorWordsIn("grey cat, gray dog").map((c) => [c.words, c.name])).toEqual([["grey", "gray"]]);
    expect(colorWordsIn("a pale teal wall")[0]!.name).toBe("teal");
    expect(colorWordsIn("deep pink").map((c) => c.name)).toEqual(["pink"]); // CSS has no darkpink
    expect(colorWordsIn("a red, red door").length).toBe(1);
  });

  test("are whole words: plurals, other words and empty queries name no colour", () => {
    expect(colorWordsIn("lemons and oranges")).toEqual([]);
    expect(colorWordsIn("redwood forest, bluebells")).toEqual([]);
    expect(colorWordsIn("")).toEqual([]);
    expect(colorWordsIn("!!! ???")).toEqual([]);
  });

  test("the fixed list: every word anchored at valid CSS colours; the basic terms among them", () => {
    for (const [word, color] of COLOR_NAMES) {
      expect(color.anchors.length).toBeGreaterThan(0);
      for (const a of color.anchors) {
        expect(a.hex).toMatch(/^#[0-9a-f]{6}$/);
        expect(a.lab).toEqual(hexToLab(a.hex)!);
      }
      expect(colorName(word)).toBe(color);
    }
    for (const term of BASIC_COLOR_TERMS) expect(COLOR_NAMES.has(term)).toBe(true);
    expect(COLOR_NAMES.get("red")!.anchors[0]).toMatchObject({ keyword: "red", hex: "#ff0000" });
    expect(colorName("blue", "dark")!.anchors.map((a) => a.hex)).toEqual(["#00008b"]);
  });

  test("a palette is scored by the filter's CIEDE2000 distance to the nearest anchor, 0 at the threshold", () => {
    const [yellow] = colorWordsIn("yellow");
    const palette = ["#386641", "#ffd60a"];
    const nearest = Math.min(...yellow!.anchors.flatMap((a) => palette.map((p) => ciede2000(a.lab, hexToLab(p)!))));
    const match = paletteMatch([yellow!], palette, 20);
    expect(match.score).toBeCloseTo(1 - nearest / 20, 9);
    expect(match.distances.yellow).toBeCloseTo(nearest, 2);
    expect(paletteMatch([yellow!], ["#0000ff", "#000000"], 20).score).toBe(0);
    expect(paletteMatch([yellow!], [], 20)).toEqual({ score: 0, distances: { yellow: Infinity }, closeness: { yellow: 0 } });
    expect(match.closeness.yellow).toBeCloseTo(1 - nearest / 20, 9);
    // Two colours: the mean of their closeness, so a palette holding both beats one holding one.
    const both = colorWordsIn("blue and yellow");
    expect(paletteMatch(both, ["#0000ff", "#ffff00"], 20).score).toBe(1);
    expect(paletteMatch(both, ["#ffff00"], 20).score).toBeCloseTo(0.5, 9);
    expect(paletteMatch([filterColor("#c0392b")], ["#c0392b"], 20).score).toBe(1);
    expect(() => filterColor("red")).toThrow(RangeError);
  });
});

describe("the colour words as a fusion signal", () => {
  const image = (id: string, hexColors: string[]) => ({ id, hexColors }) as ImageRow;
  const images = [image("a", ["#000000"]), image("b", ["#ffff00"]), image("c", ["#fefe00"]), image("d", ["#0000ff"])];

  test("ranks the candidates whose palette holds the colour, best first, fused with its own weight; the others get nothing from it", () => {
    const signal = colorMatch(colorWordsIn("yellow"), 20).signal(1);
    expect(signal).toMatchObject({ name: "color", weight: 1 });
    const ranked = signal.rank(images);
    expect(ranked.map((h) => h.id)).toEqual(["b", "c"]);
    expect(ranked[0]!.score).toBe(1);
    expect(ranked[1]!.score).toBeLessThan(1);
    const text = { name: "text", weight: 1, hits: images.map((i) => ({ id: i.id, score: 0.1 })) };
    // a: 1/61; b: 1/62 + 1/61; c: 1/63 + 1/62; d: 1/64.
    const out = reciprocalRankFusion([text, { name: signal.name, weight: signal.weight, hits: ranked }], 60);
    expect(out.map((c) => c.id)).toEqual(["b", "c", "a", "d"]);
    expect(out[0]!.components.color).toEqual({ rank: 1, score: 1 });
    expect(out[0]!.fused).toBeCloseTo(1 / 62 + 1 / 61, 12);
    expect(out[1]!.components.color!.rank).toBe(2);
    expect(out[2]).toEqual({ id: "a", fused: 1 / 61, components: { text: { rank: 1, score: 0.1 } } });
    expect(reciprocalRankFusion([text, { name: "color", weight: 0, hits: ranked }], 60).map((c) => c.id)).toEqual(["a", "b", "c", "d"]);
  });

  test("scores each palette once per request, and tells the reranker how close a palette is to the colour each query word names", () => {
    const match = colorMatch(colorWordsIn("a light-blue and yellow door"), 20);
    const lightBlue = ["#add8e6"];
    expect(match.score(lightBlue)).toBeCloseTo(0.5, 9);
    expect(match.score(lightBlue)).toBe(match.score(lightBlue));
    expect(match.words.get("light")!(lightBlue)).toBe(1);
    expect(match.words.get("blue")!(lightBlue)).toBe(1);
    expect(match.words.get("yellow")!(lightBlue)).toBe(0);
    expect(match.words.get("yellow")!(["#ffff00"])).toBe(1);
    expect(match.words.has("door")).toBe(false);
    expect(colorMatch([filterColor("#c0392b")], 20).score(["#c0392b"])).toBe(1);
  });
});

// Cars whose captions never name their colour, and one car that has no palette at all.
const CARS: FixtureImage[] = [
  { key: "hatchback", caption: "a hatchback car parked by the kerb", labels: [], category: "", hexColors: ["#ffd000", "#212529"] },
  { key: "sedan", caption: "a sedan car on a driveway", labels: [], category: "", hexColors: ["#1d4ed8", "#adb5bd"] },
  { key: "coupe", caption: "a coupe car in a garage", labels: [], category: "", hexColors: ["#c1121f", "#6c757d"] },
  { key: "estate", caption: "an estate car at a petrol station", labels: [], category: "", hexColors: [] },
];

describe("colour words in a search, over HTTP", () => {
  const { telemetry, recorder } = createTestTelemetry();
  const config = loadConfig({ LOG_LEVEL: "silent" });
  const wordVectors = createWordVectors();
  const embedder = createOfflineEmbedder(wordVectors);
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let rows: Map<string, ImageRow>;
  let server: ReturnType<typeof Bun.serve>;
  let deps: SearchDeps;

  beforeAll(async () => {
    database = await createTestDatabase(telemetry);
    rows = await insertFixture(database, embedder, CARS);
    deps = createSearchDeps({ db: database, embedder, wordVectors, telemetry, config });
    server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: createApp({ config, telemetry, log: silentLogger, search: deps }).fetch });
  }, 60_000);
  afterAll(async () => {
    await server?.stop(true);
    await database?.close();
  });

  const search = async (body: object) => {
    const response = await fetch(`http://127.0.0.1:${server.port}/api/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(response.status).toBe(200);
    return (await response.json()) as { results: { id: string; components: Record<string, { rank: number; score: number } | undefined> }[]; explain?: Record<string, any>; traceId: string };
  };
  const keyOf = (id: string) => [...rows].find(([, r]) => r.id === id)![0];

  test("boost the image whose palette holds the colour, explain says how, and every car is still answered", async () => {
    for (const [query, expected] of [["red car", "coupe"], ["yellow car", "hatchback"], ["blue car", "sedan"]] as const) {
      const body = await search({ query, limit: 10, explain: true });
      expect(keyOf(body.results[0]!.id)).toBe(expected);
      expect(body.results[0]!.components.color).toEqual({ rank: 1, score: expect.any(Number) });
      expect(body.results.map((r) => keyOf(r.id)).sort()).toEqual(["coupe", "estate", "hatchback", "sedan"]);
      // Boosted: within ΔE00 20 of an anchor (a grey with a hint of blue is, a little, for "blue").
      const boosted = body.results.filter((r) => r.components.color);
      expect(boosted.length).toBe(query === "blue car" ? 2 : 1);
      const colour = query.split(" ")[0]!;
      expect(body.explain!.colorWords).toMatchObject({ colors: [{ words: colour, name: colour }], weight: 1, threshold: 20, boosted: boosted.length });
      expect(body.explain!.colorWords.colors[0].anchors[0]).toMatch(/^[a-z]+ #[0-9a-f]{6}$/);
      const fuse = recorder.spans(body.traceId).find((s) => s.name === SPAN.searchFuse)!;
      expect(fuse.attributes).toMatchObject({ "search.weight.color": 1, "search.color.boosted": boosted.length });
    }
  });

  test("a query without colour words has no colour signal; SEARCH_COLOR_WORD_WEIGHT=0 turns it off", async () => {
    const plain = await search({ query: "car in a garage", limit: 10, explain: true });
    expect(plain.explain!.colorWords).toBeUndefined();
    expect(plain.results.every((r) => r.components.color === undefined)).toBe(true);
    const off = await searchImages({ ...deps, config: loadConfig({ LOG_LEVEL: "silent", SEARCH_COLOR_WORD_WEIGHT: "0" }) }, { query: "yellow car", limit: 10 });
    expect(off.results.every((r) => r.components.color === undefined)).toBe(true);
    expect(off.explain.colorWords).toMatchObject({ weight: 0, boosted: 0 });
    expect(() => loadConfig({ SEARCH_COLOR_WORD_WEIGHT: "-1" })).toThrow(/SEARCH_COLOR_WORD_WEIGHT/);
  });

  test("the reranker scores colour words against the palette too (fused + rerank keeps the coloured car first)", async () => {
    const body = await search({ query: "yellow car", limit: 10, explain: true, rerank: { weight: 1 } });
    expect(keyOf(body.results[0]!.id)).toBe("hatchback");
    const features = (id: string) => (body.results.find((r) => r.id === id)!.components.rerank as unknown as { features: { color?: number; coverage: number } }).features;
    expect(features(body.results[0]!.id).color).toBeGreaterThan(0.5);
    // "yellow" is in no caption: the palette covers it as far as it holds yellow, as the caption covers "car".
    const yellowness = paletteMatch(colorWordsIn("yellow"), CARS[0]!.hexColors, 20).closeness.yellow!;
    expect(yellowness).toBeGreaterThan(0.8);
    expect(features(rows.get("hatchback")!.id).coverage).toBeCloseTo((1 + yellowness) / 2, 9);
    expect(features(rows.get("coupe")!.id).coverage).toBeCloseTo(0.5, 9);
    // With a colour filter the feature scores the filter's colour, and the colour word is still covered by the palette.
    const filtered = await search({ query: "yellow car", limit: 10, explain: true, rerank: { weight: 1 }, filters: { color: "#ffd000" } });
    expect(filtered.results.map((r) => keyOf(r.id))).toEqual(["hatchback"]);
    const filteredFeatures = (filtered.results[0]!.components.rerank as unknown as { features: { color: number; coverage: number } }).features;
    expect(filteredFeatures.color).toBe(1);
    expect(filteredFeatures.coverage).toBeCloseTo((1 + yellowness) / 2, 9);
  });
});
