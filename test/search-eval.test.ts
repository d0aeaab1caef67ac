import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BASELINE_PATH, buildEvalIndex, EVAL_QUERIES, evaluate, mrrAt, ndcgAt, recallAt, type EvalIndex, type EvalReport } from "../bench/search-eval.ts";
import { DEMO_IMAGES } from "../src/ingest/demo/corpus.ts";

let index: EvalIndex;
let report: EvalReport;

beforeAll(async () => {
  index = await buildEvalIndex();
  report = await evaluate(index);
}, 120_000);
afterAll(() => index?.close());

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

describe("search quality on the demo corpus", () => {
  test("the labelled set has at least 25 queries, some needing synonyms, all over real demo slugs", () => {
    expect(EVAL_QUERIES.length).toBeGreaterThanOrEqual(25);
    expect(EVAL_QUERIES.filter((q) => q.needsSynonyms).length).toBeGreaterThanOrEqual(8);
    const slugs = new Set(DEMO_IMAGES.map((d) => d.slug));
    for (const q of EVAL_QUERIES) for (const slug of Object.keys(q.relevant)) expect(slugs.has(slug)).toBe(true);
    expect(report.corpus).toBe(DEMO_IMAGES.length);
  });

  test("fused + rerank is at least as good as the better single branch (nDCG@10)", () => {
    const best = Math.max(report.metrics.text.ndcgAt10, report.metrics.vector.ndcgAt10);
    expect(report.metrics["fused+rerank"].ndcgAt10).toBeGreaterThanOrEqual(best);
  });

  test("no metric of any mode fell more than 0.05 below the committed baseline", async () => {
    const baseline = (await Bun.file(BASELINE_PATH).json()) as Pick<EvalReport, "metrics" | "queries">;
    expect(report.queries).toBe(baseline.queries);
    const regressions: string[] = [];
    for (const [mode, metrics] of Object.entries(baseline.metrics)) {
      for (const [name, value] of Object.entries(metrics)) {
        const now = report.metrics[mode as keyof typeof report.metrics][name as keyof (typeof metrics)];
        if (now < value - 0.05) regressions.push(`${mode} ${name}: ${now} < baseline ${value}`);
      }
    }
    expect(regressions).toEqual([]);
  });
});
