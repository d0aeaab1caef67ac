/**
 * Search quality evaluation: labelled queries with graded relevance (0–3), each searched four
 * ways — text only, vector only, fused, fused + rerank — and scored with recall@5, MRR@10 and
 * nDCG@10. Three query sets over two corpora, both put through the real ingest pipeline (render →
 * decode → palette → labels → offline embedding → store) into in-memory PGlite:
 *   - `demo`: the 40 original queries over the demo corpus (captions, labels, categories);
 *   - `category` and `color`: kinds of things ("beverage", "vehicle") and colour words ("yellow
 *     flowers") over a captions-only corpus (the demo scenes without labels or category, plus
 *     scenes built for these queries), what most uploads carry.
 * Each set runs with and without the two offline signals of issue 17: WordNet hypernyms (the
 * corpus is ingested without them, searched, then the real backfill adds them) and colour words
 * (fusion weight 0 against the setting). `metrics` (and the committed baseline) are the demo set
 * with both signals, as the service runs.
 *
 *   bun run bench/search-eval.ts                   # print the figures
 *   bun run bench/search-eval.ts --verbose         # and nDCG@10 per query
 *   bun run bench/search-eval.ts --write-baseline  # also write bench/search-baseline.json
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOfflineEmbedder, createWordVectors } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { DEMO_IMAGES, type DemoImage } from "../src/ingest/demo/corpus.ts";
import { renderScene } from "../src/ingest/demo/render.ts";
import { backfillHypernyms, createHypernymExpander } from "../src/ingest/hypernyms.ts";
import { ingestImage } from "../src/ingest/pipeline.ts";
import { silentLogger } from "../src/log.ts";
import { createSearchDeps, searchImages, type SearchDeps, type SearchHit } from "../src/search/pipeline.ts";
import { createLocalBlobStore } from "../src/storage/local.ts";
import { noopTelemetry } from "../src/telemetry/index.ts";

/** Images rendered ahead of the one being stored (sharp works on its own threads). */
const RENDER_AHEAD = 4;

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

/**
 * Scenes built for the category and colour-word queries, captions only. Their palettes are drawn
 * as flat stripes (the renderer's `abstract` variant 2), so an image holds the colours listed and
 * no others; captions never name the colour a colour query looks for, nor the kind a category
 * query names.
 */
const CAPTION_ONLY: [slug: string, caption: string, colors: string[]][] = [
  ["espresso-white-cup", "Espresso in a white cup on a marble counter", ["#f5f5f5", "#3b2416", "#d9d4cc", "#8a5a3c"]],
  ["iced-lemonade", "A tall glass of iced lemonade with mint leaves", ["#fff7b0", "#f2e86d", "#7cb342", "#e8f4f8"]],
  ["red-wine-glass", "Wine in a stemmed glass beside a cheese board", ["#5e0b15", "#90323d", "#d9cab3", "#bc8034"]],
  ["cold-beer-mug", "A frosty mug of beer on a wooden bar", ["#f2a541", "#fff3e0", "#6d4c41", "#3e2723"]],
  ["delivery-van", "A delivery van parked outside a bakery", ["#ffffff", "#9e9e9e", "#1565c0", "#c8a27a"]],
  ["city-bus", "A double-decker bus crossing a bridge in the rain", ["#c62828", "#b0bec5", "#546e7a", "#eceff1"]],
  ["old-tractor", "An old tractor ploughing a muddy field", ["#2e7d32", "#6d4c41", "#a1887f", "#ffeb3b"]],
  ["motorcycle-bend", "A motorcycle leaning into a mountain bend", ["#212121", "#607d8b", "#90a4ae", "#e0e0e0"]],
  ["sliced-mango", "Sliced mango on a wooden board", ["#ffb300", "#ffd54f", "#8d6e63", "#fff8e1"]],
  ["ripe-bananas", "A bunch of ripe bananas hanging at a market stall", ["#fdd835", "#f9a825", "#5d4037", "#33691e"]],
  ["apples-basket", "Apples in a wicker basket", ["#9ccc65", "#558b2f", "#a1887f", "#f1f8e9"]],
  ["watermelon-picnic", "Watermelon slices on a picnic blanket", ["#e53935", "#43a047", "#ffffff", "#1b5e20"]],
  ["velvet-sofa", "A velvet sofa against a dark wall", ["#1b4332", "#2d6a4f", "#9d0208", "#f1faee"]],
  ["oak-dining-table", "An oak dining table with six chairs", ["#a47148", "#d9b48f", "#f5ebe0", "#6f4518"]],
  ["leather-armchair", "A worn leather armchair by the fireplace", ["#6f1d1b", "#432818", "#bb9457", "#ffe6a7"]],
  ["tall-wardrobe", "A tall wardrobe in an attic bedroom", ["#7f5539", "#b08968", "#ede0d4", "#9c6644"]],
  ["heron-reeds", "A heron in the reeds at the edge of a lake", ["#8d99ae", "#edf2f4", "#588157", "#a3b18a"]],
  ["owl-branch", "An owl perched on a snowy branch at dusk", ["#6c584c", "#a98467", "#f0ead2", "#2b2d42"]],
  ["seagull-pier", "A seagull standing on a wooden pier", ["#e0e1dd", "#778da9", "#415a77", "#c8b6a6"]],
  ["flamingos-lagoon", "Flamingos wading in a shallow lagoon", ["#ff8fab", "#fb6f92", "#caf0f8", "#90e0ef"]],
  ["sunflowers-vase", "Sunflowers in a glass vase on a windowsill", ["#ffc300", "#ffd60a", "#6a994e", "#5e3023"]],
  ["tulips-garden", "Tulips in a spring garden", ["#d00000", "#e5383b", "#386641", "#a7c957"]],
  ["hydrangeas-gate", "Hydrangeas by a garden gate", ["#4361ee", "#4895ef", "#b8c0ff", "#2d6a4f"]],
  ["roses-bouquet", "A bouquet of roses wrapped in brown paper", ["#c9184a", "#ff4d6d", "#b08968", "#588157"]],
  ["daisies-grass", "Daisies in tall grass", ["#ffffff", "#ffd60a", "#6a994e", "#386641"]],
  ["door-stone-wall", "A wooden door in an old stone wall", ["#c1121f", "#780000", "#adb5bd", "#6c757d"]],
  ["door-brass-knocker", "A front door with a brass knocker", ["#1d3557", "#457b9d", "#e9c46a", "#f1faee"]],
  ["farmhouse-door", "A farmhouse door with a horseshoe above it", ["#2d6a4f", "#40916c", "#bc8a5f", "#e9ecef"]],
  ["taxi-crossing", "A taxi waiting at a crossing", ["#ffd000", "#212529", "#adb5bd", "#f8f9fa"]],
  ["kayak-lake", "A kayak on a calm lake", ["#f77f00", "#fcbf49", "#3d5a80", "#98c1d9"]],
  ["birthday-cake", "A birthday cake with candles", ["#ffafcc", "#ffc8dd", "#fff0f3", "#cdb4db"]],
  ["wedding-cake", "A tiered wedding cake on a stand", ["#ffffff", "#f8f9fa", "#e9ecef", "#d4a373"]],
  ["umbrella-street", "An umbrella on a rainy street", ["#d62828", "#495057", "#adb5bd", "#212529"]],
];

/**
 * The captions-only corpus: the demo corpus's captioned scenes without labels or category, and
 * the scenes above.
 *
 * @example
 * CAPTIONS_ONLY_IMAGES.every((d) => d.labels.length === 0); // true
 */
export const CAPTIONS_ONLY_IMAGES: readonly DemoImage[] = [
  ...DEMO_IMAGES.filter((d) => d.role === "corpus").map((d) => ({ ...d, labels: [], category: "" })),
  ...CAPTION_ONLY.map(([slug, caption, colors]): DemoImage => ({
    slug,
    caption,
    labels: [],
    category: "",
    role: "corpus",
    scene: { kind: "abstract", colors: [colors[0]!, ...colors], variant: 2 },
  })),
];

/** Kinds of things: the caption names a member, never the kind (captions-only corpus). */
export const CATEGORY_QUERIES: EvalQuery[] = [
  { query: "beverage", relevant: { "espresso-white-cup": 3, "iced-lemonade": 3, "red-wine-glass": 3, "cold-beer-mug": 3, "latte-art-cup": 3, "matcha-green-tea": 3 } },
  { query: "drinks", relevant: { "espresso-white-cup": 3, "iced-lemonade": 3, "red-wine-glass": 3, "cold-beer-mug": 3, "latte-art-cup": 3, "matcha-green-tea": 3 } },
  { query: "vehicle", relevant: { "delivery-van": 3, "city-bus": 3, "old-tractor": 3, "motorcycle-bend": 3, "red-sports-automobile": 3, "vintage-blue-car": 3, "taxi-crossing": 3, "city-bicycle-yellow": 2, "sailboat-harbour": 2, "kayak-lake": 1 } },
  { query: "fruit", relevant: { "sliced-mango": 3, "ripe-bananas": 3, "apples-basket": 3, "watermelon-picnic": 3, "fruit-bowl-citrus": 3, "berries-bowl": 3 } },
  { query: "furniture", relevant: { "velvet-sofa": 3, "oak-dining-table": 3, "leather-armchair": 3, "tall-wardrobe": 3, "scandinavian-living-room": 2, "cozy-reading-corner": 2, "teal-bedroom": 1 } },
  { query: "bird", relevant: { "heron-reeds": 3, "owl-branch": 3, "seagull-pier": 3, "flamingos-lagoon": 3, "robin-on-branch": 3, "blue-parrot": 3 } },
  { query: "flowers", relevant: { "sunflowers-vase": 3, "tulips-garden": 3, "hydrangeas-gate": 3, "roses-bouquet": 3, "daisies-grass": 3, "wildflower-meadow": 3, "lavender-field-evening": 2 } },
  { query: "a vehicle in the rain", relevant: { "city-bus": 3, "delivery-van": 1, "old-tractor": 1, "motorcycle-bend": 1, "red-sports-automobile": 1, "vintage-blue-car": 1, "taxi-crossing": 1, "umbrella-street": 1, "neon-street-night": 1 } },
];

/** Colour words: the colour is in the palette, not in the caption (captions-only corpus). */
export const COLOR_QUERIES: EvalQuery[] = [
  { query: "yellow flowers", relevant: { "sunflowers-vase": 3, "daisies-grass": 2, "wildflower-meadow": 2 } },
  { query: "red flowers", relevant: { "tulips-garden": 3, "roses-bouquet": 3 } },
  { query: "blue flowers", relevant: { "hydrangeas-gate": 3 } },
  { query: "a red door", relevant: { "door-stone-wall": 3 } },
  { query: "blue door", relevant: { "door-brass-knocker": 3 } },
  { query: "green door", relevant: { "farmhouse-door": 3 } },
  { query: "yellow taxi", relevant: { "taxi-crossing": 3 } },
  { query: "red bus", relevant: { "city-bus": 3 } },
  { query: "orange kayak", relevant: { "kayak-lake": 3 } },
  { query: "pink cake", relevant: { "birthday-cake": 3, "wedding-cake": 1 } },
  { query: "white cake", relevant: { "wedding-cake": 3, "birthday-cake": 1 } },
  { query: "red umbrella", relevant: { "umbrella-street": 3 } },
  { query: "yellow fruit", relevant: { "sliced-mango": 3, "ripe-bananas": 3, "fruit-bowl-citrus": 2 } },
  { query: "green apples", relevant: { "apples-basket": 3, "watermelon-picnic": 1 } },
  { query: "pink birds", relevant: { "flamingos-lagoon": 3 } },
  { query: "a dark green room", relevant: { "velvet-sofa": 3, "teal-bedroom": 1 } },
];

/** The four ways a query is searched. */
export const MODES = ["text", "vector", "fused", "fused+rerank"] as const;
export type Mode = (typeof MODES)[number];

/** With and without the offline signals of issue 17. */
export const VARIANTS = ["without", "hypernyms", "colors", "both"] as const;
export type Variant = (typeof VARIANTS)[number];

/** The query sets and the corpus each runs over. */
export const QUERY_SETS = { demo: EVAL_QUERIES, category: CATEGORY_QUERIES, color: COLOR_QUERIES } as const;
export type QuerySet = keyof typeof QUERY_SETS;
const CORPUS_OF: Record<QuerySet, "demo" | "captions"> = { demo: "demo", category: "captions", color: "captions" };

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

/** An indexed corpus and the search deps over it. */
export interface EvalIndex {
  deps: SearchDeps;
  slugById: Map<string, string>;
  ingestMs: number;
  /** Fills the hypernyms the corpus was ingested without (the real backfill); returns rows written. */
  backfill(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Ingests a corpus through the real pipeline (offline providers) into an in-memory PGlite,
 * WITHOUT hypernyms (as rows stored before issue 17); `backfill()` adds them.
 *
 * @example
 * const index = await buildEvalIndex(DEMO_IMAGES);
 * await index.backfill();
 */
export async function buildEvalIndex(corpus: readonly DemoImage[] = DEMO_IMAGES): Promise<EvalIndex> {
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
  // Rendered four at a time, stored one at a time in corpus order: ids (UUIDv7, time ordered) then
  // follow the corpus, so rank ties break the same way in every run.
  const rendered = new Map<string, Promise<Uint8Array>>();
  const render = (i: number) => {
    const entry = corpus[i];
    if (entry && !rendered.has(entry.slug)) rendered.set(entry.slug, renderScene(entry.scene, entry.slug));
  };
  for (let i = 0; i < RENDER_AHEAD; i++) render(i);
  for (const [i, entry] of corpus.entries()) {
    render(i + RENDER_AHEAD);
    const { image } = await ingestImage(ingestDeps, {
      bytes: await rendered.get(entry.slug)!,
      caption: entry.caption,
      labels: entry.labels,
      category: entry.category || undefined,
      role: entry.role,
      originalName: `${entry.slug}.jpg`,
    });
    slugById.set(image.id, entry.slug);
  }
  return {
    deps: createSearchDeps({ db: database, embedder, wordVectors, telemetry, config }),
    slugById,
    ingestMs: Math.round(performance.now() - started),
    backfill: async () => (await backfillHypernyms({ db: database.db, expander: createHypernymExpander({ wordVectors }) })).written,
    async close() {
      await database.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function settingsFor(mode: Mode, colors: boolean) {
  const color = colors ? {} : { color: 0 };
  switch (mode) {
    case "text":
      return { fusion: { weights: { text: 1, vector: 0, ...color } }, rerank: { weight: 0 }, keep: (h: SearchHit) => h.components.text !== undefined };
    case "vector":
      return { fusion: { weights: { text: 0, vector: 1, ...color } }, rerank: { weight: 0 }, keep: (h: SearchHit) => h.components.vector !== undefined };
    case "fused":
      return { fusion: { weights: color }, rerank: { weight: 0 }, keep: () => true };
    case "fused+rerank":
      return { fusion: { weights: color }, rerank: {}, keep: () => true };
  }
}

/** One query set searched one way (variant) in every mode. */
export interface SetReport {
  queries: number;
  metrics: Record<Mode, Metrics>;
  /** Per query, nDCG@10 of each mode (to see which queries a change helps or hurts). */
  perQuery: { query: string; ndcg: Record<Mode, number> }[];
}

/**
 * Runs queries in every mode, with or without the colour-word signal (hypernyms are whatever
 * the index holds), and averages the metrics.
 *
 * @example
 * const report = await evaluateSet(index, EVAL_QUERIES, { colors: true });
 * report.metrics["fused+rerank"].ndcgAt10;
 */
export async function evaluateSet(index: EvalIndex, queries: readonly EvalQuery[], options: { colors: boolean }): Promise<SetReport> {
  const sums = Object.fromEntries(MODES.map((m) => [m, { recallAt5: 0, mrrAt10: 0, ndcgAt10: 0 }])) as Record<Mode, Metrics>;
  const perQuery: SetReport["perQuery"] = [];
  for (const q of queries) {
    const ndcg = {} as Record<Mode, number>;
    for (const mode of MODES) {
      const s = settingsFor(mode, options.colors);
      const { results } = await searchImages(index.deps, { query: q.query, limit: 10, filters: { role: "corpus" }, fusion: s.fusion, rerank: s.rerank });
      const ranked = results.filter(s.keep).map((h) => index.slugById.get(h.id)!);
      sums[mode].recallAt5 += recallAt(ranked, q.relevant, 5);
      sums[mode].mrrAt10 += mrrAt(ranked, q.relevant, 10);
      sums[mode].ndcgAt10 += ndcg[mode] = ndcgAt(ranked, q.relevant, 10);
    }
    perQuery.push({ query: q.query, ndcg: Object.fromEntries(MODES.map((m) => [m, round3(ndcg[m])])) as Record<Mode, number> });
  }
  const metrics = Object.fromEntries(
    MODES.map((m) => [m, { recallAt5: round3(sums[m].recallAt5 / queries.length), mrrAt10: round3(sums[m].mrrAt10 / queries.length), ndcgAt10: round3(sums[m].ndcgAt10 / queries.length) }]),
  ) as Record<Mode, Metrics>;
  return { queries: queries.length, metrics, perQuery };
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

export interface EvalReport {
  /** The demo set with both signals (what the service does); what the committed baseline holds. */
  queries: number;
  corpus: number;
  settings: { rrfK: number; overfetch: number; rerankWeight: number; rerankTopN: number; efSearch: number; colorWordWeight: number; colorThreshold: number; embedder: string };
  metrics: Record<Mode, Metrics>;
  /** Every set, every variant. */
  sets: Record<QuerySet, Record<Variant, SetReport>>;
  /** Corpus sizes and ingest times (ms), and rows the backfill wrote. */
  corpora: Record<"demo" | "captions", { images: number; ingestMs: number; backfilled: number }>;
}

/**
 * Builds both corpora, runs every set without hypernyms (with and without colour words), runs
 * the backfill, and runs every set again.
 *
 * @example
 * const report = await evaluateAll();
 * report.sets.category.hypernyms.metrics.fused.ndcgAt10;
 */
export async function evaluateAll(): Promise<EvalReport> {
  const indexes = { demo: await buildEvalIndex(DEMO_IMAGES), captions: await buildEvalIndex(CAPTIONS_ONLY_IMAGES) };
  try {
    const sets = Object.fromEntries(Object.keys(QUERY_SETS).map((name) => [name, {}])) as EvalReport["sets"];
    const runAll = async (hypernyms: boolean) => {
      for (const [name, queries] of Object.entries(QUERY_SETS) as [QuerySet, EvalQuery[]][]) {
        const index = indexes[CORPUS_OF[name]];
        sets[name][hypernyms ? "hypernyms" : "without"] = await evaluateSet(index, queries, { colors: false });
        sets[name][hypernyms ? "both" : "colors"] = await evaluateSet(index, queries, { colors: true });
      }
    };
    await runAll(false);
    const backfilled = { demo: await indexes.demo.backfill(), captions: await indexes.captions.backfill() };
    await runAll(true);
    const c = indexes.demo.deps.config.search;
    return {
      queries: EVAL_QUERIES.length,
      corpus: indexes.demo.slugById.size,
      settings: {
        rrfK: c.rrfK,
        overfetch: c.overfetch,
        rerankWeight: c.rerankWeight,
        rerankTopN: c.rerankTopN,
        efSearch: c.efSearch,
        colorWordWeight: c.colorWordWeight,
        colorThreshold: c.colorThreshold,
        embedder: indexes.demo.deps.embedder.model,
      },
      metrics: sets.demo.both.metrics,
      sets,
      corpora: {
        demo: { images: indexes.demo.slugById.size, ingestMs: indexes.demo.ingestMs, backfilled: backfilled.demo },
        captions: { images: indexes.captions.slugById.size, ingestMs: indexes.captions.ingestMs, backfilled: backfilled.captions },
      },
    };
  } finally {
    await Promise.all(Object.values(indexes).map((i) => i.close()));
  }
}

export const BASELINE_PATH = new URL("./search-baseline.json", import.meta.url).pathname;

if (import.meta.main) {
  const report = await evaluateAll();
  console.log(
    `search evaluation, Bun ${Bun.version}: demo corpus ${report.corpora.demo.images} images (ingest ${report.corpora.demo.ingestMs} ms), captions-only corpus ${report.corpora.captions.images} images (ingest ${report.corpora.captions.ingestMs} ms); backfill wrote ${report.corpora.demo.backfilled} + ${report.corpora.captions.backfilled} rows`,
  );
  console.log(`settings: ${JSON.stringify(report.settings)}`);
  console.log("variants: without = neither signal; hypernyms = WordNet hypernyms in full text (weight D); colors = colour words fused against palettes; both = the service's default");
  console.log("(the text and vector rows are that branch alone, fused with the colour-word list where the variant has it)\n");
  for (const [name, variants] of Object.entries(report.sets)) {
    console.log(`${name} set (${variants.both.queries} queries, ${CORPUS_OF[name as QuerySet] === "demo" ? "demo corpus" : "captions-only corpus"}) — nDCG@10`);
    console.log(`  mode           ${VARIANTS.map((v) => v.padStart(9)).join(" ")}`);
    for (const mode of MODES) console.log(`  ${mode.padEnd(14)} ${VARIANTS.map((v) => variants[v].metrics[mode].ndcgAt10.toFixed(3).padStart(9)).join(" ")}`);
    if (process.argv.includes("--verbose")) {
      for (const [i, q] of variants.both.perQuery.entries()) {
        console.log(`    ${q.query.padEnd(26)} ${VARIANTS.map((v) => `${v} ${JSON.stringify(variants[v].perQuery[i]!.ndcg)}`).join("  ")}`);
      }
    }
    console.log("");
  }
  console.log("demo set, both signals (the committed baseline's figures)");
  console.log("mode           recall@5  MRR@10  nDCG@10");
  for (const mode of MODES) {
    const m = report.metrics[mode];
    console.log(`${mode.padEnd(14)} ${m.recallAt5.toFixed(3).padStart(8)} ${m.mrrAt10.toFixed(3).padStart(7)} ${m.ndcgAt10.toFixed(3).padStart(8)}`);
  }
  if (process.argv.includes("--write-baseline")) {
    const { sets, ...summary } = report;
    const ndcg = Object.fromEntries(
      Object.entries(sets).map(([name, variants]) => [name, Object.fromEntries(VARIANTS.map((v) => [v, Object.fromEntries(MODES.map((m) => [m, variants[v].metrics[m].ndcgAt10]))]))]),
    );
    await Bun.write(BASELINE_PATH, JSON.stringify({ ...summary, ndcgAt10BySet: ndcg, measuredAt: new Date().toISOString().slice(0, 10) }, null, 2) + "\n");
    console.log(`baseline written to ${BASELINE_PATH}`);
  }
}
