import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openDatabase, type Database } from "../src/db/client.ts";
import { DatabaseUnavailableError } from "../src/db/errors.ts";
import { getImage, insertImageWithEmbeddings, listImages } from "../src/db/images.ts";
import { createLogger, silentLogger } from "../src/log.ts";
import { createTestTelemetry } from "../src/telemetry/index.ts";
import { startNeonBridge, type NeonBridge } from "./harness/neon-bridge.ts";
import { describeRepository, newImage, tag } from "./db-repository.shared.ts";

let bridge: NeonBridge;
beforeAll(async () => {
  bridge = await startNeonBridge();
}, 60_000);
afterAll(() => bridge?.stop());

// pglite-socket serves one connection at a time, so the Pool has one connection; requests queue on it.
const openNeon = (telemetry: ReturnType<typeof createTestTelemetry>["telemetry"], log = silentLogger) =>
  openDatabase({ databaseUrl: bridge.url, neon: bridge.neon, maxConnections: 1, connectTimeoutMs: 5_000, dataDir: "/unused", telemetry, log });

describeRepository("the Neon driver over a WebSocket bridge", async () => {
  const { telemetry, recorder } = createTestTelemetry();
  const target = {
    database: await openNeon(telemetry),
    telemetry,
    recorder,
    async reopen(database: Database) {
      await database.close();
      return openNeon(telemetry);
    },
    close: () => target.database.close(),
  };
  expect(target.database.kind).toBe("neon");
  return target;
});

describe("Neon connection faults", () => {
  const { telemetry } = createTestTelemetry();
  let database: Database;
  beforeAll(async () => {
    database = await openNeon(telemetry);
  });
  afterAll(() => database?.close());

  test("a connection lost mid-request is a DatabaseUnavailableError, and the next request reconnects", async () => {
    await listImages(database.db, { limit: 1 });
    const before = bridge.connections;
    bridge.pause();
    const pending = listImages(database.db, { limit: 1 }).then(
      () => "answered",
      (error: unknown) => error,
    );
    await Bun.sleep(100);
    expect(bridge.dropConnections()).toBe(1);
    const error = await pending;
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect((error as Error).message).toBe("database connection lost; try again");
    const row = await insertImageWithEmbeddings(database.db, newImage({ sha256: tag("after-drop-") }), []);
    expect(await getImage(database.db, row.id)).toMatchObject({ id: row.id });
    expect(bridge.connections).toBe(before + 1);
  });

  test("a connection dropped while idle fails at most one request with DatabaseUnavailableError, then recovers", async () => {
    await listImages(database.db, { limit: 1 });
    bridge.dropConnections();
    await Bun.sleep(50);
    const first = await listImages(database.db, { limit: 1 }).then(
      () => "ok",
      (e: unknown) => e,
    );
    if (first !== "ok") expect(first).toBeInstanceOf(DatabaseUnavailableError);
    for (let i = 0; i < 3; i++) expect((await listImages(database.db, { limit: 1 })).items).toBeArray();
  });

  test("a database that stops answering fails requests within the timeouts (never a hung request), then recovers", async () => {
    const quick = await openDatabase({ databaseUrl: bridge.url, neon: bridge.neon, maxConnections: 1, connectTimeoutMs: 1_000, queryTimeoutMs: 500, dataDir: "/unused", telemetry, log: silentLogger });
    try {
      await listImages(quick.db, { limit: 1 });
      bridge.pause();
      let started = performance.now();
      const read = await listImages(quick.db, { limit: 1 }).catch((e: unknown) => e);
      expect(read).toBeInstanceOf(DatabaseUnavailableError);
      expect((read as Error).message).toBe("database did not answer in time; try again");
      expect(performance.now() - started).toBeLessThan(3_000);
      started = performance.now();
      const write = await insertImageWithEmbeddings(quick.db, newImage({ sha256: tag("stalled-") }), []).catch((e: unknown) => e);
      expect(write).toBeInstanceOf(DatabaseUnavailableError);
      expect(performance.now() - started).toBeLessThan(4_000);
      bridge.dropConnections();
      expect((await listImages(quick.db, { limit: 1 })).items).toBeArray();
    } finally {
      bridge.dropConnections();
      await quick.close();
    }
  }, 20_000);

  test("an unreachable database stops startup with one line naming the host, never the password", async () => {
    const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = closed.port;
    closed.stop(true);
    const lines: string[] = [];
    const log = createLogger({ level: "debug", write: (line) => lines.push(line) });
    const attempts = [
      { databaseUrl: `postgres://alice:Sup3r-Secret-pw@127.0.0.1:${port}/app`, neon: bridge.neon },
      { databaseUrl: `postgresql://alice:Sup3r-Secret-pw@127.0.0.1:${port}/app?sslmode=require` },
    ];
    for (const attempt of attempts) {
      const started = performance.now();
      const error = (await openDatabase({ ...attempt, connectTimeoutMs: 3_000, dataDir: "/unused", telemetry, log }).catch((e: unknown) => e)) as Error;
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(error).toBeInstanceOf(DatabaseUnavailableError);
      expect(error.message).toStartWith("database at 127.0.0.1 cannot be reached");
      expect(error.message).not.toContain("Sup3r-Secret-pw");
      expect(error.message).not.toContain("\n");
    }
    expect(lines.join("\n")).not.toContain("Sup3r-Secret-pw");
  }, 30_000);
});
