import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { withPreparedStatements } from "../src/db/prepared.ts";

let raw: PGlite;
let pglite: PGlite;

beforeAll(async () => {
  raw = await PGlite.create({ extensions: { vector } });
  await raw.exec(`
    create extension vector;
    create table t (id int primary key, label text, tags text[], at timestamptz, doc jsonb, v vector(3));
    insert into t values (1, 'one', '{a,"b c"}', '2024-01-02T03:04:05Z', '{"k": [1, 2]}', '[1,2,3]'), (2, null, '{}', null, null, null);`);
  pglite = withPreparedStatements(raw, 4);
}, 60_000);
afterAll(() => raw?.close());

const statements = async () => (await raw.query<{ n: number }>("select count(*)::int as n from pg_prepared_statements")).rows[0]!.n;

describe("PGlite queries through named prepared statements", () => {
  test("rows, types and parameters read exactly as from PGlite.query, in object and array mode", async () => {
    const text = "select id, label, tags, at, doc, v, $1::int + 1 as next from t where id >= $2 order by id";
    for (const rowMode of [undefined, "array"] as const) {
      const options = rowMode ? { rowMode } : undefined;
      const expected = await raw.query(text, [41, 1], options);
      const first = await pglite.query(text, [41, 1], options);
      const again = await pglite.query(text, [41, 1], options);
      expect(first.rows).toEqual(expected.rows);
      expect(again.rows).toEqual(expected.rows);
      expect(first.fields).toEqual(expected.fields);
    }
    const raws = { [1184]: (value: string) => value };
    expect((await pglite.query("select at from t where id = 1", [], { parsers: raws })).rows).toEqual([{ at: "2024-01-02 03:04:05+00" }]);
  });

  test("each distinct statement is parsed once and kept (up to the limit, oldest closed first)", async () => {
    await raw.query("deallocate all");
    for (let i = 0; i < 3; i++) await pglite.query("select $1::int as n", [i]);
    expect(await statements()).toBe(1);
    for (let i = 0; i < 10; i++) await pglite.query(`select ${i} as n, $1::text as s`, ["x"]);
    expect(await statements()).toBe(4);
    expect((await pglite.query("select $1::int as n", [7])).rows).toEqual([{ n: 7 }]);
  });

  test("writes report affected rows; a failing statement throws the Postgres error and the next one works", async () => {
    const insert = await pglite.query("insert into t (id, label) values ($1, $2)", [10, "ten"]);
    expect(insert.affectedRows).toBe(1);
    const error = (await pglite.query("insert into t (id, label) values ($1, $2)", [10, "again"]).catch((e: unknown) => e)) as { code?: string };
    expect(error.code).toBe("23505");
    expect((await pglite.query("select label from t where id = $1", [10])).rows).toEqual([{ label: "ten" }]);
  });

  test("a statement the schema changed under is prepared again, transparently", async () => {
    const text = "select * from t where id = $1";
    expect(Object.keys((await pglite.query<Record<string, unknown>>(text, [1])).rows[0]!)).not.toContain("extra");
    await raw.exec("alter table t add column extra text default 'x'");
    expect((await pglite.query<Record<string, unknown>>(text, [1])).rows[0]!.extra).toBe("x");
  });

  test("it waits for an open transaction like PGlite.query, and transactions keep PGlite's own path", async () => {
    const order: string[] = [];
    const tx = pglite.transaction(async (t) => {
      await t.query("update t set label = 'in tx' where id = 2");
      await Bun.sleep(20);
      order.push("tx done");
    });
    const outside = pglite.query<{ label: string }>("select label from t where id = $1", [2]).then((r) => {
      order.push("outside");
      return r.rows[0]!.label;
    });
    await tx;
    expect(await outside).toBe("in tx");
    expect(order).toEqual(["tx done", "outside"]);
  });
});
