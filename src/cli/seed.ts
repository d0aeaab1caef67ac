/**
 * `bun run seed [--url http://host:port | --direct]`: fills an empty service with the demo corpus
 * (captioned scenes drawn offline, tone and angle references per category) through the same
 * ingest pipeline as uploads: uploaded to the running service when one answers (default
 * `http://127.0.0.1:$PORT`, then the server holding `DATA_DIR`), else straight into the configured
 * database and blob store when this process can take the data directory's lock (else exit code
 * 2, naming the holder). Runs again safely: what is already stored is skipped.
 */
import { parseArgs } from "node:util";
import type { BulkItem } from "../ingest/bulk.ts";
import { DEMO_IMAGES } from "../ingest/demo/corpus.ts";
import { renderScene } from "../ingest/demo/render.ts";
import { cliConfig, runWithProgress, serviceOrExit } from "./ingest.ts";

/**
 * The demo corpus as bulk items (rendered when their turn comes).
 *
 * @example
 * await runBulk(demoItems(), sink, { concurrency: 4 });
 */
export function demoItems(): BulkItem[] {
  return DEMO_IMAGES.map((entry) => ({
    name: entry.slug,
    load: async () => ({
      bytes: await renderScene(entry.scene, entry.slug),
      caption: entry.caption,
      labels: entry.labels,
      category: entry.category,
      role: entry.role,
      originalName: `${entry.slug}.jpg`,
    }),
  }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { url: { type: "string" }, direct: { type: "boolean", default: false }, concurrency: { type: "string", default: "4" } } });
  const { config, log } = cliConfig();
  const url = await serviceOrExit(config, values);
  console.error(url ? `seeding ${url}` : "seeding in this process (no service answered)");
  const started = performance.now();
  const outcomes = await runWithProgress(config, log, demoItems(), { concurrency: Math.max(1, Number(values.concurrency) || 4), url, apiKey: process.env.API_KEY, owner: "seed" });
  console.log(`demo corpus: ${DEMO_IMAGES.length} images in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  process.exit(outcomes.some((o) => o.status === "failed") ? 1 : 0);
}

if (import.meta.main) await main();
