import { expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { loadConfig } from "../src/config.ts";
import { DatabaseUnavailableError } from "../src/db/errors.ts";
import { migrateDatabase } from "../src/db/migrate.ts";
import { silentLogger } from "../src/log.ts";
import { startServer } from "../src/server.ts";
import { createTestTelemetry } from "../src/telemetry/index.ts";

test("the service opens the configured database at start; DB_MIGRATE_ON_START=false leaves migrations to db:migrate", async () => {
  const { telemetry } = createTestTelemetry();
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", DATABASE_URL: "memory://", DB_MIGRATE_ON_START: "false", LOG_LEVEL: "silent" });
  const server = await startServer(config, { telemetry, log: silentLogger });
  try {
    expect(server.deps.database?.kind).toBe("pglite-memory");
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const tables = (await server.deps.database!.db.execute(sql`select count(*)::int as n from pg_tables where tablename = 'images'`)) as unknown as { rows: Array<{ n: number }> };
    expect(tables.rows[0]!.n).toBe(0);
    await migrateDatabase(server.deps.database!);
    const after = (await server.deps.database!.db.execute(sql`select count(*)::int as n from images`)) as unknown as { rows: Array<{ n: number }> };
    expect(after.rows[0]!.n).toBe(0);
  } finally {
    await server.stop();
  }
  await expect(server.deps.database!.ping()).rejects.toBeInstanceOf(DatabaseUnavailableError);
}, 60_000);

test("an unreachable DATABASE_URL stops startup with one error naming the host, not the password", async () => {
  const { telemetry } = createTestTelemetry();
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", DATABASE_URL: "postgres://app:Hunter2-Secret@127.0.0.1:9/app", LOG_LEVEL: "silent" });
  const error = (await startServer(config, { telemetry, log: silentLogger }).catch((e: unknown) => e)) as Error;
  expect(error).toBeInstanceOf(DatabaseUnavailableError);
  expect(error.message).toStartWith("database at 127.0.0.1 cannot be reached");
  expect(error.message).not.toContain("Hunter2-Secret");
}, 30_000);

test("database errors reach clients as 503 (unavailable) and 400 (bad cursor) JSON, with no SQL or values", async () => {
  const { createApp } = await import("../src/http/app.ts");
  const { InvalidCursorError, toDatabaseError } = await import("../src/db/errors.ts");
  const { telemetry } = createTestTelemetry();
  const app = createApp({ config: loadConfig({ LOG_LEVEL: "silent" }), telemetry, log: silentLogger });
  app.get("/lost", () => {
    throw toDatabaseError(Object.assign(new Error("Connection terminated unexpectedly"), { code: undefined }));
  });
  app.get("/cursor", () => {
    throw new InvalidCursorError();
  });
  app.get("/sql", () => {
    throw toDatabaseError(Object.assign(new Error('invalid input syntax for type uuid: "SECRET-VALUE"'), { code: "22P02" }));
  });
  const lost = await app.request("/lost");
  expect(lost.status).toBe(503);
  expect(await lost.json()).toEqual({ error: { code: "database_unavailable", message: "database connection lost; try again" } });
  const cursor = await app.request("/cursor");
  expect(cursor.status).toBe(400);
  expect(await cursor.json()).toEqual({ error: { code: "invalid_cursor", message: "cursor is not valid" } });
  const bad = await app.request("/sql");
  expect(bad.status).toBe(500);
  expect(await bad.text()).not.toContain("SECRET-VALUE");
});
