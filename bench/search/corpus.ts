/**
 * The corpora and query streams of the search benchmark: the demo corpus (through the real ingest
 * pipeline), synthetic captioned corpora of any size (vectors from the real offline embedder, so
 * they cluster like real embeddings), and streams of distinct queries for each.
 */
import { sql } from "drizzle-orm";
import { cp, mkdir, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { createOfflineEmbedder, createWordVectors } from "../../src/ai/index.ts";
import { loadConfig } from "../../src/config.ts";
import { openDatabase, type Database } from "../../src/db/client.ts";
import { bulkInsertImages } from "../../src/db/images.ts";
import { MIGRATIONS_FOLDER } from "../../src/db/migrate.ts";
import { HNSW_EF_CONSTRUCTION, HNSW_M, INDEXED_EMBEDDINGS } from "../../src/db/schema.ts";
import { DEMO_IMAGES } from "../../src/ingest/demo/corpus.ts";
import { renderScene } from "../../src/ingest/demo/render.ts";
import { embeddingText } from "../../src/ingest/embed.ts";
import { createHypernymExpander } from "../../src/ingest/hypernyms.ts";
import { ingestImage } from "../../src/ingest/pipeline.ts";
import { silentLogger } from "../../src/log.ts";
import { seededRandom } from "../../src/random.ts";
import { createLocalBlobStore } from "../../src/storage/local.ts";
import { noopTelemetry } from "../../src/telemetry/index.ts";
import { EVAL_QUERIES } from "../search-eval.ts";

const MODEL = "wink-sg-100d";
const index = INDEXED_EMBEDDINGS.find((e) => e.model === MODEL)!;

/** Themes: each its own nouns, places and palette, so captions (and their vectors) cluster by theme. */
const THEMES: Record<string, { subjects: string[]; places: string[]; colors: string[] }> = {
  landscape: { subjects: ["mountain", "lake", "river", "valley", "waterfall", "glacier", "canyon", "meadow"], places: ["at dawn", "under storm clouds", "in winter", "at sunset", "in the fog"], colors: ["#3c7a9c", "#a9cce3", "#2f4a2f", "#e9c46a", "#f77f00"] },
  seascape: { subjects: ["ocean", "beach", "wave", "lighthouse", "harbour", "sailboat", "cliff", "island"], places: ["at sunrise", "on a windy day", "at low tide", "under a clear sky"], colors: ["#0077b6", "#90e0ef", "#fff1e6", "#2a9d8f", "#f4a261"] },
  city: { subjects: ["skyline", "street", "skyscraper", "bridge", "subway", "alley", "square", "tower"], places: ["at night", "in the rain", "at rush hour", "in neon light"], colors: ["#1b2631", "#f4d03f", "#5dade2", "#f72585", "#8d99ae"] },
  interior: { subjects: ["sofa", "kitchen", "bedroom", "bookshelf", "fireplace", "armchair", "bathroom", "desk"], places: ["in soft light", "with plants", "in a loft", "with wooden floors"], colors: ["#f4f1ea", "#c8b6a6", "#7f5539", "#1f5f61", "#ffd166"] },
  food: { subjects: ["pizza", "salad", "soup", "cake", "sushi", "pasta", "burger", "bread"], places: ["on a wooden table", "in a restaurant", "on a white plate", "at a market"], colors: ["#e63946", "#f4a261", "#2a9d8f", "#ffffff", "#8b5a2b"] },
  drink: { subjects: ["coffee", "tea", "wine", "cocktail", "juice", "beer", "smoothie", "lemonade"], places: ["in a glass", "on a bar counter", "in a cafe", "by the window"], colors: ["#6f4518", "#f5ebe0", "#9e2a2b", "#ffbe0b", "#80b918"] },
  portrait: { subjects: ["woman", "man", "child", "grandmother", "dancer", "musician", "athlete", "student"], places: ["in a studio", "on the street", "in a garden", "by a window"], colors: ["#e0a98a", "#3b2a25", "#1d3557", "#f6a05a", "#bdbdbd"] },
  animal: { subjects: ["dog", "cat", "horse", "fox", "owl", "rabbit", "deer", "parrot"], places: ["in the grass", "in the snow", "in a forest", "on a farm"], colors: ["#e07a2f", "#3a5a40", "#f2e8cf", "#6b4f3a", "#111111"] },
  vehicle: { subjects: ["car", "truck", "motorcycle", "bicycle", "train", "bus", "tractor", "scooter"], places: ["on a highway", "in a garage", "on a dirt road", "at a station"], colors: ["#d62828", "#6c757d", "#ffc300", "#14213d", "#adb5bd"] },
  product: { subjects: ["watch", "perfume", "sneaker", "headphones", "camera", "handbag", "lamp", "phone"], places: ["on a white backdrop", "on marble", "in studio light", "on a shelf"], colors: ["#f8f9fa", "#c9a227", "#1b1b1b", "#ffc8dd", "#bde0fe"] },
};
const ADJECTIVES = ["red", "blue", "green", "golden", "small", "large", "old", "modern", "quiet", "bright", "dark", "vintage", "colorful", "misty", "rustic", "elegant"];
const THEME_NAMES = Object.keys(THEMES);
const EXTRAS = ["in the morning", "at noon", "in autumn", "after the rain", "in black and white", "seen from above", "in close-up", "with a shallow depth of field", "on film", "in summer"];

/** One synthetic image: ~400k distinct captions (theme × adjective × subject × place × companion × extra). */
export function syntheticImage(random: () => number, i: number) {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const theme = pick(THEME_NAMES);
  const t = THEMES[theme]!;
  const subject = pick(t.subjects);
  const adjective = pick(ADJECTIVES);
  const place = pick(t.places);
  const companion = random() < 0.8 ? pick(THEMES[pick(THEME_NAMES)]!.subjects) : undefined;
  const extra = random() < 0.85 ? pick(EXTRAS) : undefined;
  const caption = [`A ${adjective} ${subject} ${place}`, companion && `with a ${companion}`, extra].filter(Boolean).join(" ");
  const labels = [subject, adjective, place.split(" ").at(-1)!, theme, ...(companion ? [companion] : [])];
  const hexColors = [pick(t.colors), pick(t.colors), pick(t.colors)];
  return { i, theme, caption, labels, hexColors };
}

/**
 * A synthetic image as a row for `bulkInsertImages`, with its vector from the offline embedder.
 *
 * @example
 * await bulkInsertImages(db, [syntheticRow(syntheticImage(random, 0), embedder.embedSync("a red car"))]);
 */
export function syntheticRow(b: ReturnType<typeof syntheticImage>, vector: number[], hypernyms: string[] | null = null) {
  return {
    image: {
      storageKey: `bench/${b.i}.png`,
      mimeType: "image/png",
      width: 640,
      height: 480,
      byteSize: 50_000,
      sha256: `bench-${b.i}`,
      caption: b.caption,
      labels: b.labels,
      category: b.theme,
      hexColors: b.hexColors,
      hypernyms,
    },
    embeddings: [{ model: MODEL, dimensions: 100, vector }],
  };
}

/** A search request body as the benchmark posts it. */
export interface QueryBody {
  query: string;
  filters?: { category?: string; color?: string };
}

/** Query kinds of the synthetic corpora, 1/6 each. */
export const SYNTHETIC_KINDS = ["noun", "adjective noun", "noun place", "synonym phrase", "noun + category", "adj noun + colour"] as const;
/** Query kinds of the demo corpus. */
export const DEMO_KINDS = ["corpus words", "corpus + other word", "other words", "labelled query + word", "+ category", "+ colour"] as const;

/**
 * Distinct queries (no two alike, so no cache can stand in for the engine) over the synthetic
 * corpora: the six kinds in turn; a repeat gets one more word drawn from `extraWords` (common
 * English words, mostly absent from the captions, as real queries hold).
 */
export function syntheticQueries(random: () => number, count: number, extraWords: readonly string[]): { kind: number; body: QueryBody }[] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const makers: Array<() => QueryBody> = [
    () => ({ query: pick(THEMES[pick(THEME_NAMES)]!.subjects) }),
    () => ({ query: `${pick(ADJECTIVES)} ${pick(THEMES[pick(THEME_NAMES)]!.subjects)}` }),
    () => {
      const t = THEMES[pick(THEME_NAMES)]!;
      return { query: `${pick(t.subjects)} ${pick(t.places)}` };
    },
    () => ({ query: pick(["automobile on a road", "puppy in the snow", "city lights at night", "cup of espresso", "sea at dawn", "sofa by the window", "fresh bread", "old man portrait"]) }),
    () => {
      const theme = pick(THEME_NAMES);
      return { query: pick(THEMES[theme]!.subjects), filters: { category: theme } };
    },
    () => {
      const theme = pick(THEME_NAMES);
      return { query: `${pick(ADJECTIVES)} ${pick(THEMES[theme]!.subjects)}`, filters: { color: pick(THEMES[theme]!.colors) } };
    },
  ];
  return distinct(random, count, makers, extraWords);
}

/**
 * Distinct queries over the demo corpus: words of its captions and labels, alone or mixed with
 * common English words, the labelled evaluation queries with one more word, and a share with a
 * category or colour filter.
 */
export function demoQueries(random: () => number, count: number, extraWords: readonly string[]): { kind: number; body: QueryBody }[] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const corpusWords = [...new Set(DEMO_IMAGES.flatMap((d) => `${d.caption} ${d.labels.join(" ")}`.toLowerCase().split(/[^a-z]+/)).filter((w) => w.length > 2))];
  const categories = [...new Set(DEMO_IMAGES.map((d) => d.category))];
  const colors = ["#e8572a", "#2f5f86", "#ffd166", "#6a994e", "#7b5ea7", "#c9184a", "#f4f1ea", "#1b2631"];
  const words = (n: number, pool: readonly string[]) => Array.from({ length: n }, () => pick(pool)).join(" ");
  const makers: Array<() => QueryBody> = [
    () => ({ query: words(1 + Math.floor(random() * 3), corpusWords) }),
    () => ({ query: `${words(1 + Math.floor(random() * 2), corpusWords)} ${pick(extraWords)}` }),
    () => ({ query: words(1 + Math.floor(random() * 2), extraWords) }),
    () => ({ query: `${pick(EVAL_QUERIES).query} ${pick(random() < 0.5 ? corpusWords : extraWords)}` }),
    () => ({ query: words(1 + Math.floor(random() * 2), corpusWords), filters: { category: pick(categories) } }),
    () => ({ query: words(1 + Math.floor(random() * 2), corpusWords), filters: { color: pick(colors) } }),
  ];
  return distinct(random, count, makers, extraWords);
}

function distinct(random: () => number, count: number, makers: Array<() => QueryBody>, extraWords: readonly string[]) {
  const seen = new Set<string>();
  const out: { kind: number; body: QueryBody }[] = [];
  for (let n = 0; out.length < count; n++) {
    const kind = n % makers.length;
    const body = makers[kind]!();
    for (let key = JSON.stringify(body); seen.has(key); key = JSON.stringify(body)) {
      body.query = `${body.query} ${extraWords[Math.floor(random() * extraWords.length)]!}`;
    }
    seen.add(JSON.stringify(body));
    out.push({ kind, body });
  }
  return out;
}

/**
 * Common English words (frequency ranks 300–20,000 of the word vectors, letters only): what a
 * varied query stream mixes in.
 */
export async function commonWords(): Promise<string[]> {
  const wordVectors = createWordVectors();
  await wordVectors.ready();
  return wordVectors.wordsByFrequency(300, 20_000).filter((w) => /^[a-z]{3,}$/.test(w));
}

/** A key for cached data dirs: changes when a migration or the PGlite build changes. */
export async function schemaKey(): Promise<string> {
  const hash = new Bun.CryptoHasher("sha256");
  for (const name of (await readdir(MIGRATIONS_FOLDER)).sort()) {
    if (name.endsWith(".sql")) hash.update(name).update(await Bun.file(join(MIGRATIONS_FOLDER, name)).bytes());
  }
  hash.update(await Bun.file(Bun.resolveSync("@electric-sql/pglite/package.json", import.meta.dir)).text());
  return hash.digest("hex").slice(0, 12);
}

async function openDisk(dataDir: string): Promise<Database> {
  return openDatabase({ dataDir, telemetry: noopTelemetry(), log: silentLogger });
}

/** How a corpus is loaded. */
export interface CorpusOptions {
  /** Store WordNet hypernyms with each row, as ingest does (false: the index as it was before issue 17). */
  hypernyms: boolean;
}

/** The demo corpus through the real ingest pipeline (render → decode → palette → label/hypernyms → embed → store) into `dataDir`. */
async function loadDemo(dataDir: string, options: CorpusOptions): Promise<void> {
  const database = await openDisk(dataDir);
  try {
    const config = loadConfig({ LOG_LEVEL: "silent", DATA_DIR: dataDir });
    const storage = await createLocalBlobStore(dataDir);
    const wordVectors = createWordVectors();
    const embedder = createOfflineEmbedder(wordVectors);
    const hypernyms = options.hypernyms ? createHypernymExpander({ wordVectors }) : undefined;
    const deps = { db: database.db, storage, embedder, hypernyms, telemetry: noopTelemetry(), config, log: silentLogger };
    for (const entry of DEMO_IMAGES) {
      const bytes = await renderScene(entry.scene, entry.slug);
      await ingestImage(deps, { bytes, caption: entry.caption, labels: entry.labels, category: entry.category, role: entry.role, originalName: `${entry.slug}.jpg` });
    }
    await storage.close();
  } finally {
    await database.close();
  }
}

/**
 * `rows` synthetic images, bulk inserted with the HNSW index dropped and rebuilt after (the fast
 * path for a large load), with their WordNet hypernyms expanded as ingest would (unless off).
 */
async function loadSynthetic(dataDir: string, rows: number, options: CorpusOptions, log: (line: string) => void): Promise<void> {
  const database = await openDisk(dataDir);
  try {
    const wordVectors = createWordVectors();
    const embedder = createOfflineEmbedder(wordVectors);
    const expander = options.hypernyms ? createHypernymExpander({ wordVectors }) : undefined;
    await wordVectors.ready();
    const random = seededRandom(0x2545f491);
    const started = performance.now();
    let hypernymMs = 0;
    await database.db.execute(sql.raw(`drop index ${index.index}`));
    const BATCH = 1000;
    for (let done = 0; done < rows; done += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, rows - done) }, (_, j) => syntheticImage(random, done + j));
      const t = performance.now();
      const hypernyms = expander ? await Promise.all(batch.map(async (b) => (await expander.expand({ caption: b.caption, labels: b.labels })).words)) : [];
      hypernymMs += performance.now() - t;
      await bulkInsertImages(
        database.db,
        batch.map((b, j) => syntheticRow(b, embedder.embedSync(embeddingText({ caption: b.caption, labels: b.labels, category: b.theme })), hypernyms[j] ?? null)),
      );
      if ((done / BATCH) % 10 === 9) log(`  loaded ${done + BATCH} rows (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
    const built = performance.now();
    await database.db.execute(sql.raw("set maintenance_work_mem = '512MB'"));
    await database.db.execute(
      sql.raw(`create index ${index.index} on image_embeddings using hnsw ((embedding::vector(100)) vector_cosine_ops) with (m = ${HNSW_M}, ef_construction = ${HNSW_EF_CONSTRUCTION}) where model = '${MODEL}'`),
    );
    log(
      `  ${rows} rows loaded in ${((built - started) / 1000).toFixed(0)} s (hypernyms ${expander ? `expanded in ${(hypernymMs / 1000).toFixed(1)} s` : "off"}), HNSW built in ${((performance.now() - built) / 1000).toFixed(0)} s`,
    );
  } finally {
    await database.close();
  }
}

/** The database states the benchmark compares. */
export const STATES = ["fresh", "vacuumed"] as const;
export type CorpusState = (typeof STATES)[number];

/**
 * A data dir holding the corpus in `state`, built once and kept under `.tmp/bench-search/`
 * (keyed by the migrations and by whether hypernyms are stored): "fresh" is exactly as loaded (no
 * VACUUM, no ANALYZE: PGlite runs no autovacuum), "vacuumed" the same after `VACUUM ANALYZE`.
 * Callers copy it before use, so every run starts from the same state.
 */
export async function templateDir(size: "demo" | number, state: CorpusState, options: CorpusOptions, log: (line: string) => void): Promise<string> {
  const root = join(import.meta.dir, "..", "..", ".tmp", "bench-search", await schemaKey());
  const corpus = `${size}${options.hypernyms ? "" : "-no-hypernyms"}`;
  const dir = join(root, `${corpus}-${state}`);
  if (await Bun.file(join(dir, "pglite", "PG_VERSION")).exists()) return dir;
  const fresh = join(root, `${corpus}-fresh`);
  if (!(await Bun.file(join(fresh, "pglite", "PG_VERSION")).exists())) {
    log(`building the ${size} corpus in ${fresh} (once; kept for later runs)`);
    const building = `${fresh}.building-${process.pid}`;
    await rm(building, { recursive: true, force: true });
    await mkdir(building, { recursive: true });
    if (size === "demo") await loadDemo(building, options);
    else await loadSynthetic(building, size, options, log);
    await rename(building, fresh);
  }
  if (state === "fresh") return fresh;
  const building = `${dir}.building-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  await cp(fresh, building, { recursive: true });
  const database = await openDisk(building);
  const started = performance.now();
  await database.db.execute(sql.raw("vacuum analyze"));
  log(`  vacuum analyze of the ${size} corpus: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await database.close();
  await rename(building, dir);
  return dir;
}
