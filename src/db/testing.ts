import { PGlite } from "@electric-sql/pglite";
import { noopTelemetry, type Telemetry } from "../telemetry/index.ts";
import { openPglite, wrapPglite, type Database } from "./client.ts";
import { migrateDatabase } from "./migrate.ts";

let template: Promise<Blob> | undefined;

async function buildTemplate(): Promise<Blob> {
  const pglite = await openPglite();
  try {
    await migrateDatabase(wrapPglite(pglite, noopTelemetry(), "pglite-memory"));
    return await pglite.dumpDataDir("none");
  } finally {
    await pglite.close();
  }
}

/**
 * A fresh, migrated in-memory PGlite for a test. The migrations run once per process; each call
 * clones that migrated data directory (`dumpDataDir` / `loadDataDir`), which is much faster than
 * initdb and migrating again. Close it when done.
 *
 * @example
 * const database = await createTestDatabase(telemetry);
 * afterAll(() => database.close());
 */
export async function createTestDatabase(telemetry: Telemetry = noopTelemetry()): Promise<Database & { pglite: PGlite }> {
  template ??= buildTemplate();
  const pglite = await openPglite({ loadDataDir: await template });
  return Object.assign(wrapPglite(pglite, telemetry, "pglite-memory"), { pglite });
}
