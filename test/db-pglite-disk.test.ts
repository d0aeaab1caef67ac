import { afterAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { openDatabase, type Database } from "../src/db/client.ts";
import { silentLogger } from "../src/log.ts";
import { createTestTelemetry } from "../src/telemetry/index.ts";
import { describeRepository } from "./db-repository.shared.ts";

const dataDir = await mkdtemp(join(tmpdir(), "db-disk-"));
afterAll(() => rm(dataDir, { recursive: true, force: true }));

async function migrationsApplied(database: Database): Promise<number> {
  const result = (await database.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)) as unknown as { rows: Array<{ n: number }> };
  return result.rows[0]!.n;
}

describeRepository("PGlite on disk", async () => {
  const { telemetry, recorder } = createTestTelemetry();
  const open = () => openDatabase({ dataDir, telemetry, log: silentLogger });
  const target = {
    database: await open(),
    telemetry,
    recorder,
    async reopen(database: Database) {
      const applied = await migrationsApplied(database);
      await database.close();
      const reopened = await open();
      expect(reopened.kind).toBe("pglite-disk");
      expect(await migrationsApplied(reopened)).toBe(applied);
      return reopened;
    },
    close: () => target.database.close(),
  };
  expect(target.database.kind).toBe("pglite-disk");
  expect(await Bun.file(join(dataDir, "pglite", "PG_VERSION")).exists()).toBe(true);
  return target;
});

test("a data directory that cannot be created stops startup with one clear error", async () => {
  const { telemetry } = createTestTelemetry();
  const blocker = join(dataDir, "a-file");
  await Bun.write(blocker, "not a directory");
  await expect(openDatabase({ dataDir: blocker, telemetry, log: silentLogger })).rejects.toThrow(/embedded database in .*a-file\/pglite cannot be opened/);
});
