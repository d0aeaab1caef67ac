import { mkdir, rename, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { noopTelemetry, type Telemetry } from "../telemetry/index.ts";
import { openPglite, wrapPglite, type Database } from "./client.ts";
import { migrateDatabase, MIGRATIONS_FOLDER } from "./migrate.ts";

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

/** Cache files are keyed by the migrations and the PGlite/pgvector builds, so a change rebuilds them. */
async function cacheKey(): Promise<string> {
  const hash = new Bun.CryptoHasher("sha256");
  for (const name of (await readdir(MIGRATIONS_FOLDER)).sort()) {
    if (name.endsWith(".sql")) hash.update(name).update(await Bun.file(join(MIGRATIONS_FOLDER, name)).bytes());
  }
  for (const pkg of ["@electric-sql/pglite", "@electric-sql/pglite-pgvector"]) {
    hash.update(pkg).update(Bun.resolveSync(`${pkg}/package.json`, import.meta.dir));
    hash.update(await Bun.file(Bun.resolveSync(`${pkg}/package.json`, import.meta.dir)).text());
  }
  return hash.digest("hex").slice(0, 16);
}

async function cachedTemplates(): Promise<Templates> {
  const key = await cacheKey().catch(() => undefined);
  if (!key) return buildTemplates();
  const paths = { blank: join(tmpdir(), `his-pglite-${key}-blank.tar`), migrated: join(tmpdir(), `his-pglite-${key}-migrated.tar`) };
  const [blank, migrated] = [Bun.file(paths.blank), Bun.file(paths.migrated)];
  if ((await blank.exists()) && (await migrated.exists())) {
    return { blank: new Blob([await blank.arrayBuffer()]), migrated: new Blob([await migrated.arrayBuffer()]) };
  }
  const built = await buildTemplates();
  // Written beside, then renamed: a concurrent test process never reads half a file.
  await Promise.all(
    (["blank", "migrated"] as const).map(async (which) => {
      const temp = `${paths[which]}.${process.pid}.tmp`;
      await writeFile(temp, new Uint8Array(await built[which].arrayBuffer()));
      await rename(temp, paths[which]);
    }),
  ).catch(() => {});
  return built;
}

function getTemplates(): Promise<Templates> {
  templates ??= cachedTemplates();
  return templates;
}

/**
 * A fresh, migrated in-memory PGlite for a test. initdb and the migrations run once (the data
 * directory is cached in the OS temp folder, keyed by the migrations and PGlite build); each call
 * clones it (`dumpDataDir` / `loadDataDir`), several times faster than initdb. Close it when done.
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

/**
 * Puts a migrated PGlite (cloned from the template) in `dataDir/pglite`, so a test can start real
 * server processes on disk without paying initdb in each.
 *
 * @example
 * const dataDir = await mkdtemp(join(tmpdir(), "t-"));
 * await createTestDataDir(dataDir);
 */
export async function createTestDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const pglite = await openPglite({ dataDir: join(dataDir, "pglite"), loadDataDir: (await getTemplates()).migrated });
  await pglite.close();
}
