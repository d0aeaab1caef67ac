/**
 * `bun run backfill`
 *
 * Fills in what uploads were stored without while a model was down (their answer listed
 * `degraded`): labels from the Gemini labeler (with `GEMINI_API_KEY`) and embeddings of the
 * configured embedder, into the configured database. Prints what it did; exits 1 when some image
 * still misses something, 2 when it could not start. An embedded data directory (PGlite) is
 * opened by one process at a time: stop the service first, or point both at Postgres.
 */
import { ConfigError, loadConfig } from "../config.ts";
import { backfillImages } from "../ingest/backfill.ts";
import { openIngestDeps } from "../ingest/context.ts";
import { createLogger } from "../log.ts";
import { createTelemetry } from "../telemetry/index.ts";

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`configuration error: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const log = createLogger({ level: config.logLevel === "info" ? "warn" : config.logLevel });
  const telemetry = createTelemetry(config.telemetry, { log });
  try {
    const opened = await openIngestDeps(config, { telemetry, log }).catch((error: unknown) => {
      console.error(`backfill: could not open the data: ${(error as Error).message}`);
      return undefined;
    });
    if (!opened) return 2;
    try {
      const report = await backfillImages(opened.deps);
      console.log(`labelled ${report.labelled}, embedded ${report.embedded} (${opened.deps.embedder.model}), still missing ${report.failed.length}`);
      if (!opened.deps.labeler) console.log("no labeler configured (GEMINI_API_KEY unset): images without caption or labels were left as they are");
      for (const f of report.failed) console.log(`missing: ${f.id} ${f.stage}: ${f.reason}`);
      return report.failed.length > 0 ? 1 : 0;
    } finally {
      await opened.close();
    }
  } finally {
    await telemetry.shutdown();
  }
}

if (import.meta.main) process.exit(await main());
