import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { imageEmbeddings } from "../src/db/schema.ts";
import type { Db } from "../src/db/client.ts";
import { createApp } from "../src/http/app.ts";
import type { IngestDeps } from "../src/ingest/pipeline.ts";
import { silentLogger } from "../src/log.ts";
import { createLocalBlobStore, StorageUnavailableError, type BlobStore } from "../src/storage/index.ts";
import { scene } from "./ingest-fixtures.ts";
import { jsonOf, ingestSuite, openSuite, stored, type SuiteContext } from "./ingest-suite.shared.ts";

setDefaultTimeout(30_000);

ingestSuite("local", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ingest-local-"));
  return { store: await createLocalBlobStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

/** A database whose transactions fail when they insert embeddings: the image row is written first, then rolled back. */
function failingEmbeddingInsert(db: Db): Db {
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop !== "transaction") return Reflect.get(target, prop, receiver);
      return (fn: (tx: unknown) => Promise<unknown>) =>
        target.transaction((tx) =>
          fn(
            new Proxy(tx, {
              get(t, p, r) {
                if (p !== "insert") return Reflect.get(t, p, r);
                return (table: unknown) => {
                  if (table === imageEmbeddings) throw new Error("injected failure: embeddings insert");
                  return t.insert(table as never);
                };
              },
            }),
          ),
        );
    },
  }) as Db;
}

/** A store whose puts of `failPrefix` keys fail (after the other put may have landed). */
function failingPuts(inner: BlobStore, failPrefix: string): BlobStore {
  return {
    ...inner,
    put: async (key, body, options) => {
      if (key.startsWith(failPrefix)) {
        await Bun.sleep(20);
        throw new StorageUnavailableError("injected failure: storage put");
      }
      return inner.put(key, body, options);
    },
  };
}

describe("ingest atomicity and limits (PGlite + local files)", () => {
  let dir: string;
  let suite: Awaited<ReturnType<typeof openSuite>>;
  let ctx: SuiteContext;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ingest-atomic-"));
    suite = await openSuite({ store: await createLocalBlobStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) });
    ctx = suite.ctx;
  }, 60_000);
  afterAll(() => suite.close());

  function appWith(overrides: Partial<IngestDeps>) {
    return createApp({ config: suite.config, telemetry: suite.telemetry, log: silentLogger, images: { ...ctx.deps, ...overrides } });
  }

  function form(bytes: Uint8Array): FormData {
    const f = new FormData();
    f.append("file", new File([bytes], "x.jpg", { type: "image/jpeg" }));
    f.append("caption", "atomic");
    return f;
  }

  test("a database failure after the blobs were written leaves no row, no embedding and no blob", async () => {
    const before = await stored(ctx);
    const app = appWith({ db: failingEmbeddingInsert(ctx.database.db) });
    const response = await app.request("/api/images", { method: "POST", body: form(await scene(501)) });
    expect(response.status).toBe(500);
    expect((await jsonOf(response)).error.code).toBe("internal_error");
    expect(await stored(ctx)).toEqual(before);
    expect(await readdir(join(dir, "blobs", ".tmp"))).toEqual([]);
  });

  test("a storage failure on the thumbnail removes the original that did land and writes no row", async () => {
    const before = await stored(ctx);
    const app = appWith({ storage: failingPuts(ctx.deps.storage, "thumbnails/") });
    const response = await app.request("/api/images", { method: "POST", body: form(await scene(502)) });
    expect(response.status).toBe(503);
    expect((await jsonOf(response)).error.code).toBe("storage_unavailable");
    expect(await stored(ctx)).toEqual(before);
  });

  test("a storage failure on the original writes no row", async () => {
    const before = await stored(ctx);
    const app = appWith({ storage: failingPuts(ctx.deps.storage, "uploads/") });
    const response = await app.request("/api/images", { method: "POST", body: form(await scene(503)) });
    expect(response.status).toBe(503);
    expect(await stored(ctx)).toEqual(before);
  });

  test("after a failure the same bytes upload cleanly", async () => {
    const bytes = await scene(501);
    const response = await fetch(`${ctx.url}/api/images`, { method: "POST", body: form(bytes) });
    expect(response.status).toBe(201);
    const image = await jsonOf(response);
    expect(await ctx.rawStore.list("")).toContain(`uploads/${image.id}.jpg`);
  });

  test("a streamed body over the limit is refused after reading about the limit, not the whole body", async () => {
    const app = appWith({});
    let pulled = 0;
    const chunk = new Uint8Array(64 * 1024).fill(7);
    const total = 64 * 1024 * 1024;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled >= total) return controller.close();
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const before = await stored(ctx);
    const response = await app.request("/api/images", {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=b" },
      body,
      duplex: "half",
    });
    expect(response.status).toBe(413);
    expect((await jsonOf(response)).error.code).toBe("payload_too_large");
    expect(pulled).toBeLessThan(suite.config.ingest.maxUploadBytes + 1024 * 1024);
    expect(await stored(ctx)).toEqual(before);
  });

  test("a declared Content-Length over the limit is refused before the body is read", async () => {
    const app = appWith({});
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1024;
        controller.enqueue(new Uint8Array(1024));
        if (pulled > 100 * 1024 * 1024) controller.close();
      },
    });
    const response = await app.request("/api/images", {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=b", "content-length": String(100 * 1024 * 1024) },
      body,
      duplex: "half",
    });
    expect(response.status).toBe(413);
    expect(pulled).toBeLessThanOrEqual(64 * 1024);
  });
});
