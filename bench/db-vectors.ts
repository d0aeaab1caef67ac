/**
 * Vector retrieval at scale on embedded PGlite + pgvector: bulk insert rate, HNSW build time,
 * top-k latency over the HNSW partial index, and recall@k against an exact scan on the same
 * queries — unfiltered and with a category filter that keeps 5% of rows.
 *
 * Vectors are clustered like real embeddings (unit-normalised centre + Gaussian noise); uniform
 * random vectors make HNSW recall meaningless (see DESIGN.md).
 *
 * Run: bun run bench:db            (100,000 rows, ~5 min, ~2.5 GB RSS)
 *      bun run bench/db-vectors.ts --rows 10000 --queries 100 --ef 40,80,120
 */
import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
import { openPglite, wrapPglite } from "../src/db/client.ts";
import { migrateDatabase } from "../src/db/migrate.ts";
import { HNSW_EF_CONSTRUCTION, HNSW_M, INDEXED_EMBEDDINGS } from "../src/db/schema.ts";
import { exactVectorCandidates, vectorCandidates } from "../src/db/search.ts";
import { bulkInsertImages, insertImageWithEmbeddings } from "../src/db/images.ts";
import { noopTelemetry } from "../src/telemetry/index.ts";

const { values: args } = parseArgs({
  options: {
    rows: { type: "string", default: "100000" },
    queries: { type: "string", default: "200" },
    ef: { type: "string", default: "40,80,100,160" },
    k: { type: "string", default: "20" },
    clusters: { type: "string", default: "200" },
    noise: { type: "string", default: "0.08" },
    batch: { type: "string", default: "1000" },
  },
});
const ROWS = Number(args.rows);
const QUERIES = Number(args.queries);
const EF = args.ef!.split(",").map(Number);
const K = Number(args.k);
const CLUSTERS = Number(args.clusters);
const NOISE = Number(args.noise);
const BATCH = Number(args.batch);
const DIMS = 100;
const MODEL = "wink-sg-100d";
const RARE = "rare";
const index = INDEXED_EMBEDDINGS.find((e) => e.model === MODEL)!;

// Deterministic data: the same seed gives the same corpus and queries on every run.
let seed = 0x9e3779b9;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}
function normalise(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}
const centres = Array.from({ length: CLUSTERS }, () => normalise(Array.from({ length: DIMS }, gaussian)));
function sample(): number[] {
  const centre = centres[Math.floor(random() * CLUSTERS)]!;
  return normalise(centre.map((x) => x + NOISE * gaussian()));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}
function recall(found: { id: string }[], truth: { id: string }[]): number {
  const want = new Set(truth.map((t) => t.id));
  return truth.length === 0 ? 1 : found.filter((f) => want.has(f.id)).length / truth.length;
}
const rssMb = () => Math.round(process.memoryUsage.rss() / 1024 / 1024);
const fmt = (n: number, digits = 2) => n.toFixed(digits);

const pglite = await openPglite();
const database = wrapPglite(pglite, noopTelemetry(), "pglite-memory");
await migrateDatabase(database);
const db = database.db;
const pgliteVersion = ((await Bun.file(`${import.meta.dir}/../node_modules/@electric-sql/pglite/package.json`).json()) as { version: string }).version;
const extversion = (await pglite.query<{ v: string }>("select extversion as v from pg_extension where extname = 'vector'")).rows[0]!.v;

console.log("db-vectors benchmark (machine shared with other engineers' test runs: figures are noisy; medians quoted)");
console.log(
  `settings: rows=${ROWS} dims=${DIMS} clusters=${CLUSTERS} noise=${NOISE} k=${K} queries=${QUERIES} m=${HNSW_M} ef_construction=${HNSW_EF_CONSTRUCTION} ef_search=${EF.join("/")} rare-category share=5%`,
);
console.log(`versions: bun=${Bun.version} pglite=${pgliteVersion} pgvector=${extversion}`);

// 1. The application's own write path (one transaction per image, index maintained): a sample.
const appSample = Math.min(1_000, Math.max(100, Math.floor(ROWS / 100)));
let started = performance.now();
for (let i = 0; i < appSample; i++) {
  await insertImageWithEmbeddings(
    db,
    { storageKey: `app/${i}`, mimeType: "image/png", width: 64, height: 64, byteSize: 100, sha256: `app-${i}`, category: random() < 0.05 ? RARE : `c${i % 19}`, caption: `sample ${i}` },
    [{ model: MODEL, dimensions: DIMS, vector: sample() }],
  );
}
const appRate = appSample / ((performance.now() - started) / 1000);
console.log(`insertImageWithEmbeddings (1 tx per image, HNSW maintained): ${appSample} rows at ${fmt(appRate, 0)} rows/s`);

// 2. Bulk load without the HNSW index, then build it (how a large corpus is loaded).
await pglite.exec(`drop index ${index.index}`);
const bulk = ROWS - appSample;
started = performance.now();
for (let done = 0; done < bulk; done += BATCH) {
  const n = Math.min(BATCH, bulk - done);
  const items = Array.from({ length: n }, (_, j) => {
    const i = done + j;
    return {
      image: { storageKey: `bulk/${i}`, mimeType: "image/png", width: 64, height: 64, byteSize: 100, sha256: `bulk-${i}`, category: random() < 0.05 ? RARE : `c${i % 19}`, caption: `bulk image ${i}` },
      embeddings: [{ model: MODEL, dimensions: DIMS, vector: sample() }],
    };
  });
  await bulkInsertImages(db, items);
}
const bulkSeconds = (performance.now() - started) / 1000;
console.log(`bulkInsertImages (batches of ${BATCH}, one tx each, HNSW dropped): ${bulk} rows in ${fmt(bulkSeconds, 1)} s = ${fmt(bulk / bulkSeconds, 0)} rows/s`);

started = performance.now();
await pglite.exec("set maintenance_work_mem = '1GB'");
await pglite.exec(
  `create index ${index.index} on image_embeddings using hnsw ((embedding::vector(${DIMS})) vector_cosine_ops) with (m = ${HNSW_M}, ef_construction = ${HNSW_EF_CONSTRUCTION}) where model = '${MODEL}'`,
);
await pglite.exec("analyze");
const buildSeconds = (performance.now() - started) / 1000;
const total = Number((await db.execute(sql`select count(*)::int as n from image_embeddings`) as unknown as { rows: Array<{ n: number }> }).rows[0]!.n);
const rare = Number((await db.execute(sql`select count(*)::int as n from images where category = ${RARE}`) as unknown as { rows: Array<{ n: number }> }).rows[0]!.n);
console.log(`HNSW build: ${fmt(buildSeconds, 1)} s for ${total} vectors (maintenance_work_mem 1GB); rare category holds ${rare} rows (${fmt((100 * rare) / total, 1)}%); RSS ${rssMb()} MB`);

// 3. Queries: ground truth by exact scan, then HNSW at each ef_search.
const queries = Array.from({ length: QUERIES }, sample);
async function run(filters: { category?: string } | undefined, label: string) {
  started = performance.now();
  const truth: { id: string; distance: number }[][] = [];
  const exactMs: number[] = [];
  for (const vector of queries) {
    const t = performance.now();
    truth.push(await exactVectorCandidates(db, { model: MODEL, dimensions: DIMS, vector, k: K, efSearch: 0, filters }));
    exactMs.push(performance.now() - t);
  }
  console.log(`\n${label}: exact scan p50 ${fmt(median(exactMs))} ms (ground truth)`);
  console.log("  ef_search | recall@" + K + " mean | min  | queries < 0.8 | p50 ms | p95 ms");
  for (const ef of EF) {
    for (const vector of queries.slice(0, 5)) await vectorCandidates(db, { model: MODEL, dimensions: DIMS, vector, k: K, efSearch: ef, filters });
    const times: number[] = [];
    const recalls: number[] = [];
    for (const [i, vector] of queries.entries()) {
      const t = performance.now();
      const found = await vectorCandidates(db, { model: MODEL, dimensions: DIMS, vector, k: K, efSearch: ef, filters });
      times.push(performance.now() - t);
      recalls.push(recall(found, truth[i]!));
    }
    const sorted = [...times].sort((a, b) => a - b);
    const mean = recalls.reduce((a, b) => a + b, 0) / recalls.length;
    const poor = recalls.filter((r) => r < 0.8).length;
    console.log(
      `  ${String(ef).padStart(9)} | ${fmt(mean, 3).padStart(14)} | ${fmt(Math.min(...recalls), 2)} | ${String(poor).padStart(13)} | ${fmt(percentile(sorted, 50)).padStart(6)} | ${fmt(percentile(sorted, 95)).padStart(6)}`,
    );
  }
}

async function plan(filters: { category?: string } | undefined): Promise<string> {
  const n = sql.raw(String(DIMS));
  const v = `[${queries[0]!.join(",")}]`;
  const where = filters?.category ? sql`and i.category = ${filters.category}` : sql``;
  const result = (await db.execute(
    sql`explain select e.image_id from image_embeddings e join images i on i.id = e.image_id where e.model = ${sql.raw(`'${MODEL}'`)} ${where} order by (e.embedding::vector(${n})) <=> ${v}::vector(${n}) limit ${K}`,
  )) as unknown as { rows: Array<{ "QUERY PLAN": string }> };
  const text = result.rows.map((r) => r["QUERY PLAN"]).join(" ");
  return text.includes(index.index) ? "HNSW index" : text.includes("images_category_idx") ? "category b-tree + sort (exact)" : "sequential scan + sort (exact)";
}

await run(undefined, `top-${K}, no filter (planner: ${await plan(undefined)})`);
await run({ category: RARE }, `top-${K}, category filter keeping 5% (planner's choice: ${await plan({ category: RARE })})`);
// The same filter forced through HNSW with iterative scans (sorting disabled for the session).
await pglite.exec("set enable_sort = off");
await run({ category: RARE }, `top-${K}, category filter keeping 5%, forced through HNSW + iterative_scan=relaxed_order (${await plan({ category: RARE })})`);
await pglite.exec("reset enable_sort");

console.log(`\nRSS at end: ${rssMb()} MB`);
await database.close();
