/**
 * Ingest benchmark: 500 JPEGs of 1024×768 (generated with sharp beforehand: gradients, shapes and
 * grain, each different) uploaded through HTTP (`POST /api/images` on `Bun.serve`) into an
 * in-memory PGlite and local files, offline embedder. Prints images/s and, read from the spans
 * (in-memory recorder), per-stage duration and `process.cpu_user_ms` (median / p95).
 *
 * Three passes on fresh stores: concurrency 1 without and with WordNet hypernyms (per-stage CPU is
 * clean: one request at a time; the pair gives the expansion's cost in `ingest.label`), and
 * concurrency N with them, as the service runs (throughput; CPU readings are process-wide, so they
 * include the other requests). Captions cycle through the demo corpus's, so the expansion has
 * real nouns to look up.
 *
 * With `--disk`, each pass also runs on PGlite on disk (a data directory, locked like the service's)
 * right after the in-memory one, and prints what the disk costs per upload: the figure behind
 * "a 201 survives kill -9" (PGlite writes each commit's WAL to the kernel before answering; no
 * extra sync is added, see README "Durability").
 *
 * Run: [BENCH_ROUNDS=3] bun run bench:ingest [count=500] [concurrency=4] [--disk]
 */
import { cpus, loadavg, tmpdir } from "node:os";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import sharp from "sharp";
import { createOfflineEmbedder, createWordVectors } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/client.ts";
import { createTestDatabase, createTestDataDir } from "../src/db/testing.ts";
import { createApp } from "../src/http/app.ts";
import { DEMO_IMAGES } from "../src/ingest/demo/corpus.ts";
import { createHypernymExpander } from "../src/ingest/hypernyms.ts";
import { silentLogger } from "../src/log.ts";
import { createLocalBlobStore, tracedBlobStore } from "../src/storage/index.ts";
import { createTestTelemetry, INGEST_STAGES, PROCESS_ATTR, SPAN } from "../src/telemetry/index.ts";

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const DISK = process.argv.includes("--disk");
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1));
const COUNT = Number(args[0] ?? 500);
const CONCURRENCY = Number(args[1] ?? 4);
const WIDTH = 1024;
const CAPTIONS = DEMO_IMAGES.map((d) => d.caption);
const HEIGHT = 768;

function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function makeJpeg(i: number, grain: Buffer): Promise<Uint8Array> {
  const rand = prng(i + 1);
  const hue = Math.floor(rand() * 360);
  const shapes = Array.from({ length: 24 }, () => {
    const fill = `hsl(${Math.floor(hue + rand() * 180) % 360},${40 + Math.floor(rand() * 50)}%,${25 + Math.floor(rand() * 50)}%)`;
    return rand() < 0.5
      ? `<circle cx="${Math.floor(rand() * WIDTH)}" cy="${Math.floor(rand() * HEIGHT)}" r="${20 + Math.floor(rand() * 160)}" fill="${fill}" opacity="0.8"/>`
      : `<rect x="${Math.floor(rand() * WIDTH)}" y="${Math.floor(rand() * HEIGHT)}" width="${40 + Math.floor(rand() * 300)}" height="${40 + Math.floor(rand() * 200)}" fill="${fill}" opacity="0.8"/>`;
  }).join("");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}"><defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="hsl(${hue},60%,70%)"/><stop offset="1" stop-color="hsl(${(hue + 90) % 360},50%,30%)"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/>${shapes}</svg>`;
  const jpeg = await sharp(Buffer.from(svg))
    .composite([{ input: grain, raw: { width: WIDTH, height: HEIGHT, channels: 3 }, blend: "soft-light" }])
    .jpeg({ quality: 85 })
    .toBuffer();
  return new Uint8Array(jpeg);
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

type PassOptions = { onDisk?: boolean; withHypernyms?: boolean };

async function runPass(images: Uint8Array[], concurrency: number, wordVectors: ReturnType<typeof createWordVectors>, options: PassOptions = {}) {
  const { onDisk = false, withHypernyms = true } = options;
  const { telemetry, recorder } = createTestTelemetry();
  const dir = await mkdtemp(join(tmpdir(), "bench-ingest-"));
  if (onDisk) await createTestDataDir(dir);
  const database = onDisk ? await openDatabase({ dataDir: dir, telemetry, log: silentLogger, migrate: false, owner: "bench:ingest" }) : await createTestDatabase(telemetry);
  const config = loadConfig({ DATABASE_URL: "memory://", LOG_LEVEL: "silent" });
  const embedder = createOfflineEmbedder(wordVectors);
  await embedder.embed(["warm up"], "document");
  const storage = tracedBlobStore(await createLocalBlobStore(dir), telemetry);
  const hypernyms = withHypernyms ? createHypernymExpander({ wordVectors }) : undefined;
  await hypernyms?.expand({ caption: "warm up", labels: [] });
  const app = createApp({ config, telemetry, log: silentLogger, images: { db: database.db, storage, embedder, hypernyms, telemetry, config, log: silentLogger } });
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch, maxRequestBodySize: 64 * 1024 * 1024 });
  const url = `http://127.0.0.1:${server.port}/api/images`;
  const statuses = new Map<number, number>();
  let next = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < images.length) {
        const i = next++;
        const form = new FormData();
        form.append("file", new File([images[i]!], `bench-${i}.jpg`, { type: "image/jpeg" }));
        form.append("caption", `${CAPTIONS[i % CAPTIONS.length]} (${i})`);
        form.append("labels", "benchmark,shapes,gradient");
        form.append("category", "abstract");
        const response = await fetch(url, { method: "POST", body: form });
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  // Server and client share this process; the client's share is the same in every variant.
  const cpuMsPerUpload = (cpu.user + cpu.system) / 1000 / images.length;
  const sizeRows = (await database.db.execute(
    sql`select pg_total_relation_size('images')::int as table, pg_relation_size('images_search_tsv_idx')::int as tsv`,
  )) as unknown as { rows: Array<{ table: number; tsv: number }> };
  const sizes = sizeRows.rows[0]!;
  await server.stop(true);
  await database.close();
  await rm(dir, { recursive: true, force: true });

  const rows: string[][] = [];
  // The database writes (CLIENT spans): where keeping the database on disk shows up.
  const dbWrites = [...new Set(recorder.spans().map((s) => s.name).filter((n) => /^(INSERT|COMMIT)\b/.test(n)))].sort();
  for (const name of ["POST /api/images", ...INGEST_STAGES, SPAN.storagePut, ...dbWrites]) {
    const spans = recorder.spans().filter((s) => s.name === name);
    const cpu = spans.map((s) => Number(s.attributes[PROCESS_ATTR.cpuUserMs] ?? Number.NaN)).filter(Number.isFinite).sort((a, b) => a - b);
    const wall = spans.map((s) => s.duration[0] * 1000 + s.duration[1] / 1e6).sort((a, b) => a - b);
    rows.push([name, String(spans.length), fmt(quantile(wall, 0.5), 2), fmt(quantile(wall, 0.95), 2), cpu.length ? fmt(quantile(cpu, 0.5), 2) : "-", cpu.length ? fmt(quantile(cpu, 0.95), 2) : "-"]);
  }
  return { seconds, cpuMsPerUpload, statuses, rows, sizes };
}

function printTable(rows: string[][]): void {
  const header = ["span", "count", "wall p50 ms", "wall p95 ms", "cpu_user p50 ms", "cpu_user p95 ms"];
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  for (const row of all) console.log(`  ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")}`);
}

console.log(`ingest benchmark: ${COUNT} JPEGs ${WIDTH}x${HEIGHT} through HTTP POST /api/images`);
console.log(`  Bun ${Bun.version}, sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}, ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} at start`);
console.log("  PGlite in memory, local blob files in a temp dir, offline embedder wink-sg-100d, spans in the in-memory recorder");
console.log("  note: the machine is shared and may be loaded; process.cpu_* are process-wide readings");

const genStarted = performance.now();
const grainRand = prng(12345);
const grain = Buffer.alloc(WIDTH * HEIGHT * 3);
for (let i = 0; i < grain.length; i++) grain[i] = 128 + Math.floor((grainRand() - 0.5) * 60);
const images: Uint8Array[] = [];
for (let i = 0; i < COUNT; i += 8) images.push(...(await Promise.all(Array.from({ length: Math.min(8, COUNT - i) }, (_, j) => makeJpeg(i + j, grain)))));
const meanKb = images.reduce((s, b) => s + b.byteLength, 0) / images.length / 1024;
console.log(`  generated ${images.length} JPEGs (mean ${meanKb.toFixed(0)} KB) in ${((performance.now() - genStarted) / 1000).toFixed(1)} s`);

const wordVectors = createWordVectors();
// Untimed warm-up (JIT, sharp, the word vectors), so the first timed pass is not the slow one.
await runPass(images.slice(0, Math.min(30, images.length)), 2, wordVectors);

const median = (values: number[]) => quantile([...values].sort((a, b) => a - b), 0.5);
const passLine = (label: string, pass: Awaited<ReturnType<typeof runPass>>) =>
  `${label}: ${images.length} uploads in ${pass.seconds.toFixed(1)} s = ${(images.length / pass.seconds).toFixed(1)} images/s, process CPU ${pass.cpuMsPerUpload.toFixed(1)} ms/upload; statuses ${JSON.stringify(Object.fromEntries(pass.statuses))}; images table ${(pass.sizes.table / 1024).toFixed(0)} KB, search_tsv GIN index ${(pass.sizes.tsv / 1024).toFixed(0)} KB`;

for (const concurrency of [1, CONCURRENCY]) {
  const variants = DISK ? (["memory", "disk"] as const) : (["memory"] as const);
  const passes = { memory: [] as Array<Awaited<ReturnType<typeof runPass>>>, disk: [] as Array<Awaited<ReturnType<typeof runPass>>> };
  console.log("");
  // Alternated, so a change in the machine's load falls on both variants alike.
  for (let round = 1; round <= ROUNDS; round++) {
    for (const variant of variants) {
      const pass = await runPass(images, concurrency, wordVectors, { onDisk: variant === "disk" });
      passes[variant].push(pass);
      console.log(passLine(`concurrency ${concurrency}${DISK ? `, PGlite ${variant === "disk" ? "on disk" : "in memory"}` : ""}${ROUNDS > 1 ? `, round ${round}` : ""}`, pass));
    }
  }
  for (const variant of variants) {
    if (DISK) console.log(`  spans of the last ${variant} pass:`);
    printTable(passes[variant].at(-1)!.rows);
  }
  if (!DISK) continue;
  const ratios = passes.memory.map((m, i) => m.seconds / passes.disk[i]!.seconds);
  const wall = passes.memory.map((m, i) => ((passes.disk[i]!.seconds - m.seconds) * 1000) / images.length);
  const cpu = passes.memory.map((m, i) => passes.disk[i]!.cpuMsPerUpload - m.cpuMsPerUpload);
  const signed = (n: number) => `${n >= 0 ? "+" : ""}${n.toFixed(2)}`;
  console.log(
    `  disk vs memory, median of ${ROUNDS} round(s): throughput ratio ${median(ratios).toFixed(2)}, wall ${signed(median(wall))} ms/upload, process CPU ${signed(median(cpu))} ms/upload (per round: ${ratios.map((r) => r.toFixed(2)).join(", ")})`,
  );
}

// What the WordNet expansion at ingest costs: the same uploads without it (in memory, one at a time).
const plain = await runPass(images, 1, wordVectors, { withHypernyms: false });
console.log(`\n${passLine("concurrency 1, hypernyms off", plain)}`);
printTable(plain.rows);
