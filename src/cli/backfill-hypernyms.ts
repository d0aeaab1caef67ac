/**
 * `bun run backfill:hypernyms [--batch 500] [--check]`
 *
 * Adds WordNet hypernyms to images stored without them (before migration 0002, or by a process
 * whose expansion failed), so full text finds them by the kind of thing they show. Works on the
 * configured database (`DATABASE_URL`, or PGlite in `DATA_DIR`: stop the service first, the
 * embedded database has one owner). Safe to run twice or beside a service on Neon: only rows
 * still without hypernyms are written. `--check` only counts them and exits 1 when there are any.
 */
import { parseArgs } from "node:util";
import { createWordVectors } from "../ai/index.ts";
import { ConfigError, loadConfig } from "../config.ts";
import { countImagesWithoutHypernyms, openDatabase } from "../db/index.ts";
import { backfillHypernyms, createHypernymExpander } from "../ingest/hypernyms.ts";
import { createLogger } from "../log.ts";
import { createTelemetry } from "../telemetry/index.ts";

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { batch: { type: "string", default: "500" }, check: { type: "boolean", default: false } } });
  const batchSize = Number(values.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 5000) {
    console.error("--batch must be a whole number from 1 to 5000");
    return 2;
  }
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
  const log = createLogger({ level: config.logLevel });
  const telemetry = createTelemetry(config.telemetry, { log });
  try {
    const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, telemetry, log, migrate: config.migrateOnStart });
    try {
      const missing = await countImagesWithoutHypernyms(database.db);
      if (values.check || missing === 0) {
        console.log(`${missing} image(s) without hypernyms`);
        return values.check && missing > 0 ? 1 : 0;
      }
      const expander = createHypernymExpander({ wordVectors: createWordVectors({ log }) });
      const report = await backfillHypernyms(
        { db: database.db, expander, log },
        { batchSize, onBatch: (r) => process.stderr.write(`\r${r.written}/${missing} images expanded (${r.ms} ms)`) },
      );
      process.stderr.write("\n");
      const left = await countImagesWithoutHypernyms(database.db);
      console.log(`${report.written} image(s) given hypernyms in ${report.ms} ms; ${left} left without`);
      return left === 0 ? 0 : 1;
    } finally {
      await database.close();
    }
  } catch (error) {
    log.error(`backfill failed: ${(error as Error).message}`);
    return 1;
  } finally {
    await telemetry.shutdown();
  }
}

if (import.meta.main) process.exit(await main());
