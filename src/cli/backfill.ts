/**
 * `bun run backfill [--check] [--batch N]`
 *
 * Fills in what images were stored without, in the configured database: labels from the vision
 * labeler (with `GEMINI_API_KEY`; uploads made while it was down answered `degraded`), embeddings
 * of the configured embedder (it was down, or the model changed), WordNet hypernyms (images stored
 * before migration 0002, or while WordNet could not be read). Safe to run twice, and beside a
 * service on Neon: only what is still missing is written. An embedded data directory (PGlite) has
 * one owner: beside a service there it refuses, naming the service (stop it first).
 *
 * `--check` only counts what is missing. Exit 0: nothing missing (any more); 1: something is
 * (after a run: the images it could not fill, listed); 2: it could not start.
 * `bun run doctor --repair` fills the same parts with the same functions, beside its other checks.
 */
import { parseArgs } from "node:util";
import { countImagesMissing, type Missing } from "../db/images.ts";
import { backfillImages } from "../ingest/backfill.ts";
import { openIngestDeps } from "../ingest/context.ts";
import type { IngestDeps } from "../ingest/pipeline.ts";
import { createTelemetry } from "../telemetry/index.ts";
import { cliConfig } from "./ingest.ts";

const USAGE = "usage: bun run backfill [--check] [--batch N]   (N images a page, 1 to 5000; default 50, hypernyms 500)";

/** What is missing, part by part; `fillable` false: counted, but nothing configured fills it. */
async function countMissing(deps: IngestDeps): Promise<{ part: string; missing: number; fillable: boolean; note?: string }[]> {
  const count = (missing: Missing) => countImagesMissing(deps.db, missing);
  return [
    {
      part: "images without caption or labels",
      missing: await count("text"),
      fillable: deps.labeler !== undefined,
      note: deps.labeler ? undefined : "no labeler configured, GEMINI_API_KEY unset: left as they are",
    },
    { part: `images without a ${deps.embedder.model} embedding`, missing: await count({ embedding: deps.embedder.model }), fillable: true },
    { part: "images without hypernyms", missing: await count("hypernyms"), fillable: deps.hypernyms !== undefined },
  ];
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ options: { check: { type: "boolean", default: false }, batch: { type: "string" } } }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const batchSize = values.batch === undefined ? undefined : Number(values.batch);
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 5000)) {
    console.error("--batch must be a whole number from 1 to 5000");
    return 2;
  }
  const { config, log } = cliConfig();
  const telemetry = createTelemetry(config.telemetry, { log });
  try {
    // An embedded data directory is locked here: beside a running service this throws, naming it.
    const opened = await openIngestDeps(config, { telemetry, log, owner: "backfill" }).catch((error: unknown) => {
      console.error(`backfill: could not open the data: ${(error as Error).message}`);
      return undefined;
    });
    if (!opened) return 2;
    const { deps } = opened;
    let wrote = false;
    try {
      const before = await countMissing(deps);
      for (const c of before) console.log(`${c.part}: ${c.missing}${c.note && c.missing > 0 ? ` (${c.note})` : ""}`);
      const missing = (counts: typeof before) => counts.reduce((n, c) => n + (c.fillable ? c.missing : 0), 0);
      if (values.check || missing(before) === 0) return missing(before) > 0 ? 1 : 0;

      const started = performance.now();
      const totals = { labels: before[0]!.missing, embeddings: before[1]!.missing, hypernyms: before[2]!.missing };
      wrote = true;
      const report = await backfillImages(deps, {
        batchSize,
        onProgress: (part, done) => process.stderr.write(`\r${part}: ${done}/${totals[part]} images`),
      });
      process.stderr.write("\n");
      for (const f of report.failed) console.log(`could not fill: ${f.id} ${f.stage}: ${f.reason}`);
      const left = missing(await countMissing(deps));
      console.log(
        `labelled ${report.labelled}, embedded ${report.embedded} (${deps.embedder.model}), expanded ${report.expanded} (hypernyms) ` +
          `in ${Math.round(performance.now() - started)} ms; still missing ${left}`,
      );
      return left > 0 ? 1 : 0;
    } catch (error) {
      console.error(`backfill failed: ${(error as Error).message}`);
      return 1;
    } finally {
      await opened.close({ wrote });
    }
  } finally {
    await telemetry.shutdown();
  }
}

if (import.meta.main) process.exit(await main());
