/**
 * Generation benchmark, in process over the real pipeline (PGlite in memory, local blob store in
 * a temp dir, tone references in the pool, spans recorded in memory):
 *
 * 1. Generations per second through the offline provider (the mood-board renderer), sequential
 *    and at the configured concurrency, through `POST /api/generate` (Hono `app.request`).
 * 2. The pipeline's own overhead per request with an in-process model that answers at once with
 *    a fixed 1024×1024 PNG: wall time of `generateImage` minus the model call, p50/p95
 *    (target ≤ 50 ms p95), and the same through the HTTP layer.
 *
 * Wall times suffer on a loaded machine; the process CPU per request (all threads, libvips
 * included) is printed beside them because load disturbs it less.
 *
 * Run: bun run bench:generation   (BENCH_OFFLINE=40, BENCH_OVERHEAD=200, BENCH_CONCURRENCY=4)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import type { ImageModel, ImageRequest } from "../src/ai/image-model.ts";
import { loadConfig } from "../src/config.ts";
import { insertImageWithEmbeddings } from "../src/db/index.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { createGenerationDeps, generateImage } from "../src/generation/index.ts";
import { createApp } from "../src/http/app.ts";
import { silentLogger } from "../src/log.ts";
import { createLocalBlobStore, originalKey, tracedBlobStore } from "../src/storage/index.ts";
import { createTestTelemetry } from "../src/telemetry/index.ts";

const OFFLINE_N = Number(process.env.BENCH_OFFLINE ?? 40);
const OVERHEAD_N = Number(process.env.BENCH_OVERHEAD ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const WARMUP = 5;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};
const ms = (v: number) => `${v.toFixed(1)} ms`;

/** A photo-like image: smooth colour noise, so PNG size and decode cost resemble a real render. */
async function photoLike(size: number, seed: number, sigma = 60): Promise<Uint8Array> {
  const small = await sharp({ create: { width: 48, height: 48, channels: 3, background: { r: (seed * 53) % 255, g: 110, b: 160 }, noise: { type: "gaussian", mean: 128, sigma } } })
    .png()
    .toBuffer();
  return new Uint8Array(await sharp(small).resize(size, size, { kernel: "cubic" }).png().toBuffer());
}

const { telemetry, recorder } = createTestTelemetry();
const dir = await mkdtemp(join(tmpdir(), "bench-generation-"));
const database = await createTestDatabase(telemetry);
const storage = tracedBlobStore(await createLocalBlobStore(dir), telemetry);

for (let i = 0; i < 6; i++) {
  const bytes = await photoLike(512, i);
  const id = Bun.randomUUIDv7();
  const key = originalKey({ id, mimeType: "image/png", role: "tone-ref", category: i < 4 ? "animal" : "landscape" });
  await storage.put(key, bytes, { contentType: "image/png" });
  await insertImageWithEmbeddings(
    database.db,
    { id, storageKey: key, mimeType: "image/png", width: 512, height: 512, byteSize: bytes.byteLength, sha256: new Bun.CryptoHasher("sha256").update(bytes).digest("hex"), role: "tone-ref", category: i < 4 ? "animal" : "landscape", hexColors: ["#336699"] },
    [],
  );
}

const config = loadConfig({ DATA_DIR: dir, LOG_LEVEL: "silent", GENERATION_CONCURRENCY: String(CONCURRENCY), GENERATION_QUEUE_LIMIT: "1000" });
const prompts = ["a red fox in the snow", "a misty valley at sunrise", "a portrait of an old fisherman", "a bowl of ramen, top-down", "an owl on a branch at night"];

console.log(`Generation benchmark — Bun ${Bun.version}, ${navigator.hardwareConcurrency} CPUs, load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}`);
console.log(`PGlite in memory, local blob store, 6 tone references (512×512 PNG), 2 sent per generation, spans recorded in memory\n`);

// 1. Offline throughput through the HTTP layer.
{
  const generation = createGenerationDeps({ config, telemetry, log: silentLogger, db: database.db, storage });
  const app = createApp({ config, telemetry, log: silentLogger, generation });
  const one = async (i: number) => {
    const res = await app.request("/api/generate", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: prompts[i % prompts.length], aspectRatio: "1:1", seed: i }) });
    if (res.status !== 201) throw new Error(`status ${res.status}: ${await res.text()}`);
  };
  for (let i = 0; i < WARMUP; i++) await one(i);
  let started = performance.now();
  for (let i = 0; i < OFFLINE_N; i++) await one(i);
  const sequential = OFFLINE_N / ((performance.now() - started) / 1000);
  started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < OFFLINE_N) await one(next++);
  }));
  const parallel = OFFLINE_N / ((performance.now() - started) / 1000);
  console.log(`1. Offline provider (768×768 mood board), ${OFFLINE_N} generations each way`);
  console.log(`   sequential:          ${sequential.toFixed(1)} generations/s`);
  console.log(`   ${CONCURRENCY} concurrent clients: ${parallel.toFixed(1)} generations/s (GENERATION_CONCURRENCY=${CONCURRENCY})\n`);
}

// 2. Pipeline overhead with a model that answers at once.
const stageMs = (name: string, last: number) => {
  const spans = recorder.byName(name).slice(-last);
  return percentile(spans.map((s) => s.duration[0] * 1000 + s.duration[1] / 1e6), 50);
};
/** Median process CPU (user + system, all threads) while a stage ran, from its span's readings. */
const stageCpuMs = (name: string, last: number) => {
  const spans = recorder.byName(name).slice(-last);
  return percentile(spans.map((s) => Number(s.attributes["process.cpu_user_ms"] ?? 0) + Number(s.attributes["process.cpu_system_ms"] ?? 0)), 50);
};
for (const [label, sigma] of [["grainy photo-like", 60], ["smooth photo-like", 25]] as const) {
  const fixed = await photoLike(1024, 99, sigma);
  let modelMs = 0;
  const instant: ImageModel = {
    provider: "gemini",
    model: "instant-fake",
    async generate(_request: ImageRequest) {
      const t = performance.now();
      const result = { bytes: fixed, mimeType: "image/png", model: "instant-fake", attempts: 1, inputTokens: 600, outputTokens: 1290 };
      modelMs = performance.now() - t;
      return result;
    },
  };
  const deps = createGenerationDeps({ config, telemetry, log: silentLogger, db: database.db, storage, imageModel: instant });
  const app = createApp({ config, telemetry, log: silentLogger, generation: deps });

  const direct: number[] = [];
  let cpuStart = process.cpuUsage();
  for (let i = 0; i < OVERHEAD_N + WARMUP; i++) {
    if (i === WARMUP) cpuStart = process.cpuUsage();
    const t = performance.now();
    await generateImage(deps, { prompt: prompts[i % prompts.length]!, aspectRatio: "1:1", seed: i });
    if (i >= WARMUP) direct.push(performance.now() - t - modelMs);
  }
  const cpu = process.cpuUsage(cpuStart);
  const cpuPerRequest = (cpu.user + cpu.system) / 1000 / OVERHEAD_N;
  const stages =
    `classify ${ms(stageMs("generation.classify", OVERHEAD_N))}, injection ${ms(stageMs("generation.injection", OVERHEAD_N))} ` +
    `(2 × storage.get ${ms(stageMs("storage.get", 2 * OVERHEAD_N))}), prompt_build ${ms(stageMs("generation.prompt_build", OVERHEAD_N))}, ` +
    `model call ${ms(stageMs("generation.gemini_api", OVERHEAD_N))}, store ${ms(stageMs("generation.store", OVERHEAD_N))} (storage.put ${ms(stageMs("storage.put", OVERHEAD_N))}); ` +
    `CPU: injection ${ms(stageCpuMs("generation.injection", OVERHEAD_N))}, store ${ms(stageCpuMs("generation.store", OVERHEAD_N))}`;
  const http: number[] = [];
  for (let i = 0; i < OVERHEAD_N + WARMUP; i++) {
    const t = performance.now();
    const res = await app.request("/api/generate", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: prompts[i % prompts.length], seed: i }) });
    if (res.status !== 201) throw new Error(`status ${res.status}`);
    await res.arrayBuffer();
    if (i >= WARMUP) http.push(performance.now() - t - modelMs);
  }
  console.log(`2. Pipeline overhead, model answers at once with a fixed ${label} 1024×1024 PNG (${(fixed.byteLength / 1024).toFixed(0)} KiB), ${OVERHEAD_N} requests, sequential`);
  console.log(`   generateImage():    p50 ${ms(percentile(direct, 50))}  p95 ${ms(percentile(direct, 95))}  (target p95 ≤ 50 ms); process CPU ${ms(cpuPerRequest)} per request (all threads)`);
  console.log(`   POST /api/generate: p50 ${ms(percentile(http, 50))}  p95 ${ms(percentile(http, 95))}`);
  console.log(`   stage medians (generateImage runs): ${stages}\n`);
}

await database.close();
await rm(dir, { recursive: true, force: true });
