/**
 * Writes whose answer from the database was lost: a commit whose acknowledgement never came back
 * (the connection dropped after COMMIT reached the server) must not cost an upload its blobs, nor
 * turn a stored generation into a failed one. The database is a real PGlite, the blob store real
 * files; the dropped answer is a wrapper of our own `Db` that runs the real statement and then
 * throws as a lost connection does.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import type { Db } from "../src/db/client.ts";
import { DatabaseQueryError, DatabaseUnavailableError, getGeneration, getImage, listGenerations, newId } from "../src/db/index.ts";
import { loadConfig } from "../src/config.ts";
import { createGenerationDeps } from "../src/generation/index.ts";
import { generateImage } from "../src/generation/pipeline.ts";
import { silentLogger } from "../src/log.ts";
import { noopTelemetry } from "../src/telemetry/index.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { decodeImage } from "../src/ingest/decode.ts";
import { storeImage, type StoreInput } from "../src/ingest/store.ts";
import { originalKey, thumbnailKey } from "../src/storage/keys.ts";
import { createLocalBlobStore } from "../src/storage/local.ts";
import type { BlobStore } from "../src/storage/types.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let storage: BlobStore;
let dir: string;

beforeAll(async () => {
  database = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), "ingest-store-"));
  storage = await createLocalBlobStore(dir);
});

afterAll(async () => {
  await storage.close();
  await database.close();
  await rm(dir, { recursive: true, force: true });
});

/** A distinct image each call (its bytes differ), ready for storeImage. */
async function input(n: number): Promise<StoreInput> {
  const bytes = new Uint8Array(await sharp({ create: { width: 64 + n, height: 48, channels: 3, background: "#336699" } }).png().toBuffer());
  const decoded = await decodeImage({ maxUploadBytes: 1_000_000, maxImagePixels: 1_000_000 }, bytes);
  return {
    id: newId(),
    sha256: new Bun.CryptoHasher("sha256").update(bytes).digest("hex"),
    role: "corpus",
    originalName: null,
    decoded,
    text: { caption: `image ${n}`, labels: [], category: null, source: "none" },
    hexColors: ["#336699"],
    embeddings: [],
  };
}

/** `db` whose transactions end as `how` says: the real commit then a lost answer, or a failure before anything ran. */
function dropping(db: Db, how: { commit: boolean; error: () => Error; lookups?: "fail" }): Db {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "transaction") {
        return async (fn: Parameters<Db["transaction"]>[0]) => {
          if (how.commit) await target.transaction(fn);
          throw how.error();
        };
      }
      if (prop === "select" && how.lookups === "fail") {
        return () => {
          throw new DatabaseUnavailableError("database connection lost");
        };
      }
      return Reflect.get(target, prop);
    },
  });
}

async function blobsOf(i: StoreInput): Promise<[boolean, boolean]> {
  const key = originalKey({ id: i.id, mimeType: i.decoded.mimeType, role: i.role, category: i.text.category });
  return [(await storage.head(key)) !== null, (await storage.head(thumbnailKey(i.id))) !== null];
}

describe("storeImage when the database does not answer", () => {
  test("a commit whose answer was lost keeps its blobs and is reported stored", async () => {
    const i = await input(1);
    const db = dropping(database.db, { commit: true, error: () => new DatabaseUnavailableError("database connection lost") });
    const stored = await storeImage({ db, storage }, i);
    expect(stored.created).toBe(true);
    expect(stored.image.id).toBe(i.id);
    expect(await getImage(database.db, i.id)).toBeDefined();
    expect(await blobsOf(i)).toEqual([true, true]);
  });

  test("a lost answer with nothing committed removes the blobs", async () => {
    const i = await input(2);
    const db = dropping(database.db, { commit: false, error: () => new DatabaseUnavailableError("database connection lost") });
    await expect(storeImage({ db, storage }, i)).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(await getImage(database.db, i.id)).toBeUndefined();
    expect(await blobsOf(i)).toEqual([false, false]);
  });

  test("when the row cannot be looked up either, the blobs stay for reconciliation and the error stands", async () => {
    const i = await input(3);
    const db = dropping(database.db, { commit: true, error: () => new DatabaseUnavailableError("database connection lost"), lookups: "fail" });
    await expect(storeImage({ db, storage }, i)).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(await blobsOf(i)).toEqual([true, true]);
  });

  test("a query error without a SQLSTATE (a driver failure, no answer) is looked up like a lost connection", async () => {
    const i = await input(5);
    const db = dropping(database.db, { commit: true, error: () => new DatabaseQueryError(undefined, undefined, "database query failed (SQLSTATE unknown)") });
    const stored = await storeImage({ db, storage }, i);
    expect(stored).toMatchObject({ created: true });
    expect(stored.image.id).toBe(i.id);
    expect(await blobsOf(i)).toEqual([true, true]);
  });

  test("an error the database answered with (a SQLSTATE) removes the blobs without a look-up", async () => {
    const i = await input(4);
    const db = dropping(database.db, { commit: false, error: () => new DatabaseQueryError("23514", "some_check", "check violation"), lookups: "fail" });
    await expect(storeImage({ db, storage }, i)).rejects.toBeInstanceOf(DatabaseQueryError);
    expect(await blobsOf(i)).toEqual([false, false]);
  });
});

/** `db` whose first update setting `status: "succeeded"` commits and then loses its answer. */
function losingSuccess(db: Db): Db {
  let dropped = false;
  return new Proxy(db, {
    get(target, prop) {
      if (prop !== "update") return Reflect.get(target, prop);
      return (table: Parameters<Db["update"]>[0]) => ({
        set: (fields: Record<string, unknown>) => ({
          where: (where: Parameters<ReturnType<ReturnType<Db["update"]>["set"]>["where"]>[0]) => ({
            returning: async () => {
              const rows = await target.update(table).set(fields).where(where).returning();
              if (fields.status === "succeeded" && !dropped) {
                dropped = true;
                throw new DatabaseUnavailableError("database connection lost");
              }
              return rows;
            },
          }),
        }),
      });
    },
  });
}

describe("a generation whose success was stored but not acknowledged", () => {
  test("stays succeeded with its image: the failure path only closes a generation still running", async () => {
    const config = loadConfig({ DATA_DIR: dir, LOG_LEVEL: "silent", DATABASE_URL: "memory://" });
    const deps = createGenerationDeps({ config, telemetry: noopTelemetry(), log: silentLogger, db: losingSuccess(database.db), storage });
    await expect(generateImage(deps, { prompt: "a lighthouse on a cliff at dawn" })).rejects.toBeInstanceOf(DatabaseUnavailableError);
    const [row] = (await listGenerations(database.db, { limit: 1 })).items;
    const stored = await getGeneration(database.db, row!.id);
    expect(stored?.status).toBe("succeeded");
    expect(stored?.errorKind ?? null).toBeNull();
    expect(stored?.outputKey).toBeString();
    expect(await storage.head(stored!.outputKey!)).not.toBeNull();
  });
});
