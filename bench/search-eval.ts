/**
 * Search quality evaluation over the demo corpus: labelled queries with graded relevance (0–3),
 * each searched four ways — text only, vector only, fused, fused + rerank — and scored with
 * recall@5, MRR@10 and nDCG@10. The corpus goes through the real ingest pipeline (render →
 * decode → palette → labels → offline embedding → store) into an in-memory PGlite.
 *
 *   bun run bench/search-eval.ts                   # print the figures
 *   bun run bench/search-eval.ts --write-baseline  # also write bench/search-baseline.json
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOfflineEmbedder, createWordVectors } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { DEMO_IMAGES } from "../src/ingest/demo/corpus.ts";
import { renderScene } from "../src/ingest/demo/render.ts";
import { ingestImage } from "../src/ingest/pipeline.ts";
import { silentLogger } from "../src/log.ts";
import { createSearchDeps, searchImages, type SearchDeps, type SearchHit } from "../src/search/pipeline.ts";
import { createLocalBlobStore } from "../src/storage/local.ts";
import { noopTelemetry } from "../src/telemetry/index.ts";

/** Images rendered and ingested at once (sharp works on its own threads). */
const INGEST_CONCURRENCY = 4;

/** One labelled query: demo slugs and how relevant each is (3 exact, 2 good, 1 partial; unlisted 0). */
export interface EvalQuery {
  query: string;
  relevant: Record<string, 1 | 2 | 3>;
  /** True when the best answers use other words than the query (synonyms, related words). */
  needsSynonyms?: boolean;
}

export const EVAL_QUERIES: EvalQuery[] = [
  { query: "sea at sunrise", needsSynonyms: true, relevant: { "ocean-dawn-sailboat": 3, "sailboat-harbour": 2, "coast-midday-turquoise": 1, "ocean-sunset-orange": 1 } },
  { query: "car", needsSynonyms: true, relevant: { "red-sports-automobile": 3, "vintage-blue-car": 3, "city-bicycle-yellow": 1 } },
  { query: "automobile", relevant: { "red-sports-automobile": 3, "vintage-blue-car": 3 } },
  { query: "cat", needsSynonyms: true, relevant: { "ginger-kitten": 3, "black-cat-moon": 3 } },
  { query: "cat at night", relevant: { "black-cat-moon": 3, "ginger-kitten": 1 } },
  { query: "sofa", relevant: { "scandinavian-living-room": 3, "cozy-reading-corner": 3 } },
  { query: "couch in a bright room", relevant: { "scandinavian-living-room": 3, "cozy-reading-corner": 2, "teal-bedroom": 1 } },
  { query: "snow capped mountains", relevant: { "snowy-peaks-lake": 3, "purple-mountain-dusk": 2 } },
  { query: "trees in fall", relevant: { "autumn-woods": 3, "pine-forest-morning": 2 } },
  { query: "sunset", relevant: { "ocean-sunset-orange": 3, "suspension-bridge-sunset": 3 } },
  { query: "bridge in the mist", relevant: { "steel-bridge-fog": 3, "suspension-bridge-sunset": 1 } },
  { query: "cityscape", needsSynonyms: true, relevant: { "city-skyline-day": 3, "city-night-lights": 3, "neon-street-night": 1 } },
  { query: "city lights at night", relevant: { "city-night-lights": 3, "neon-street-night": 3, "city-skyline-day": 1 } },
  { query: "noodles with tomato sauce", needsSynonyms: true, relevant: { "pasta-tomato-basil": 3 } },
  { query: "italian dinner", relevant: { "pasta-tomato-basil": 3 } },
  { query: "healthy salad", relevant: { "green-salad-bowl": 3 } },
  { query: "morning meal", relevant: { "breakfast-eggs-toast": 3, "latte-art-cup": 1 } },
  { query: "espresso", needsSynonyms: true, relevant: { "latte-art-cup": 3, "matcha-green-tea": 1 } },
  { query: "hot beverage in a cup", needsSynonyms: true, relevant: { "latte-art-cup": 3, "matcha-green-tea": 3 } },
  { query: "japanese food", relevant: { "sushi-platter": 3, "matcha-green-tea": 2 } },
  { query: "fruit", relevant: { "fruit-bowl-citrus": 3, "berries-bowl": 3 } },
  { query: "strawberry dessert", relevant: { "berries-bowl": 3 } },
  { query: "headshot of a woman", relevant: { "portrait-warm-studio": 3, "portrait-pink-pastel": 2 } },
  { query: "old man", relevant: { "portrait-elderly-grey": 3, "portrait-cool-blue": 1 } },
  { query: "little boy or girl outdoors", needsSynonyms: true, relevant: { "portrait-child-garden": 3 } },
  { query: "sneakers", needsSynonyms: true, relevant: { "red-running-shoe": 3 } },
  { query: "fragrance", relevant: { "perfume-bottle-gold": 3 } },
  { query: "watch", relevant: { "wristwatch-silver": 3 } },
  { query: "earphones", needsSynonyms: true, relevant: { "black-headphones": 3, "white-headphones-mint": 3 } },
  { query: "bike", relevant: { "city-bicycle-yellow": 3 } },
  { query: "boat", relevant: { "sailboat-harbour": 3, "ocean-dawn-sailboat": 3, "coast-midday-turquoise": 2 } },
  { query: "colorful bird", needsSynonyms: true, relevant: { "blue-parrot": 3, "robin-on-branch": 2 } },
  { query: "fish underwater", relevant: { "goldfish-aquarium": 3, "tropical-reef-fish": 3 } },
  { query: "geometric shapes", relevant: { "abstract-circles-primary": 3, "abstract-squares-pastel": 3, "abstract-stripes-retro": 1 } },
  { query: "sand dunes", relevant: { "desert-dunes-noon": 3 } },
  { query: "flowers in a field", relevant: { "wildflower-meadow": 3, "lavender-field-evening": 3 } },
  { query: "seaside", needsSynonyms: true, relevant: { "coast-midday-turquoise": 3, "ocean-dawn-sailboat": 2, "ocean-sunset-orange": 2 } },
  { query: "lemons and oranges", relevant: { "fruit-bowl-citrus": 3 } },
  { query: "bedroom", relevant: { "teal-bedroom": 3 } },
  { query: "puppy", needsSynonyms: true, relevant: { "ginger-kitten": 1 } },
];

/** The four ways a query is searched. */
export const MODES = ["text", "vector", "fused", "fused+rerank"] as const;
export type Mode = (typeof MODES)[number];

export interface Metrics {
  recallAt5: number;
  mrrAt10: number;
  ndcgAt10: number;
}

/** recall@k: share of the relevant (grade ≥ 2) images in the top k (of at most k). */
export function recallAt(ranked: readonly string[], relevant: Record<string, number>, k: number): number {
  const wanted = Object.entries(relevant).filter(([, g]) => g >= 2).map(([s]) => s);
  if (wanted.length === 0) return 1;
  const hits = ranked.slice(0, k).filter((s) => wanted.includes(s)).length;
  return hits / Math.min(k, wanted.length);
}

/** Reciprocal rank of the first relevant (grade ≥ 2) image within the top k; 0 if none. */
export function mrrAt(ranked: readonly string[], relevant: Record<string, number>, k: number): number {
  const i = ranked.slice(0, k).findIndex((s) => (relevant[s] ?? 0) >= 2);
  return i < 0 ? 0 : 1 / (i + 1);
}

/** nDCG@k with gain 2^grade − 1 and log2 discount. */
export function ndcgAt(ranked: readonly string[], relevant: Record<string, number>, k: number): number {
  const dcg = (grades: number[]) => grades.slice(0, k).reduce((sum, g, i) => sum + (2 ** g - 1) / Math.log2(i + 2), 0);
  const ideal = dcg(Object.values(relevant).sort((a, b) => b - a));
  return ideal === 0 ? 1 : dcg(ranked.map((s) => relevant[s] ?? 0)) / ideal;
}

/** An indexed demo corpus and the search deps over it. */
export interface EvalIndex {
  deps: SearchDeps;
  slugById: Map<string, string>;
  ingestMs: number;
  close(): Promise<void>;
}

/**
 * Ingests the demo corpus through the real pipeline (offline providers) into an in-memory PGlite.
 *
 * @example
 * const index = await buildEvalIndex();
 */
export async function buildEvalIndex(): Promise<EvalIndex> {
  const started = performance.now();
  const telemetry = noopTelemetry();
  const config = loadConfig({ LOG_LEVEL: "silent" });
  const database = await createTestDatabase(telemetry);
  const dir = await mkdtemp(join(tmpdir(), "search-eval-"));
  const storage = await createLocalBlobStore(dir);
  const wordVectors = createWordVectors();
  const embedder = createOfflineEmbedder(wordVectors);
  const slugById = new Map<string, string>();
  const ingestDeps = { db: database.db, storage, embedder, telemetry, config, log: silentLogger };
  const queue = [...DEMO_IMAGES];
  const worker = async () => {
    for (let entry = queue.shift(); entry; entry = queue.shift()) {
      const bytes = await renderScene(entry.scene, entry.slug);
      const { image } = await ingestImage(ingestDeps, {
        bytes,
        caption: entry.caption,
        labels: entry.labels,
        category: entry.category,
        role: entry.role,
        originalName: `${entry.slug}.jpg`,
      });
      slugById.set(image.id, entry.slug);
    }
  };
  await Promise.all(Array.from({ length: INGEST_CONCURRENCY }, worker));
  return {
    deps: createSearchDeps({ db: database, embedder, wordVectors, telemetry, config }),
    slugById,
    ingestMs: Math.round(performance.now() - started),
    async close() {
      await database.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function settingsFor(mode: Mode) {
  switch (mode) {
    case "text":
      return { fusion: { weights: { text: 1, vector: 0 } }, rerank: { weight: 0 }, keep: (h: SearchHit) => h.components.text !== undefined };
    case "vector":
      return { fusion: { weights: { text: 0, vector: 1 } }, rerank: { weight: 0 }, keep: (h: SearchHit) => h.components.vector !== undefined };
    case "fused":
      return { fusion: {}, rerank: { weight: 0 }, keep: () => true };
    case "fused+rerank":
      return { fusion: {}, rerank: {}, keep: () => true };
  }
}

export interface EvalReport {
  queries: number;
  corpus: number;
  settings: { rrfK: number; overfetch: number; rerankWeight: number; rerankTopN: number; efSearch: number; embedder: string };
  metrics: Record<Mode, Metrics>;
  /** Per query, nDCG@10 of each mode (to see which queries a change helps or hurts). */
  perQuery: { query: string; ndcg: Record<Mode, number> }[];
}

/**
 * Runs every labelled query in every mode and averages the metrics.
 *
 * @example
 * const report = await evaluate(index);
 * report.metrics["fused+rerank"].ndcgAt10;
 */
export async function evaluate(index: EvalIndex, queries: readonly EvalQuery[] = EVAL_QUERIES): Promise<EvalReport> {
  const sums = Object.fromEntries(MODES.map((m) => [m, { recallAt5: 0, mrrAt10: 0, ndcgAt10: 0 }])) as Record<Mode, Metrics>;
  const perQuery: EvalReport["perQuery"] = [];
  for (const q of queries) {
    const ndcg = {} as Record<Mode, number>;
    for (const mode of MODES) {
      const s = settingsFor(mode);
      const { results } = await searchImages(index.deps, { query: q.query, limit: 10, filters: { role: "corpus" }, fusion: s.fusion, rerank: s.rerank });
      const ranked = results.filter(s.keep).map((h) => index.slugById.get(h.id)!);
      sums[mode].recallAt5 += recallAt(ranked, q.relevant, 5);
      sums[mode].mrrAt10 += mrrAt(ranked, q.relevant, 10);
      sums[mode].ndcgAt10 += ndcg[mode] = ndcgAt(ranked, q.relevant, 10);
    }
    perQuery.push({ query: q.query, ndcg });
  }
  const round = (n: number) => Math.round((n / queries.length) * 1000) / 1000;
  const metrics = Object.fromEntries(
    MODES.map((m) => [m, { recallAt5: round(sums[m].recallAt5), mrrAt10: round(sums[m].mrrAt10), ndcgAt10: round(sums[m].ndcgAt10) }]),
  ) as Record<Mode, Metrics>;
  const c = index.deps.config.search;
  return {
    queries: queries.length,
    corpus: index.slugById.size,
    settings: { rrfK: c.rrfK, overfetch: c.overfetch, rerankWeight: c.rerankWeight, rerankTopN: c.rerankTopN, efSearch: c.efSearch, embedder: index.deps.embedder.model },
    metrics,
    perQuery: perQuery.map((p) => ({ query: p.query, ndcg: Object.fromEntries(MODES.map((m) => [m, Math.round(p.ndcg[m] * 1000) / 1000])) as Record<Mode, number> })),
  };
}

export const BASELINE_PATH = new URL("./search-baseline.json", import.meta.url).pathname;

if (import.meta.main) {
  const index = await buildEvalIndex();
  try {
    const report = await evaluate(index);
    console.log(`search evaluation: ${report.queries} queries over ${report.corpus} demo images (ingest ${index.ingestMs} ms), Bun ${Bun.version}`);
    console.log(`settings: ${JSON.stringify(report.settings)}`);
    console.log("mode           recall@5  MRR@10  nDCG@10");
    for (const mode of MODES) {
      const m = report.metrics[mode];
      console.log(`${mode.padEnd(14)} ${m.recallAt5.toFixed(3).padStart(8)} ${m.mrrAt10.toFixed(3).padStart(7)} ${m.ndcgAt10.toFixed(3).padStart(8)}`);
    }
    if (process.argv.includes("--verbose")) for (const p of report.perQuery) console.log(p.query.padEnd(30), JSON.stringify(p.ndcg));
    if (process.argv.includes("--write-baseline")) {
      const { perQuery: _perQuery, ...summary } = report;
      await Bun.write(BASELINE_PATH, JSON.stringify({ ...summary, measuredAt: new Date().toISOString().slice(0, 10) }, null, 2) + "\n");
      console.log(`baseline written to ${BASELINE_PATH}`);
    }
  } finally {
    await index.close();
  }
}
