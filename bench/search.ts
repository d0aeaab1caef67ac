/**
 * End-to-end search latency: synthetic corpora of 10,000 and 100,000 captioned images whose
 * vectors come from the real offline embedder (so they cluster like real embeddings), loaded
 * straight into an in-memory PGlite (bulk inserts, HNSW built after the load), then
 * `POST /api/search` over HTTP (Bun.serve + the real app), p50/p95 client-side, and the median
 * milliseconds of every search stage read from the recorded spans.
 *
 * Run: bun run bench:search                          (10k and 100k; the 100k case takes minutes and ~2.5 GB)
 *      bun run bench/search.ts --sizes 10000 --queries 200
 *      --reuse   keep the loaded, indexed corpus in .tmp/bench-search-<size>.tar and load it next time (seconds, not minutes)
 *      --vacuum  `vacuum analyze` after the load instead of `analyze` (PGlite runs no autovacuum: freshly loaded
 *                rows have no hint bits or visibility map, which costs every query)
 *      --gc      a full garbage collection after the load, so the queries do not pay for the load's garbage
 *      --no-hypernyms  load the rows without WordNet hypernyms (the index as it was before issue 17)
 */
import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
import { createOfflineEmbedder, createWordVectors } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import { bulkInsertImages } from "../src/db/images.ts";
import { HNSW_EF_CONSTRUCTION, HNSW_M, INDEXED_EMBEDDINGS } from "../src/db/schema.ts";
import { openPglite, wrapPglite } from "../src/db/client.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { createApp } from "../src/http/app.ts";
import { embeddingText } from "../src/ingest/embed.ts";
import { createHypernymExpander } from "../src/ingest/hypernyms.ts";
import { silentLogger } from "../src/log.ts";
import { createTestTelemetry, SEARCH_STAGES, SPAN } from "../src/telemetry/index.ts";

const { values: args } = parseArgs({
  allowPositionals: true,
  options: {
    sizes: { type: "string", default: "10000,100000" },
    queries: { type: "string", default: "300" },
    warmup: { type: "string", default: "30" },
    limit: { type: "string", default: "10" },
    batch: { type: "string", default: "1000" },
    reuse: { type: "boolean", default: false },
    vacuum: { type: "boolean", default: false },
    gc: { type: "boolean", default: false },
    "no-hypernyms": { type: "boolean", default: false },
  },
});
const HYPERNYMS = !args["no-hypernyms"];
const SIZES = args.sizes!.split(",").map(Number);
const QUERIES = Number(args.queries);
const WARMUP = Number(args.warmup);
const LIMIT = Number(args.limit);
const BATCH = Number(args.batch);
const MODEL = "wink-sg-100d";
const index = INDEXED_EMBEDDINGS.find((e) => e.model === MODEL)!;

let seed = 0x2545f491;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

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

/** ~400k distinct captions (theme × adjective × subject × place × companion × extra), so 100k rows are not mostly duplicates. */
export function syntheticImage(i: number) {
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
 * await bulkInsertImages(db, [syntheticRow(syntheticImage(0), embedder.embedSync("a red car"))]);
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

const TEMPLATE_NAMES = ["noun", "adjective noun", "noun place", "synonym phrase", "noun + category", "adj noun + colour"];
const QUERY_TEMPLATES: Array<() => { query: string; filters?: Record<string, string> }> = [
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

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const fmt = (n: number) => n.toFixed(1);
const rssMb = () => Math.round(process.memoryUsage.rss() / 1024 / 1024);

/** A loaded, indexed corpus kept in `.tmp/` by `--reuse` (the synthetic data is deterministic). */
const reusePath = (rows: number) => `${import.meta.dir}/../.tmp/bench-search-${rows}${HYPERNYMS ? "" : "-no-hypernyms"}.tar`;

async function runSize(rows: number) {
  const { telemetry, recorder } = createTestTelemetry();
  const config = loadConfig({ LOG_LEVEL: "silent" });
  const wordVectors = createWordVectors();
  const embedder = createOfflineEmbedder(wordVectors);
  await wordVectors.ready();
  const saved = Bun.file(reusePath(rows));
  const reused = args.reuse && (await saved.exists());
  const database = reused
    ? wrapPglite(await openPglite({ loadDataDir: new Blob([await saved.arrayBuffer()]) }), telemetry, "pglite-memory")
    : await createTestDatabase(telemetry);
  let loadSeconds = 0;
  let buildSeconds = 0;
  let embedMs = 0;
  let hypernymMs = 0;
  if (!reused) ({ loadSeconds, buildSeconds, embedMs, hypernymMs } = await loadCorpus(database as Awaited<ReturnType<typeof createTestDatabase>>, rows, embedder, wordVectors, recorder));
  if (args.reuse && !reused) await Bun.write(reusePath(rows), await (database as Awaited<ReturnType<typeof createTestDatabase>>).pglite.dumpDataDir("none"));
  if (args.gc) Bun.gc(true);
  console.log(`JS heap before the queries: ${Math.round(process.memoryUsage().heapUsed / 1024 / 1024)} MB (--gc: ${args.gc ? "full collection after the load" : "no"})`);
  await runQueries(database, rows, { loadSeconds, buildSeconds, embedMs, hypernymMs, reused }, { telemetry, recorder, config, embedder, wordVectors });
}

async function loadCorpus(
  database: Awaited<ReturnType<typeof createTestDatabase>>,
  rows: number,
  embedder: ReturnType<typeof createOfflineEmbedder>,
  wordVectors: ReturnType<typeof createWordVectors>,
  recorder: ReturnType<typeof createTestTelemetry>["recorder"],
) {
  let started = performance.now();
  await database.pglite.exec(`drop index ${index.index}`);
  let embedMs = 0;
  let hypernymMs = 0;
  const expander = HYPERNYMS ? createHypernymExpander({ wordVectors }) : undefined;
  for (let done = 0; done < rows; done += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, rows - done) }, (_, j) => syntheticImage(done + j));
    let t = performance.now();
    const vectors = batch.map((b) => embedder.embedSync(embeddingText({ caption: b.caption, labels: b.labels, category: b.theme })));
    embedMs += performance.now() - t;
    t = performance.now();
    const hypernyms = expander ? await Promise.all(batch.map(async (b) => (await expander.expand({ caption: b.caption, labels: b.labels })).words)) : [];
    hypernymMs += performance.now() - t;
    await bulkInsertImages(
      database.db,
      batch.map((b, j) => syntheticRow(b, vectors[j]!, hypernyms[j] ?? null)),
    );
    recorder.reset();
  }
  const loadSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  await database.pglite.exec("set maintenance_work_mem = '1GB'");
  await database.pglite.exec(
    `create index ${index.index} on image_embeddings using hnsw ((embedding::vector(100)) vector_cosine_ops) with (m = ${HNSW_M}, ef_construction = ${HNSW_EF_CONSTRUCTION}) where model = '${MODEL}'`,
  );
  await database.pglite.exec(args.vacuum ? "vacuum analyze" : "analyze");
  const buildSeconds = (performance.now() - started) / 1000;
  return { loadSeconds, buildSeconds, embedMs, hypernymMs };
}

async function runQueries(
  database: import("../src/db/client.ts").Database,
  rows: number,
  setup: { loadSeconds: number; buildSeconds: number; embedMs: number; hypernymMs: number; reused: boolean },
  ctx: {
    telemetry: ReturnType<typeof createTestTelemetry>["telemetry"];
    recorder: ReturnType<typeof createTestTelemetry>["recorder"];
    config: ReturnType<typeof loadConfig>;
    embedder: ReturnType<typeof createOfflineEmbedder>;
    wordVectors: ReturnType<typeof createWordVectors>;
  },
) {
  const { loadSeconds, buildSeconds, embedMs, hypernymMs } = setup;
  const { telemetry, recorder, config, embedder, wordVectors } = ctx;
  void rows;
  const count = ((await database.db.execute(sql`select count(*)::int as n from images`)) as unknown as { rows: { n: number }[] }).rows[0]!.n;
  const distinct = ((await database.db.execute(sql`select count(distinct caption)::int as n from images`)) as unknown as { rows: { n: number }[] }).rows[0]!.n;

  const app = createApp({ config, telemetry, log: silentLogger, search: { db: database, embedder, wordVectors, telemetry, config } });
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
  const url = `http://127.0.0.1:${server.port}/api/search`;
  const queries = Array.from({ length: WARMUP + QUERIES }, () => {
    const template = Math.floor(random() * QUERY_TEMPLATES.length);
    return { template, body: QUERY_TEMPLATES[template]!() };
  });
  const perTemplate = TEMPLATE_NAMES.map(() => ({ ms: [] as number[], cpu: [] as number[] }));
  const latencies: number[] = [];
  const resultCounts: number[] = [];
  const measured: { ms: number; template: number; body: (typeof queries)[number]["body"]; stages: Record<string, number> }[] = [];
  const post = async (q: object) => {
    const t = performance.now();
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...q, limit: LIMIT }) });
    const body = (await res.json()) as { results?: unknown[]; traceId?: string };
    if (res.status !== 200) throw new Error(`search answered ${res.status}: ${JSON.stringify(body)}`);
    return { ms: performance.now() - t, body };
  };
  const spanMs = (s: { duration: [number, number] }) => s.duration[0] * 1000 + s.duration[1] / 1e6;
  const stagesOf = (traceId: string | undefined) =>
    Object.fromEntries(recorder.spans(traceId).filter((span) => (SEARCH_STAGES as readonly string[]).includes(span.name)).map((span) => [span.name.replace("search.", ""), spanMs(span)]));
  for (const [n, { template, body: q }] of queries.entries()) {
    if (n === WARMUP) recorder.reset();
    const t = performance.now();
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...q, limit: LIMIT }) });
    const body = (await res.json()) as { results?: unknown[]; traceId?: string };
    if (res.status !== 200) throw new Error(`search answered ${res.status}: ${JSON.stringify(body)}`);
    if (n >= WARMUP) {
      latencies.push(performance.now() - t);
      resultCounts.push(body.results?.length ?? 0);
      const cpu = recorder
        .spans(body.traceId)
        .filter((span) => (SEARCH_STAGES as readonly string[]).includes(span.name))
        .reduce((sum, span) => sum + Number(span.attributes["process.cpu_user_ms"] ?? 0) + Number(span.attributes["process.cpu_system_ms"] ?? 0), 0);
      perTemplate[template]!.ms.push(latencies.at(-1)!);
      measured.push({ ms: latencies.at(-1)!, template, body: q, stages: stagesOf(body.traceId) });
      perTemplate[template]!.cpu.push(cpu);
    }
  }
  const stageMs = (name: string) => recorder.byName(name).map((s) => s.duration[0] * 1000 + s.duration[1] / 1e6);
  const root = stageMs("POST /api/search");
  const sizes = ((await database.db.execute(
    sql`select pg_total_relation_size('images')::bigint as table, pg_relation_size('images_search_tsv_idx')::bigint as tsv, count(*) filter (where hypernyms is not null)::int as expanded from images`,
  )) as unknown as { rows: { table: number; tsv: number; expanded: number }[] }).rows[0]!;
  console.log(`\n${count} images (${distinct} distinct captions)${setup.reused ? ` reused from ${reusePath(rows)}` : ""}: load ${fmt(loadSeconds)} s (embedding ${fmt(embedMs / 1000)} s, hypernyms ${fmt(hypernymMs / 1000)} s), HNSW build ${fmt(buildSeconds)} s, RSS ${rssMb()} MB`);
  console.log(`  hypernyms stored for ${sizes.expanded} rows; images table with its indexes ${fmt(Number(sizes.table) / 1048576)} MB, search_tsv GIN index ${fmt(Number(sizes.tsv) / 1048576)} MB`);
  console.log(`  POST /api/search over HTTP, ${QUERIES} queries after ${WARMUP} warm-up, limit ${LIMIT}, mean results ${fmt(resultCounts.reduce((a, b) => a + b, 0) / resultCounts.length)}`);
  console.log(`  client  p50 ${fmt(percentile(latencies, 50))} ms  p95 ${fmt(percentile(latencies, 95))} ms  max ${fmt(Math.max(...latencies))} ms`);
  console.log(`  server span  p50 ${fmt(percentile(root, 50))} ms  p95 ${fmt(percentile(root, 95))} ms`);
  const stageCpu = (name: string) =>
    recorder.byName(name).map((s) => Number(s.attributes["process.cpu_user_ms"] ?? 0) + Number(s.attributes["process.cpu_system_ms"] ?? 0));
  const cpuPerRequest = recorder.byName(SEARCH_STAGES[0]).map((_, i) => SEARCH_STAGES.reduce((sum, stage) => sum + (stageCpu(stage)[i] ?? 0), 0));
  console.log("  stage            p50 ms   p95 ms   p50 cpu ms (process CPU during the span; what an idle machine would wait)");
  for (const stage of SEARCH_STAGES) {
    const values = stageMs(stage);
    console.log(`  ${stage.padEnd(16)} ${fmt(percentile(values, 50)).padStart(6)}   ${fmt(percentile(values, 95)).padStart(6)}   ${fmt(percentile(stageCpu(stage), 50)).padStart(6)}`);
  }
  console.log(`  all stages CPU per request: p50 ${fmt(percentile(cpuPerRequest, 50))} ms  p95 ${fmt(percentile(cpuPerRequest, 95))} ms`);
  const tiers = recorder.byName(SPAN.searchFulltext).map((s) => Number(s.attributes["search.fulltext.tiers"] ?? 0));
  const boosted = recorder.byName(SPAN.searchFuse).filter((s) => s.attributes["search.weight.color"] !== undefined).length;
  console.log(`  full text needed its second tier (any word) in ${tiers.filter((t) => t === 2).length} of ${tiers.length} queries; colour words boosted ${boosted}`);
  console.log("  query kind          n   client p50/p95 ms   stage CPU p50/p95 ms");
  for (const [i, name] of TEMPLATE_NAMES.entries()) {
    const { ms, cpu } = perTemplate[i]!;
    if (ms.length === 0) continue;
    console.log(`  ${name.padEnd(18)} ${String(ms.length).padStart(3)}   ${fmt(percentile(ms, 50)).padStart(6)} / ${fmt(percentile(ms, 95)).padEnd(6)}     ${fmt(percentile(cpu, 50)).padStart(6)} / ${fmt(percentile(cpu, 95))}`);
  }
  const slowest = [...measured].sort((a, b) => b.ms - a.ms).slice(0, 10);
  console.log("  10 slowest queries: client ms, per-stage ms, then the same query repeated 3× (client ms)");
  for (const m of slowest) {
    const repeats: number[] = [];
    for (let r = 0; r < 3; r++) repeats.push((await post(m.body)).ms);
    const stages = Object.entries(m.stages).map(([k, v]) => `${k} ${fmt(v)}`).join(" ");
    console.log(`  ${fmt(m.ms).padStart(6)}  ${TEMPLATE_NAMES[m.template]!.padEnd(18)} ${JSON.stringify(m.body).padEnd(70)} ${stages}  | repeat ${repeats.map(fmt).join(" ")}`);
  }
  await server.stop(true);
  await database.close();
}

if (import.meta.main) {
  console.log("search benchmark (the machine is shared with other engineers' test runs: figures are noisy)");
  console.log(
    `settings: sizes=${SIZES.join("/")} queries=${QUERIES} warmup=${WARMUP} limit=${LIMIT} rrf_k=60 overfetch=3 rerank_top_n=30 ef_search=80 m=${HNSW_M} ef_construction=${HNSW_EF_CONSTRUCTION} embedder=${MODEL} (vectors from generated captions) hypernyms=${HYPERNYMS ? "on" : "off"} color_word_weight=1; bun=${Bun.version}`,
  );
  console.log("query mix: 1/6 each: one noun, adjective+noun, noun+place, synonym phrases, noun+category filter, adjective+noun+colour filter");
  for (const size of SIZES) await runSize(size);
}
