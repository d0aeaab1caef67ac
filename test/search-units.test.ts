import { describe, expect, test } from "bun:test";
import { ciede2000, colorMatcher, hexToLab, isHexColor } from "../src/search/color.ts";
import { normalizeQuery } from "../src/search/expand.ts";
import { fulltextInput } from "../src/search/fulltext.ts";
import { reciprocalRankFusion } from "../src/search/fuse.ts";
import { offlineScore } from "../src/search/rerank.ts";

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

  test("ties are broken by the better single rank, then the id", () => {
    const fused = reciprocalRankFusion([{ name: "text", weight: 1, hits: [{ id: "z", score: 1 }] }, { name: "vector", weight: 1, hits: [{ id: "y", score: 1 }] }], 60);
    expect(fused.map((f) => f.id)).toEqual(["y", "z"]);
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
