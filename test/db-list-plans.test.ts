import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { encodeCursor } from "../src/db/cursor.ts";
import { listGenerationsQuery } from "../src/db/generations.ts";
import { listImagesQuery, type ListImagesOptions } from "../src/db/images.ts";
import { createTestDatabase } from "../src/db/testing.ts";

setDefaultTimeout(60_000);

// The listings must walk their indexes: with an ORDER BY the indexes cannot serve (e.g. NULLS
// FIRST against a NULLS LAST index) Postgres reads and sorts every row for a 20-row page, and
// the cost grows with the table. At a few thousand rows the planner already prefers the index
// whenever it can use it, so any Sort node in the plan means the order and the index disagree.
const ROWS = 4_000;

let database: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  database = await createTestDatabase();
  await database.pglite.exec(`
    insert into images (id, storage_key, mime_type, width, height, byte_size, sha256, role, category, created_at)
    select gen_random_uuid(), 'uploads/' || i, 'image/png', 10, 10, 100, md5(i::text),
           case when i % 10 = 0 then 'tone-ref' when i % 10 = 1 then 'angle-ref' else 'corpus' end,
           'category-' || (i % 8), now() - make_interval(secs => i)
    from generate_series(1, ${ROWS}) as i;
    insert into generations (id, prompt, provider, model, status, created_at)
    select gen_random_uuid(), 'a fox ' || i, 'offline', 'offline-moodboard-1', 'succeeded', now() - make_interval(secs => i)
    from generate_series(1, ${ROWS}) as i;
    analyze images;
    analyze generations;
  `);
});
afterAll(() => database?.close());

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

async function plan(query: { toSQL(): { sql: string; params: unknown[] } }): Promise<PlanNode> {
  const { sql, params } = query.toSQL();
  const result = await database.pglite.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(`explain (format json) ${sql}`, params);
  return result.rows[0]!["QUERY PLAN"][0].Plan;
}

const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];
const describePlan = (node: PlanNode): string => nodes(node).map((n) => `${n["Node Type"]}${n["Index Name"] ? ` (${n["Index Name"]})` : ""}`).join(" → ");

/** A cursor pointing half way down the listing. */
const middle = encodeCursor({ createdAt: new Date(Date.now() - (ROWS / 2) * 1000), id: "ffffffff-ffff-7fff-bfff-ffffffffffff" });

describe(`list queries walk an index at ${ROWS} rows (no Sort node)`, () => {
  const imageCases: [string, ListImagesOptions][] = [
    ["images, first page", { limit: 20 }],
    ["images, a later page", { limit: 20, cursor: middle }],
    ["images of one role", { limit: 20, role: "tone-ref" }],
    ["images of one role, a later page", { limit: 20, role: "corpus", cursor: middle }],
    ["images of one category", { limit: 20, category: "category-3" }],
    ["images of one category, a later page", { limit: 20, category: "category-3", cursor: middle }],
    ["images of one role and category", { limit: 20, role: "tone-ref", category: "category-2" }],
  ];

  test.each(imageCases)("%s", async (_name, options) => {
    const root = await plan(listImagesQuery(database.db, options));
    const types = nodes(root).map((n) => n["Node Type"]);
    expect({ plan: describePlan(root), sorts: types.filter((t) => t.includes("Sort")) }).toEqual({ plan: describePlan(root), sorts: [] });
    expect(types).toContain("Index Scan");
  });

  test.each([
    ["generations, first page", { limit: 20 }],
    ["generations, a later page", { limit: 20, cursor: middle }],
  ] as const)("%s", async (_name, options) => {
    const root = await plan(listGenerationsQuery(database.db, options));
    const types = nodes(root).map((n) => n["Node Type"]);
    expect({ plan: describePlan(root), sorts: types.filter((t) => t.includes("Sort")) }).toEqual({ plan: describePlan(root), sorts: [] });
    expect(types).toContain("Index Scan");
  });
});
