import type { PGlite } from "@electric-sql/pglite";
import { noopTelemetry, type Telemetry } from "../telemetry/index.ts";
import { openPglite, wrapPglite, type Database } from "./client.ts";
import { migrateDatabase } from "./migrate.ts";

interface Templates {
  /** initdb only: no extension, no tables. */
  blank: Blob;
  /** Every migration applied. */
  migrated: Blob;
}

let templates: Promise<Templates> | undefined;

async function buildTemplates(): Promise<Templates> {
  const pglite = await openPglite();
  try {
    const blank = await pglite.dumpDataDir("none");
    await migrateDatabase(wrapPglite(pglite, noopTelemetry(), "pglite-memory"));
    const migrated = await pglite.dumpDataDir("none");
    return { blank, migrated };
  } finally {
    await pglite.close();
  }
}

function getTemplates(): Promise<Templates> {
  templates ??= buildTemplates();
  return templates;
}

/**
 * A fresh, migrated in-memory PGlite for a test. initdb and the migrations run once per process;
 * each call clones that data directory (`dumpDataDir` / `loadDataDir`), several times faster than
 * initdb. Close it when done.
 *
 * @example
 * const database = await createTestDatabase(telemetry);
 * afterAll(() => database.close());
 */
export async function createTestDatabase(telemetry: Telemetry = noopTelemetry()): Promise<Database & { pglite: PGlite }> {
  const pglite = await openPglite({ loadDataDir: (await getTemplates()).migrated });
  return Object.assign(wrapPglite(pglite, telemetry, "pglite-memory"), { pglite });
}

/**
 * A fresh in-memory PGlite with pgvector available but nothing migrated (for migration tests
 * and servers that migrate themselves), cloned like `createTestDatabase`.
 *
 * @example
 * const pglite = await createBlankPglite();
 */
export async function createBlankPglite(): Promise<PGlite> {
  return openPglite({ loadDataDir: (await getTemplates()).blank });
}
