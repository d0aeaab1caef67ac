/**
 * Upload memory benchmark: 16 distinct ~20 MB PNGs (2560×2560 noise, 19.7 MiB each, just under
 * `MAX_UPLOAD_BYTES`) posted at once to `POST /api/images` of the service running as its own
 * process (`bun run src/server.ts`, in-memory PGlite, local blobs, offline embedder). Prints the
 * server's resident memory before, its peak during the burst (the kernel's VmHWM, reset after
 * warm-up, and the highest 20 ms sample), 5 s after, and every answer's status (201, or 503 with
 * `Retry-After`; a reset or any other status counts as a failure).
 *
 * Each round starts a fresh server. The upload settings (`UPLOAD_CONCURRENCY`,
 * `UPLOAD_QUEUE_LIMIT`) pass through from this process's environment.
 *
 * Run: bun run bench:upload-memory [rounds=3] [uploads=16]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { processMemory, spawnServer } from "../test/harness/server-process.ts";
import { median } from "./telemetry/processes.ts";

const ROUNDS = Number(process.argv[2] ?? 3);
const UPLOADS = Number(process.argv[3] ?? 16);
const SIDE = 2560;
const MB = 1024 * 1024;
const PASSED = ["UPLOAD_CONCURRENCY", "UPLOAD_QUEUE_LIMIT", "MAX_UPLOAD_BYTES"].filter((k) => process.env[k]);

async function noisePng(i: number): Promise<Uint8Array> {
  const background = `#${((i * 0x3f1d27) & 0xffffff).toString(16).padStart(6, "0")}`;
  const png = await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background, noise: { type: "gaussian", mean: 128, sigma: 50 } } })
    .png({ compressionLevel: 1 })
    .toBuffer();
  return new Uint8Array(png);
}

interface Answer {
  status: number | "reset";
  retryAfter: string | null;
  code?: string;
  ms: number;
}

async function upload(url: string, bytes: Uint8Array, i: number): Promise<Answer> {
  const form = new FormData();
  form.set("file", new File([bytes], `noise-${i}.png`, { type: "image/png" }));
  form.set("caption", `noise field number ${i}`);
  const started = performance.now();
  try {
    const res = await fetch(`${url}/api/images`, { method: "POST", body: form });
    const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
    return { status: res.status, retryAfter: res.headers.get("retry-after"), code: body.error?.code, ms: performance.now() - started };
  } catch {
    return { status: "reset", retryAfter: null, ms: performance.now() - started };
  }
}

const mb = (bytes: number) => (bytes / MB).toFixed(0);

console.log(
  `upload memory: ${UPLOADS} parallel uploads of distinct ${SIDE}×${SIDE} noise PNGs, ${ROUNDS} round(s), Bun ${Bun.version}, ` +
    `${availableParallelism()} cores, load ${loadavg().map((l) => l.toFixed(2)).join(" ")}` +
    (PASSED.length ? `, ${PASSED.map((k) => `${k}=${process.env[k]}`).join(" ")}` : ""),
);
const images: Uint8Array[] = [];
for (let i = 0; i < UPLOADS; i++) images.push(await noisePng(i));
console.log(`images: ${images.length} × ${(median(images.map((b) => b.byteLength)) / MB).toFixed(2)} MiB (median), ${(images.reduce((s, b) => s + b.byteLength, 0) / MB).toFixed(0)} MiB in all`);

const growths: number[] = [];
const peaks: number[] = [];
let failures = 0;
for (let round = 1; round <= ROUNDS; round++) {
  const dir = await mkdtemp(join(tmpdir(), "bench-upload-memory-"));
  const env: Record<string, string> = { PORT: "0", HOST: "127.0.0.1", DATABASE_URL: "memory://", OTEL_SDK_DISABLED: "true", DATA_DIR: dir };
  for (const k of PASSED) env[k] = process.env[k]!;
  const server = spawnServer(env);
  const memory = processMemory(server.proc.pid);
  try {
    const { url } = (await server.waitForLine(/"msg":"listening"/, 90_000)) as { url: string };
    // Warm-up: one small upload loads the word vectors (~300 MB) and the decoders, so the burst's
    // growth is the uploads' own.
    const small = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#336699" } }).png().toBuffer();
    const warm = await upload(url, new Uint8Array(small), -1);
    if (warm.status !== 201) throw new Error(`warm-up upload answered ${warm.status}`);
    // Baseline once RSS has settled (two reads 500 ms apart within 5 MB, 20 s at most): right
    // after the warm-up the collector may still be returning memory.
    let before = await memory.rss();
    for (let waited = 0; waited < 20_000; waited += 500) {
      await Bun.sleep(500);
      const now = await memory.rss();
      const settled = Math.abs(now - before) < 5 * MB;
      before = now;
      if (settled && waited >= 2_000) break;
    }
    await memory.resetPeak();
    let sampled = before;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        sampled = Math.max(sampled, await memory.rss().catch(() => 0));
        await Bun.sleep(20);
      }
    })();
    const started = performance.now();
    const answers = await Promise.all(images.map((bytes, i) => upload(url, bytes, i)));
    const wall = performance.now() - started;
    sampling = false;
    await sampler;
    const peak = Math.max(await memory.peak(), sampled);
    await Bun.sleep(5_000);
    const after = await memory.rss();

    const byStatus = new Map<string, number>();
    for (const a of answers) byStatus.set(String(a.status), (byStatus.get(String(a.status)) ?? 0) + 1);
    const bad = answers.filter((a) => a.status !== 201 && !(a.status === 503 && a.retryAfter !== null));
    failures += bad.length;
    const retryAfters = answers.filter((a) => a.status === 503).map((a) => a.retryAfter);
    growths.push(peak - before);
    peaks.push(peak);
    console.log(
      `round ${round}: RSS before ${mb(before)} MB, peak ${mb(peak)} MB (growth ${mb(peak - before)} MB), 5 s after ${mb(after)} MB; ` +
        `answers ${[...byStatus].map(([s, n]) => `${s}×${n}`).join(" ")}` +
        (retryAfters.length ? ` (Retry-After ${retryAfters.join(",")})` : "") +
        (bad.length ? ` FAILED: ${bad.map((a) => `${a.status}${a.code ? ` ${a.code}` : ""}`).join(", ")}` : "") +
        `; burst ${(wall / 1000).toFixed(1)} s, slowest answer ${(Math.max(...answers.map((a) => a.ms)) / 1000).toFixed(1)} s`,
    );
  } finally {
    server.proc.kill("SIGTERM");
    await server.exit();
    await rm(dir, { recursive: true, force: true });
  }
}
console.log(
  `peak RSS growth, median of ${ROUNDS}: ${mb(median(growths))} MB (target ≤ 300 MB); peak RSS median ${mb(median(peaks))} MB; answers other than 201 or 503+Retry-After: ${failures}`,
);
if (failures > 0) process.exitCode = 1;
