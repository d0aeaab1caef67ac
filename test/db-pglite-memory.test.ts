import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import { bulkInsertImages } from "../src/db/images.ts";
import { migrateDatabase } from "../src/db/migrate.ts";
import { vectorCandidates, vectorCandidatesStatement, type VectorQuery } from "../src/db/search.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { createTestTelemetry } from "../src/telemetry/index.ts";
import { describeRepository, nearVector, newImage, tag } from "./db-repository.shared.ts";

describeRepository("PGlite in memory", async () => {
  const { telemetry, recorder } = createTestTelemetry();
  const database = await createTestDatabase(telemetry);
  return { database, telemetry, recorder, close: () => database.close() };
});

describe("PGlite specifics", () => {
  const { telemetry } = createTestTelemetry();
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const category = "rare-" + tag("");
  const query = nearVector(1, 100, 0);

  beforeAll(async () => {
    database = await createTestDatabase(telemetry);
    // 400 rows in 8 clusters; 5% (20 rows) are in a rare category, all in a cluster far from the query.
    const rows = Array.from({ length: 400 }, (_, i) => ({
      image: newImage({ sha256: `bulk-${i}`, category: i % 20 === 0 ? category : "common" }),
      vector: nearVector(i % 20 === 0 ? 77 : (i % 8) + 1, 100, 0.3, i),
    }));
    await bulkInsertImages(database.db, rows.map(({ image, vector }) => ({ image, embeddings: [{ model: "wink-sg-100d", dimensions: 100, vector }] })));
  }, 60_000);
  afterAll(() => database?.close());

  async function explain(query: VectorQuery): Promise<string> {
    const { sql: text, params } = new PgDialect().sqlToQuery(vectorCandidatesStatement(query));
    const plan = await database.pglite.query<{ "QUERY PLAN": string }>(`explain ${text}`, params);
    return plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
  }

  test("vectorCandidates runs the same expression as the model's HNSW partial index, so the planner can use it", async () => {
    const plan = await explain({ model: "wink-sg-100d", dimensions: 100, vector: query, k: 10, efSearch: 40 });
    expect(plan).toContain("Index Scan using image_embeddings_wink_sg_100d_hnsw");
  });

  test("the statement's own ef_search and iterative scan fill k from the HNSW index under a selective filter, and end with it", async () => {
    // Small tables make the planner prefer the category index plus a sort (exact, also fine); take
    // sorting away so the HNSW path is the one measured, as it is at scale.
    await database.pglite.exec("set enable_sort = off; set enable_seqscan = off");
    try {
      const filtered = await vectorCandidates(database.db, { model: "wink-sg-100d", dimensions: 100, vector: query, k: 10, efSearch: 10, filters: { category } });
      expect(await explain({ model: "wink-sg-100d", dimensions: 100, vector: query, k: 10, efSearch: 10, filters: { category } })).toContain(
        "Index Scan using image_embeddings_wink_sg_100d_hnsw",
      );
      expect(filtered).toHaveLength(10);
      const rare = await database.pglite.query<{ id: string }>("select id from images where category = $1", [category]);
      const rareIds = new Set(rare.rows.map((r) => r.id));
      expect(filtered.every((h) => rareIds.has(h.id) && h.image.category === category)).toBe(true);
      // The settings were the statement's own: the session is back to pgvector's defaults.
      const settings = await database.pglite.query<{ ef: string; scan: string }>("select current_setting('hnsw.ef_search') as ef, current_setting('hnsw.iterative_scan') as scan");
      expect(settings.rows[0]).toEqual({ ef: "40", scan: "off" });
      // The same index scan without iterative scans stops after ef_search graph neighbours, nearly none of them rare.
      const starved = await database.pglite.transaction(async (tx) => {
        await tx.query("set local hnsw.ef_search = 10");
        return tx.query(
          `select e.image_id from image_embeddings e join images i on i.id = e.image_id
           where e.model = 'wink-sg-100d' and i.category = $2 order by (e.embedding::vector(100)) <=> $1::vector(100) limit 10`,
          [`[${query.join(",")}]`, category],
        );
      });
      expect(starved.rows.length).toBeLessThan(10);
    } finally {
      await database.pglite.exec("reset enable_sort; reset enable_seqscan");
    }
  });

  test("PGlite serialises 50 concurrent raw queries and drizzle transactions on its single connection", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        i % 5 === 0
          ? database.db.transaction(async (tx) => {
              await tx.execute(sql`select pg_sleep(0.001)`);
              const r = (await tx.execute(sql`select ${i}::int as n`)) as unknown as { rows: Array<{ n: number }> };
              return r.rows[0]!.n;
            })
          : database.pglite.query<{ n: number }>("select $1::int as n", [i]).then((r) => r.rows[0]!.n),
      ),
    );
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : String(r.reason)))).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  test("migrations are applied once: running them again changes nothing", async () => {
    const applied = async () => ((await database.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)) as unknown as { rows: Array<{ n: number }> }).rows[0]!.n;
    const before = await applied();
    expect(before).toBeGreaterThanOrEqual(2);
    await migrateDatabase(database);
    expect(await applied()).toBe(before);
  });
});
