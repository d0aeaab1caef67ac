import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { bulkInsertImages } from "../src/db/images.ts";
import { maintain, startMaintenance } from "../src/db/maintenance.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { createLogger } from "../src/log.ts";
import { newImage, nearVector } from "./db-repository.shared.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  database = await createTestDatabase();
}, 60_000);
afterAll(() => database?.close());

async function load(prefix: string, rows: number) {
  await bulkInsertImages(
    database.db,
    Array.from({ length: rows }, (_, i) => ({
      image: newImage({ sha256: `${prefix}-${i}`, caption: `a maintained caption number ${i}`, labels: ["maintenance"] }),
      embeddings: [{ model: "wink-sg-100d", dimensions: 100, vector: nearVector(i % 7, 100, 0.2, i) }],
    })),
  );
}

async function analysedRows(table: string): Promise<number> {
  const result = await database.pglite.query<{ n: number }>("select reltuples::int as n from pg_class where relname = $1", [table]);
  return result.rows[0]!.n;
}

/** Rows waiting in the full-text index's GIN pending list (what VACUUM merges into the index). */
async function pendingGinEntries(): Promise<number> {
  const result = await database.pglite.query<{ n: number }>("select gin_clean_pending_list('images_search_tsv_idx')::int as n");
  return result.rows[0]!.n;
}

describe("VACUUM ANALYZE for PGlite, which runs no autovacuum", () => {
  test("vacuums and analyses the tables a bulk load grew, and only them; a second run finds nothing to do", async () => {
    await load("grow", 2000);
    expect(await analysedRows("images")).toBeLessThan(0);
    const first = await maintain(database);
    expect(first.tables).toEqual(expect.arrayContaining(["images", "image_embeddings"]));
    expect(first.tables).not.toContain("generations");
    expect(await analysedRows("images")).toBe(2000);
    expect(await analysedRows("image_embeddings")).toBe(2000);
    // VACUUM merged the new rows into the full-text index: nothing left in its pending list.
    expect(await pendingGinEntries()).toBe(0);
    expect((await maintain(database)).tables).toEqual([]);
  });

  test("a few more rows are not worth a vacuum; a tenth more are; force vacuums everything", async () => {
    await load("few", 5);
    expect((await maintain(database)).tables).toEqual([]);
    await load("tenth", 400);
    expect((await maintain(database)).tables).toEqual(expect.arrayContaining(["images", "image_embeddings"]));
    expect(await analysedRows("images")).toBe(2405);
    const forced = await maintain(database, { force: true });
    expect(forced.tables).toEqual(expect.arrayContaining(["images", "image_embeddings", "generations", "search_vocabulary"]));
  });

  test("the service's loop runs it at start and every interval, logs what it did, and stops cleanly", async () => {
    const lines: string[] = [];
    const log = createLogger({ level: "info", write: (line) => lines.push(line) });
    await load("loop", 600);
    const loop = startMaintenance(database, { intervalMs: 20, log });
    while (!lines.some((l) => l.includes("database maintenance"))) await Bun.sleep(10);
    await load("loop-later", 700);
    while (lines.filter((l) => l.includes("database maintenance")).length < 2) await Bun.sleep(10);
    await loop.stop();
    expect(JSON.parse(lines.find((l) => l.includes("database maintenance"))!).tables).toContain("images");
  });

  test("a database that vacuums by itself (Neon) is left alone", async () => {
    const neonLike = { ...database, autovacuum: true, db: { execute: () => Promise.reject(new Error("must not be called")) } as never };
    expect(await maintain(neonLike, { force: true })).toEqual({ tables: [], ms: 0 });
    await startMaintenance(neonLike, { intervalMs: 10 }).stop();
  });
});

test("the pending-list probe sees unmerged rows (so the check above can fail)", async () => {
  const fresh = await createTestDatabase();
  try {
    await bulkInsertImages(fresh.db, [{ image: newImage({ sha256: "probe", caption: "pending words" }), embeddings: [] }]);
    const pending = await fresh.pglite.query<{ n: number }>("select gin_clean_pending_list('images_search_tsv_idx')::int as n");
    expect(pending.rows[0]!.n).toBeGreaterThan(0);
    await fresh.db.execute(sql`select 1`);
  } finally {
    await fresh.close();
  }
});
