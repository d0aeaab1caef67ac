/**
 * Many images through the ingest pipeline, a few at a time, with progress: the engine behind
 * `bun run ingest` and `bun run seed`. Images go either straight into the pipeline (this process
 * opens the database and blob store) or to a running service over HTTP (`POST /api/images`).
 */
import { SPAN, type Telemetry } from "../telemetry/index.ts";
import { ingestImage, type IngestDeps, type IngestInput } from "./pipeline.ts";

/** What happened to one file. */
export interface BulkOutcome {
  name: string;
  status: "ingested" | "skipped" | "failed";
  id?: string;
  reason?: string;
  /** Skipped (already stored): its fields that differ from the stored record and were not applied. */
  notApplied?: string[];
}

/** One file to ingest; `load` reads (or renders) it only when its turn comes. */
export interface BulkItem {
  name: string;
  load(): Promise<IngestInput>;
}

/** Where images go: answers the stored id and whether it was new. */
export type IngestSink = (input: IngestInput, name: string) => Promise<{ id: string; created: boolean; notApplied?: string[] }>;

/**
 * A sink that runs the pipeline in this process; each file is one trace rooted at `ingest.file`.
 *
 * @example
 * const sink = pipelineSink(deps);
 */
export function pipelineSink(deps: IngestDeps & { telemetry: Telemetry }): IngestSink {
  return (input, name) =>
    deps.telemetry.tracedSpan(SPAN.ingestFile, { "ingest.file.name": name, "ingest.file.bytes": input.bytes.byteLength }, async (span) => {
      const { image, created, notApplied } = await ingestImage(deps, input);
      span.setAttributes({ "image.id": image.id, "ingest.created": created });
      return { id: image.id, created, notApplied };
    });
}

/**
 * A sink that uploads to a running service (`POST <baseUrl>/api/images`); 201 is new, 200 was
 * already stored (with the fields not applied), anything else fails with the service's error message.
 *
 * @example
 * const sink = httpSink("http://127.0.0.1:3000", process.env.API_KEY);
 */
export function httpSink(baseUrl: string, apiKey?: string, timeoutMs = 120_000): IngestSink {
  const endpoint = `${baseUrl.replace(/\/+$/, "")}/api/images`;
  return async (input, name) => {
    const form = new FormData();
    form.append("file", new File([input.bytes], input.originalName ?? name.split("/").pop() ?? "image"));
    if (input.caption) form.append("caption", input.caption);
    if (input.labels && input.labels.length > 0) form.append("labels", input.labels.join(","));
    if (input.category) form.append("category", input.category);
    if (input.role) form.append("role", input.role);
    const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
    const response = await fetch(endpoint, { method: "POST", body: form, headers, signal: AbortSignal.timeout(timeoutMs) });
    const body = (await response.json().catch(() => ({}))) as { id?: string; notApplied?: string[]; error?: { code?: string; message?: string } };
    if ((response.status === 201 || response.status === 200) && body.id) return { id: body.id, created: response.status === 201, notApplied: body.notApplied };
    throw new Error(body.error?.message ? `${response.status} ${body.error.code}: ${body.error.message}` : `HTTP ${response.status}`);
  };
}

/** Progress after each file. */
export interface BulkProgress {
  done: number;
  total: number;
  ingested: number;
  skipped: number;
  failed: number;
  elapsedMs: number;
}

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "--:--";
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * One progress-bar line: bar, count, percentage, rate and ETA.
 *
 * @example
 * progressLine({ done: 12, total: 48, ingested: 10, skipped: 2, failed: 0, elapsedMs: 4000 })
 * // "[#####...............]  12/48  25%  3.0 img/s  ETA 0:12  (10 new, 2 skipped, 0 failed)"
 */
export function progressLine(p: BulkProgress, width = 20): string {
  const fraction = p.total === 0 ? 1 : p.done / p.total;
  const filled = Math.round(fraction * width);
  const rate = p.elapsedMs > 0 ? (p.done * 1000) / p.elapsedMs : 0;
  const eta = rate > 0 ? ((p.total - p.done) / rate) * 1000 : Number.POSITIVE_INFINITY;
  const count = `${String(p.done).padStart(String(p.total).length)}/${p.total}`;
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]  ${count}  ${Math.floor(fraction * 100)}%  ${rate.toFixed(1)} img/s  ETA ${p.done === p.total ? "0:00" : formatDuration(eta)}  (${p.ingested} new, ${p.skipped} skipped, ${p.failed} failed)`;
}

/**
 * Ingests every item, `concurrency` at a time; one failure never stops the rest.
 *
 * @example
 * const outcomes = await runBulk(items, pipelineSink(deps), { concurrency: 4, onProgress: (p) => bar.update(p) });
 */
export async function runBulk(
  items: readonly BulkItem[],
  sink: IngestSink,
  options: { concurrency: number; onProgress?: (progress: BulkProgress) => void },
): Promise<BulkOutcome[]> {
  const started = performance.now();
  const outcomes: BulkOutcome[] = new Array(items.length);
  const progress: BulkProgress = { done: 0, total: items.length, ingested: 0, skipped: 0, failed: 0, elapsedMs: 0 };
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      const item = items[index]!;
      let outcome: BulkOutcome;
      try {
        const { id, created, notApplied } = await sink(await item.load(), item.name);
        outcome = { name: item.name, status: created ? "ingested" : "skipped", id, ...(notApplied && notApplied.length > 0 ? { notApplied } : {}) };
      } catch (error) {
        outcome = { name: item.name, status: "failed", reason: error instanceof Error ? error.message : String(error) };
      }
      outcomes[index] = outcome;
      progress.done++;
      progress[outcome.status]++;
      progress.elapsedMs = performance.now() - started;
      options.onProgress?.({ ...progress });
    }
  }
  const workers = Math.max(1, Math.min(options.concurrency, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return outcomes;
}

/**
 * A progress reporter on a stream: redraws one line on a terminal, prints a line every few
 * seconds (and at the end) otherwise.
 *
 * @example
 * const report = progressReporter(process.stderr);
 * await runBulk(items, sink, { concurrency: 4, onProgress: report });
 */
export function progressReporter(stream: { write(text: string): unknown; isTTY?: boolean }, everyMs = 2_000): (p: BulkProgress) => void {
  let lastPrint = 0;
  return (p) => {
    const line = progressLine(p);
    if (stream.isTTY) {
      stream.write(`\r\x1b[2K${line}${p.done === p.total ? "\n" : ""}`);
      return;
    }
    if (p.done === p.total || p.elapsedMs - lastPrint >= everyMs) {
      lastPrint = p.elapsedMs;
      stream.write(`${line}\n`);
    }
  };
}

/**
 * The closing summary: counts, then each failure with its reason, then each skipped file whose
 * metadata differs from what is stored (it was not applied).
 *
 * @example
 * console.log(summarize(outcomes));
 */
export function summarize(outcomes: readonly BulkOutcome[]): string {
  const count = (s: BulkOutcome["status"]) => outcomes.filter((o) => o.status === s).length;
  const lines = [`ingested ${count("ingested")}, skipped ${count("skipped")} (already stored), failed ${count("failed")}`];
  for (const o of outcomes) if (o.status === "failed") lines.push(`  failed: ${o.name}: ${o.reason}`);
  for (const o of outcomes) {
    if (o.notApplied) lines.push(`  skipped: ${o.name}: already stored as ${o.id}; not applied (the stored values were kept): ${o.notApplied.join(", ")}`);
  }
  return lines.join("\n");
}
