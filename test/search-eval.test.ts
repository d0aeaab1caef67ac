import { beforeAll, describe, expect, test } from "bun:test";
import {
  BASELINE_PATH,
  CAPTIONS_ONLY_IMAGES,
  CATEGORY_QUERIES,
  COLOR_QUERIES,
  EVAL_QUERIES,
  evaluateAll,
  mrrAt,
  ndcgAt,
  recallAt,
  type EvalReport,
  type Mode,
} from "../bench/search-eval.ts";
import { DEMO_IMAGES } from "../src/ingest/demo/corpus.ts";
import { colorWordsIn } from "../src/search/color-words.ts";

let report: EvalReport;

beforeAll(async () => {
  report = await evaluateAll();
}, 300_000);

const ndcg = (set: keyof EvalReport["sets"], variant: keyof EvalReport["sets"]["demo"], mode: Mode) => report.sets[set][variant].metrics[mode].ndcgAt10;

describe("metrics", () => {
  test("recall@k, MRR@k and nDCG@k on a worked example", () => {
    const relevant = { a: 3, b: 2, c: 1 } as const;
    expect(recallAt(["x", "b", "y", "a"], relevant, 5)).toBe(1);
    expect(recallAt(["x", "b", "y", "z", "w", "a"], relevant, 5)).toBe(0.5);
    expect(mrrAt(["x", "c", "b"], relevant, 10)).toBeCloseTo(1 / 3, 9);
    expect(mrrAt(["x", "y"], relevant, 10)).toBe(0);
    expect(ndcgAt(["a", "b", "c"], relevant, 10)).toBe(1);
    const swapped = (3 + 7 / Math.log2(3) + 1 / Math.log2(4)) / (7 + 3 / Math.log2(3) + 1 / Math.log2(4));
    expect(ndcgAt(["b", "a", "c"], relevant, 10)).toBeCloseTo(swapped, 9);
  });
});

describe("the labelled sets", () => {
  test("the demo set has at least 25 queries, some needing synonyms, all over real demo slugs", () => {
    expect(EVAL_QUERIES.length).toBeGreaterThanOrEqual(25);
    expect(EVAL_QUERIES.filter((q) => q.needsSynonyms).length).toBeGreaterThanOrEqual(8);
    const slugs = new Set(DEMO_IMAGES.map((d) => d.slug));
    for (const q of EVAL_QUERIES) for (const slug of Object.keys(q.relevant)) expect(slugs.has(slug)).toBe(true);
    expect(report.corpus).toBe(DEMO_IMAGES.length);
  });

  test("the category and colour sets are graded over the captions-only corpus, which has no labels or category", () => {
    const slugs = new Set(CAPTIONS_ONLY_IMAGES.map((d) => d.slug));
    expect(CAPTIONS_ONLY_IMAGES.every((d) => d.labels.length === 0 && d.category === "")).toBe(true);
    expect(CATEGORY_QUERIES.length).toBeGreaterThanOrEqual(6);
    expect(COLOR_QUERIES.length).toBeGreaterThanOrEqual(10);
    for (const q of [...CATEGORY_QUERIES, ...COLOR_QUERIES]) {
      for (const [slug, grade] of Object.entries(q.relevant)) {
        expect(slugs.has(slug)).toBe(true);
        expect([1, 2, 3]).toContain(grade);
      }
    }
    // Each colour query names a colour the search recognises, and no relevant caption names it.
    for (const q of COLOR_QUERIES) {
      const colors = colorWordsIn(q.query);
      expect(colors.length).toBeGreaterThan(0);
      for (const slug of Object.keys(q.relevant).filter((s) => q.relevant[s] === 3)) {
        const caption = CAPTIONS_ONLY_IMAGES.find((d) => d.slug === slug)!.caption.toLowerCase();
        for (const c of colors) expect(caption).not.toContain(c.words);
      }
    }
    expect(report.corpora.captions.images).toBe(CAPTIONS_ONLY_IMAGES.length);
  });
});

describe("search quality", () => {
  test("the corpora were stored without hypernyms and the backfill filled every row", () => {
    expect(report.corpora.demo.backfilled).toBe(DEMO_IMAGES.length);
    expect(report.corpora.captions.backfilled).toBe(CAPTIONS_ONLY_IMAGES.length);
  });

  test("fused + rerank is at least as good as the better single branch (nDCG@10, demo set)", () => {
    const best = Math.max(report.metrics.text.ndcgAt10, report.metrics.vector.ndcgAt10);
    expect(report.metrics["fused+rerank"].ndcgAt10).toBeGreaterThanOrEqual(best);
  });

  test("neither new signal, nor both, makes the existing 40 queries worse (fused and fused + rerank, nDCG@10)", () => {
    const worse: string[] = [];
    for (const variant of ["hypernyms", "colors", "both"] as const) {
      for (const mode of ["fused", "fused+rerank"] as const) {
        if (ndcg("demo", variant, mode) < ndcg("demo", "without", mode)) worse.push(`${variant} ${mode}: ${ndcg("demo", variant, mode)} < ${ndcg("demo", "without", mode)}`);
      }
    }
    expect(worse).toEqual([]);
  });

  test("hypernyms find kinds of things from captions alone (category set)", () => {
    expect(ndcg("category", "hypernyms", "text")).toBeGreaterThan(ndcg("category", "without", "text") + 0.3);
    expect(ndcg("category", "hypernyms", "fused")).toBeGreaterThan(ndcg("category", "without", "fused") + 0.1);
    expect(ndcg("category", "hypernyms", "fused+rerank")).toBeGreaterThan(ndcg("category", "without", "fused+rerank") + 0.1);
    expect(ndcg("category", "both", "fused+rerank")).toBeGreaterThanOrEqual(0.8);
  });

  test("colour words find images whose palette holds the colour (colour set)", () => {
    expect(ndcg("color", "colors", "fused")).toBeGreaterThan(ndcg("color", "without", "fused") + 0.1);
    expect(ndcg("color", "colors", "fused+rerank")).toBeGreaterThan(ndcg("color", "without", "fused+rerank") + 0.05);
    expect(ndcg("color", "both", "fused")).toBeGreaterThan(ndcg("color", "colors", "fused"));
    // The reranker reads a colour word as covered by the palette, so it does not undo the signal.
    for (const variant of ["colors", "both"] as const) expect(ndcg("color", variant, "fused+rerank")).toBeGreaterThanOrEqual(ndcg("color", variant, "fused"));
  });

  test("no metric fell more than 0.05 below the committed baseline", async () => {
    const baseline = (await Bun.file(BASELINE_PATH).json()) as Pick<EvalReport, "metrics" | "queries"> & { ndcgAt10BySet: Record<string, Record<string, Record<string, number>>> };
    expect(report.queries).toBe(baseline.queries);
    const regressions: string[] = [];
    for (const [mode, metrics] of Object.entries(baseline.metrics)) {
      for (const [name, value] of Object.entries(metrics)) {
        const now = report.metrics[mode as Mode][name as keyof typeof metrics];
        if (now < value - 0.05) regressions.push(`demo ${mode} ${name}: ${now} < baseline ${value}`);
      }
    }
    for (const [set, variants] of Object.entries(baseline.ndcgAt10BySet)) {
      for (const [variant, modes] of Object.entries(variants)) {
        for (const [mode, value] of Object.entries(modes)) {
          const now = ndcg(set as keyof EvalReport["sets"], variant as keyof EvalReport["sets"]["demo"], mode as Mode);
          if (now < value - 0.05) regressions.push(`${set} ${variant} ${mode} nDCG@10: ${now} < baseline ${value}`);
        }
      }
    }
    expect(regressions).toEqual([]);
  });
});
