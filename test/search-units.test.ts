import { describe, expect, test } from "bun:test";
import { ciede2000, colorMatcher, hexToLab, isHexColor } from "../src/search/color.ts";
import { normalizeQuery } from "../src/search/expand.ts";
import { fulltextInput } from "../src/search/fulltext.ts";
import { reciprocalRankFusion } from "../src/search/fuse.ts";
import { offlineScore, rerankStage } from "../src/search/rerank.ts";
import { createWordVectors } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import type { ImageRow } from "../src/db/schema.ts";
import { noopTelemetry } from "../src/telemetry/index.ts";

describe("weighted reciprocal rank fusion", () => {
  const text = { name: "text", weight: 1, hits: [{ id: "a", score: 0.9 }, { id: "b", score: 0.5 }] };
  const vector = { name: "vector", weight: 1, hits: [{ id: "b", score: 0.9 }, { id: "c", score: 0.7 }] };

  test("sums w / (k + rank) over the lists that ranked each image and keeps each list's rank and raw score", () => {
    const fused = reciprocalRankFusion([text, vector], 60);
    expect(fused.map((f) => f.id)).toEqual(["b", "a", "c"]);
    expect(fused[0]!.fused).toBeCloseTo(1 / 62 + 1 / 61, 12);
    expect(fused[0]!.components).toEqual({ text: { rank: 2, score: 0.5 }, vector: { rank: 1, score: 0.9 } });
    expect(fused[2]!.components).toEqual({ vector: { rank: 2, score: 0.7 } });
  });

  test("list weights and k change the order", () => {
    const textHeavy = reciprocalRankFusion([{ ...text, weight: 4 }, vector], 1);
    expect(textHeavy.map((f) => f.id)).toEqual(["a", "b", "c"]);
    const vectorOnly = reciprocalRankFusion([{ ...text, weight: 0 }, vector], 60);
    expect(vectorOnly[0]!.id).toBe("b");
    expect(vectorOnly.find((f) => f.id === "a")!.fused).toBe(0);
  });

  test("an extra signal is fused like a branch, under its own name and weight", () => {
    const warm = { name: "warmth", weight: 2, hits: [{ id: "c", score: 0.99 }] };
    const fused = reciprocalRankFusion([text, vector, warm], 60);
    expect(fused[0]!.id).toBe("c");
    expect(fused[0]!.components.warmth).toEqual({ rank: 1, score: 0.99 });
    expect(fused[0]!.fused).toBeCloseTo(1 / 62 + 2 / 61, 12);
  });

  test("ties are broken by the better single rank, then by the scores relative to each list's best, then by the id", () => {
    const fused = reciprocalRankFusion([{ name: "text", weight: 1, hits: [{ id: "z", score: 1 }] }, { name: "vector", weight: 1, hits: [{ id: "y", score: 1 }] }], 60);
    expect(fused.map((f) => f.id)).toEqual(["y", "z"]);
    // Two lists that disagree symmetrically: equal sums and best ranks; the scores decide, whatever the ids.
    const disagree = (a: [number, number], b: [number, number]) =>
      reciprocalRankFusion(
        [
          { name: "text", weight: 1, hits: [{ id: "y", score: a[0] }, { id: "z", score: a[1] }] },
          { name: "vector", weight: 1, hits: [{ id: "z", score: b[0] }, { id: "y", score: b[1] }] },
        ],
        60,
      ).map((f) => f.id);
    expect(disagree([1.1, 0.7], [0.77, 0.76])).toEqual(["y", "z"]); // y: 1 + 0.99; z: 0.64 + 1
    expect(disagree([1.0, 0.95], [0.9, 0.5])).toEqual(["z", "y"]); // y: 1 + 0.56; z: 0.95 + 1
    // Better single rank first: w holds rank 1 in the third list; x ranks 2, 2 and 2.
    const ranks = reciprocalRankFusion(
      [
        { name: "a", weight: 1, hits: [{ id: "o", score: 1 }, { id: "x", score: 1 }, { id: "w", score: 1 }] },
        { name: "b", weight: 1, hits: [{ id: "o", score: 1 }, { id: "x", score: 1 }, { id: "w", score: 1 }] },
        { name: "c", weight: 1, hits: [{ id: "w", score: 1 }, { id: "x", score: 1 }] },
      ],
      1,
    );
    expect(ranks.map((f) => f.id)).toEqual(["w", "o", "x"]); // w: 1/4 + 1/4 + 1/2 = 1; o: 1; x: 1
  });
});

describe("rerank", () => {
  test("equal final scores keep the fused order (fusion's tie-break), not the ids' order", async () => {
    const wordVectors = createWordVectors();
    await wordVectors.ready();
    const image = (id: string) => ({ id, caption: "a boat", labels: [], category: null, hexColors: [] }) as unknown as ImageRow;
    const candidates = ["f", "e", "d"].map((id) => ({ id, fused: 0.5, components: {}, image: image(id) }));
    const { ranked } = await rerankStage({ wordVectors, telemetry: noopTelemetry(), config: loadConfig({ LOG_LEVEL: "silent" }) }, { original: "boat", candidates, weight: 0.5, topN: 30 });
    expect(ranked.map((c) => c.id)).toEqual(["f", "e", "d"]);
  });
});

describe("offline rerank score", () => {
  test("is an arithmetic mean: one weak feature does not bury a good partial match", () => {
    const partial = offlineScore({ coverage: 1, labels: 0, phrase: 0, category: 0 });
    expect(partial).toBeCloseTo(0.45 / 0.9, 12);
    expect(offlineScore({ coverage: 1, labels: 1, phrase: 1, category: 1 })).toBeCloseTo(1, 12);
    expect(offlineScore({ coverage: 0, labels: 0, phrase: 0, category: 0 })).toBe(0);
    expect(offlineScore({ coverage: 1, labels: 1, phrase: 1, category: 1, color: 0 })).toBeCloseTo(0.9, 12);
  });
});

describe("colour", () => {
  test("CIEDE2000 matches the Sharma, Wu & Dalal reference pairs", () => {
    const pairs: [number[], number[], number][] = [
      [[50, 2.6772, -79.7751], [50, 0, -82.7485], 2.0425],
      [[50, 2.5, 0], [73, 25, -18], 27.1492],
      [[50, -0.001, 2.49], [50, 0.0009, -2.49], 4.8045],
      [[60.2574, -34.0099, 36.2677], [60.4626, -34.1751, 39.4387], 1.2644],
      [[22.7233, 20.0904, -46.694], [23.0331, 14.973, -42.5619], 2.0373],
    ];
    for (const [a, b, want] of pairs) expect(ciede2000(a as [number, number, number], b as [number, number, number])).toBeCloseTo(want, 4);
  });

  test("the filter keeps palettes with a colour within the threshold", () => {
    const keep = colorMatcher("#c0392b", 10);
    expect(keep(["#112233", "#c13a2c"])).toBe(true);
    expect(keep(["#2e86c1", "#f1c40f"])).toBe(false);
    expect(keep([])).toBe(false);
    expect(isHexColor("#A0b1C2")).toBe(true);
    expect(isHexColor("#abc")).toBe(false);
    expect(isHexColor("red")).toBe(false);
    expect(hexToLab("#ffffff")![0]).toBeCloseTo(100, 3);
  });
});

describe("query text", () => {
  test("normalisation folds Unicode width and case and turns punctuation into spaces", () => {
    expect(normalizeQuery("  Ｒed-CAR & 'Sky' ")).toBe("red car sky");
    expect(normalizeQuery("ﬁsh café")).toBe("fish café");
  });

  test("the full-text input is plain words OR'ed, operators and syntax removed", () => {
    expect(fulltextInput(["red & car", "car", "!truck:*", "'x' | -y", "or", "\"phrase\""])).toBe("red or car or truck or x or y or phrase");
    expect(fulltextInput(["&|!", ":*"])).toBe("");
  });
});
