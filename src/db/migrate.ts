import { fileURLToPath } from "node:url";
import { migrate as migrateNeon } from "drizzle-orm/neon-serverless/migrator";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import type { NeonDatabase } from "drizzle-orm/neon-serverless";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import type { Logger } from "../log.ts";
import type { Database } from "./client.ts";
import { toDatabaseError } from "./errors.ts";

/**
 * The committed drizzle-kit migrations (drizzle/ at the project root; the image must ship it).
 *
 * @example
 * await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
 */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));

/**
 * Applies pending migrations (drizzle's migrator; applied ones are recorded in
 * `drizzle.__drizzle_migrations`, so running it again does nothing).
 *
 * @example
 * await migrateDatabase(database, log);
 */
export async function migrateDatabase(database: Database, log?: Logger): Promise<void> {
  const started = performance.now();
  try {
    if (database.kind === "neon") {
      await migrateNeon(database.db as unknown as NeonDatabase, { migrationsFolder: MIGRATIONS_FOLDER });
    } else {
      await migratePglite(database.db as unknown as PgliteDatabase, { migrationsFolder: MIGRATIONS_FOLDER });
    }
  } catch (error) {
    throw toDatabaseError(error);
  }
  log?.debug("database migrated", { kind: database.kind, ms: Math.round(performance.now() - started) });
}

async function main(): Promise<void> {
  const { loadConfig } = await import("../config.ts");
  const { createLogger } = await import("../log.ts");
  const { noopTelemetry } = await import("../telemetry/index.ts");
  const { openDatabase } = await import("./client.ts");
  const config = loadConfig(process.env);
  const log = createLogger({ level: config.logLevel });
  try {
    const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, telemetry: noopTelemetry(), log, migrate: true, owner: "db:migrate" });
    await database.close();
    log.info("migrations applied", { kind: database.kind });
  } catch (error) {
    log.error(`migration failed: ${(error as Error).message}`);
    process.exit(1);
  }
}

if (import.meta.main) await main();
