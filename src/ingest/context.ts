/**
 * Opens what the ingest pipeline needs outside the HTTP server (the bulk CLIs): the database,
 * the blob store and the model providers chosen by the settings.
 */
import { createAiProviders } from "../ai/index.ts";
import type { AppConfig } from "../config.ts";
import { openDatabase } from "../db/client.ts";
import { maintain } from "../db/maintenance.ts";
import type { Logger } from "../log.ts";
import { createBlobStore } from "../storage/index.ts";
import type { Telemetry } from "../telemetry/index.ts";
import { createHypernymExpander } from "./hypernyms.ts";
import type { IngestDeps } from "./pipeline.ts";

/**
 * Opens the database (migrating it when `DB_MIGRATE_ON_START` says so), the blob store and the
 * embedder/labeler; `close` releases them, after a `VACUUM ANALYZE` when the run wrote (PGlite
 * runs no autovacuum). A data directory another process holds throws
 * `DataDirLockedError` naming it.
 *
 * @example
 * const { deps, close } = await openIngestDeps(config, { telemetry, log });
 * await ingestImage(deps, { bytes });
 * await close();
 */
export async function openIngestDeps(
  config: AppConfig,
  options: { telemetry: Telemetry; log: Logger; owner?: string },
): Promise<{ deps: IngestDeps; close(options?: { wrote?: boolean }): Promise<void> }> {
  const { telemetry, log } = options;
  // An embedded data directory is locked here: a CLI never writes beside a running service.
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, telemetry, log, migrate: config.migrateOnStart, owner: options.owner });
  try {
    const storage = await createBlobStore(config, telemetry, log);
    const ai = createAiProviders(config, { telemetry, log });
    return {
      deps: { db: database.db, storage, embedder: ai.embedder, labeler: ai.labeler, hypernyms: createHypernymExpander({ wordVectors: ai.wordVectors }), telemetry, config, log },
      // `wrote: false` (a run that only counted, or stored nothing new) skips the vacuum: ~1 s at 100k images for nothing.
      async close({ wrote = true } = {}) {
        await storage.close();
        if (wrote) await maintain(database, { force: true, log }).catch((error: unknown) => log.warn("vacuum analyze after the ingest failed", { error: (error as Error).message }));
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}
