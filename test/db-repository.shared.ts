import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import type { Database } from "../src/db/client.ts";
import { DatabaseQueryError, InvalidCursorError } from "../src/db/errors.ts";
import { getGeneration, insertGeneration, listGenerations, updateGeneration } from "../src/db/generations.ts";
import {
  bulkInsertImages,
  countImagesMissing,
  deleteImage,
  DuplicateImageError,
  eachPageMissing,
  fillImageText,
  findImageBySha256,
  getEmbedding,
  getImage,
  getImagesByIds,
  insertImageWithEmbeddings,
  listImages,
  saveEmbeddings,
  setHypernyms,
  type Missing,
} from "../src/db/images.ts";
import type { NewImage } from "../src/db/schema.ts";
import { exactVectorCandidates, fulltextCandidates, vectorCandidates } from "../src/db/search.ts";
import { vocabularySnapshot } from "../src/db/vocabulary.ts";
import { DB_ATTR, SpanKind, type InMemoryRecorder, type Telemetry } from "../src/telemetry/index.ts";

/** What each way of running the suite provides. */
export interface RepositoryTarget {
  database: Database;
  telemetry: Telemetry;
  recorder: InMemoryRecorder;
  /** Closes the database and opens it again on the same storage (disk, Neon); absent for memory. */
  reopen?: (database: Database) => Promise<Database>;
  close(): Promise<void>;
}

let seq = 0;
/** A unique tag per test, so tests sharing one database never see each other's rows. */
export function tag(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${(seq++).toString(36)}`;
}

/** A unit vector near `centre` (deterministic): clustered like real embeddings. */
export function nearVector(centre: number, dims: number, jitter: number, salt = 0): number[] {
  const v = Array.from({ length: dims }, (_, j) => Math.sin(centre * 12.9898 + j * 78.233) + jitter * Math.sin(salt * 3.7 + j * 1.3));
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

export function newImage(fields: Partial<NewImage> & { sha256: string }): NewImage {
  return { storageKey: `images/${fields.sha256}.png`, mimeType: "image/png", width: 640, height: 480, byteSize: 1234, ...fields };
}

async function count(database: Database, table: "images" | "image_embeddings" | "generations", where = sql`true`): Promise<number> {
  const result = (await database.db.execute(sql`select count(*)::int as n from ${sql.identifier(table)} where ${where}`)) as unknown as { rows: Array<{ n: number }> };
  return Number(result.rows[0]!.n);
}

/**
 * Registers the repository specification against one database kind. Every kind must pass the
 * same tests: PGlite in memory, PGlite on disk, and the Neon driver over the WebSocket bridge.
 *
 * @example
 * describeRepository("pglite-memory", async () => ({ database, telemetry, recorder, close }));
 */
export function describeRepository(name: string, open: () => Promise<RepositoryTarget>): void {
  describe(`repository on ${name}`, () => {
    let target: RepositoryTarget;
    const db = () => target.database.db;

    beforeAll(async () => {
      target = await open();
    }, 60_000);
    afterAll(async () => {
      await target?.close();
    });

    test("an image and its embeddings are stored together and read back", async () => {
      const sha = tag("sha-");
      const vector = nearVector(1, 100, 0);
      const wide = nearVector(2, 768, 0);
      const stored = await insertImageWithEmbeddings(
        db(),
        newImage({ sha256: sha, caption: "A red fox in snow", labels: ["fox", "snow"], category: "wildlife", role: "tone-ref", hexColors: ["#aa2200", "#ffffff"], originalName: "fox.png" }),
        [
          { model: "wink-sg-100d", dimensions: 100, vector },
          { model: "gemini-embedding-001", dimensions: 768, vector: wide },
        ],
      );
      expect(stored.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(stored.id[14]).toBe("7");
      const got = await getImage(db(), stored.id);
      expect(got).toEqual(stored);
      expect(got).toMatchObject({ caption: "A red fox in snow", labels: ["fox", "snow"], category: "wildlife", role: "tone-ref", hexColors: ["#aa2200", "#ffffff"], width: 640, height: 480 });
      expect(got!.createdAt).toBeInstanceOf(Date);
      expect((await findImageBySha256(db(), sha))?.id).toBe(stored.id);
      const embedding = await getEmbedding(db(), stored.id, "wink-sg-100d");
      expect(embedding?.dimensions).toBe(100);
      embedding!.vector.forEach((x, i) => expect(x).toBeCloseTo(vector[i]!, 5));
      expect((await getEmbedding(db(), stored.id, "gemini-embedding-001"))?.vector).toHaveLength(768);
      expect(await getEmbedding(db(), stored.id, "no-such-model")).toBeUndefined();
    });

    test("unknown and malformed ids read as absent, never as a SQL error", async () => {
      expect(await getImage(db(), "01a21352-0000-7000-8000-000000000000")).toBeUndefined();
      expect(await getImage(db(), "not-a-uuid'; drop table images; --")).toBeUndefined();
      expect(await getEmbedding(db(), "nope", "wink-sg-100d")).toBeUndefined();
      expect(await deleteImage(db(), "nope")).toBe(false);
      expect(await getGeneration(db(), "nope")).toBeUndefined();
      expect(await updateGeneration(db(), "01a21352-0000-7000-8000-000000000000", { status: "failed" })).toBeUndefined();
    });

    test("getImagesByIds keeps the order asked and skips missing or malformed ids", async () => {
      const a = await insertImageWithEmbeddings(db(), newImage({ sha256: tag("a-") }), []);
      const b = await insertImageWithEmbeddings(db(), newImage({ sha256: tag("b-") }), []);
      const rows = await getImagesByIds(db(), [b.id, "junk", "01a21352-0000-7000-8000-000000000000", a.id, b.id]);
      expect(rows.map((r) => r.id)).toEqual([b.id, a.id]);
      expect(await getImagesByIds(db(), [])).toEqual([]);
    });

    test("the same bytes are stored once: a second insert names the stored image and writes nothing", async () => {
      const sha = tag("dup-");
      const first = await insertImageWithEmbeddings(db(), newImage({ sha256: sha }), [{ model: "wink-sg-100d", dimensions: 100, vector: nearVector(3, 100, 0) }]);
      const before = await count(target.database, "image_embeddings");
      const error = await insertImageWithEmbeddings(db(), newImage({ sha256: sha, storageKey: "other" }), [
        { model: "wink-sg-100d", dimensions: 100, vector: nearVector(4, 100, 0) },
      ]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DuplicateImageError);
      expect((error as DuplicateImageError).existingId).toBe(first.id);
      expect(await count(target.database, "image_embeddings")).toBe(before);
    });

    test("a transaction that fails half-way leaves nothing behind", async () => {
      const sha = tag("half-");
      // The image row is inserted, then the embeddings insert violates the (image, model) key.
      const error = await insertImageWithEmbeddings(db(), newImage({ sha256: sha }), [
        { model: "wink-sg-100d", dimensions: 100, vector: nearVector(5, 100, 0) },
        { model: "wink-sg-100d", dimensions: 100, vector: nearVector(6, 100, 0) },
      ]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DatabaseQueryError);
      expect((error as DatabaseQueryError).code).toBe("23505");
      expect((error as Error).message).not.toContain(sha);
      expect(await findImageBySha256(db(), sha)).toBeUndefined();
      // The connection is usable afterwards.
      expect(await insertImageWithEmbeddings(db(), newImage({ sha256: sha }), [])).toMatchObject({ sha256: sha });
    });

    test("bulk insert stores many images and embeddings in one transaction, or none of them", async () => {
      const category = tag("bulk-");
      const items = Array.from({ length: 30 }, (_, i) => ({
        image: newImage({ sha256: tag("bk-"), category, caption: `bulk "quoted" caption ${i}`, labels: ["a,b", 'q"uote', `n${i}`], hexColors: ["#010203"], role: i % 3 === 0 ? ("tone-ref" as const) : undefined }),
        embeddings: [{ model: "wink-sg-100d", dimensions: 100, vector: nearVector(i, 100, 0) }],
      }));
      const ids = await bulkInsertImages(db(), items);
      expect(ids).toHaveLength(30);
      const rows = await getImagesByIds(db(), ids);
      expect(rows.map((r) => r.sha256)).toEqual(items.map((it) => it.image.sha256));
      expect(rows[4]).toMatchObject({ caption: 'bulk "quoted" caption 4', labels: ["a,b", 'q"uote', "n4"], hexColors: ["#010203"], role: "corpus", category, width: 640 });
      expect(rows[3]!.role).toBe("tone-ref");
      const hits = await vectorCandidates(db(), { model: "wink-sg-100d", dimensions: 100, vector: nearVector(7, 100, 0), k: 1, efSearch: 40, filters: { category } });
      expect(hits[0]!.id).toBe(ids[7]!);
      expect((await fulltextCandidates(db(), { query: "quoted caption", k: 50, filters: { category } })).length).toBe(30);
      const again = [{ image: newImage({ sha256: tag("bk-new-"), category }), embeddings: [] }, { image: newImage({ sha256: items[0]!.image.sha256 }), embeddings: [] }];
      await expect(bulkInsertImages(db(), again)).rejects.toBeInstanceOf(DuplicateImageError);
      expect(await findImageBySha256(db(), again[0]!.image.sha256)).toBeUndefined();
    });

    test("embeddings whose size does not match are refused before touching the database", async () => {
      const sha = tag("bad-");
      await expect(insertImageWithEmbeddings(db(), newImage({ sha256: sha }), [{ model: "m", dimensions: 100, vector: [1, 2, 3] }])).rejects.toThrow(RangeError);
      await expect(insertImageWithEmbeddings(db(), newImage({ sha256: sha }), [{ model: "m", dimensions: 2, vector: [1, Number.NaN] }])).rejects.toThrow(RangeError);
      expect(await findImageBySha256(db(), sha)).toBeUndefined();
    });

    test("listImages pages newest first with an opaque cursor, filtered by role and category", async () => {
      const category = tag("list-");
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const row = await insertImageWithEmbeddings(db(), newImage({ sha256: tag("l-"), category, role: i % 2 === 0 ? "corpus" : "angle-ref" }), []);
        ids.push(row.id);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      const sizes: number[] = [];
      do {
        const page = await listImages(db(), { limit: 2, category, ...(cursor ? { cursor } : {}) });
        sizes.push(page.items.length);
        seen.push(...page.items.map((r) => r.id));
        cursor = page.nextCursor ?? undefined;
        if (cursor) expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      } while (cursor);
      expect(sizes).toEqual([2, 2, 1]);
      expect(seen).toEqual([...ids].reverse());
      const refs = await listImages(db(), { limit: 10, category, role: "angle-ref" });
      expect(refs.items.map((r) => r.id)).toEqual([ids[3]!, ids[1]!]);
      expect(refs.nextCursor).toBeNull();
      expect((await listImages(db(), { limit: 10, category: tag("none-") })).items).toEqual([]);
    });

    test("a cursor this service did not issue is refused as InvalidCursorError", async () => {
      for (const cursor of ["%%%", "bm9wZQ", Buffer.from('{"t":"yesterday","id":"x"}').toString("base64url"), Buffer.from('{"t":"2026-01-01T00:00:00.000Z","id":"1\' or 1=1"}').toString("base64url")]) {
        await expect(listImages(db(), { limit: 5, cursor })).rejects.toBeInstanceOf(InvalidCursorError);
        await expect(listGenerations(db(), { limit: 5, cursor })).rejects.toBeInstanceOf(InvalidCursorError);
      }
    });

    test("deleting an image deletes its embeddings", async () => {
      const row = await insertImageWithEmbeddings(db(), newImage({ sha256: tag("del-") }), [{ model: "wink-sg-100d", dimensions: 100, vector: nearVector(7, 100, 0) }]);
      expect(await deleteImage(db(), row.id)).toBe(true);
      expect(await getImage(db(), row.id)).toBeUndefined();
      expect(await count(target.database, "image_embeddings", sql`image_id = ${row.id}`)).toBe(0);
      expect(await deleteImage(db(), row.id)).toBe(false);
    });

    test("what an image can miss is one definition: counted, paged once in id order, filled only where still missing", async () => {
      const t = tag("miss-");
      const model = `model-${t}`;
      const embedding = (x: number) => ({ model, dimensions: 3, vector: nearVector(x, 3, 0) });
      const parts: Missing[] = ["text", { embedding: model }, "hypernyms"];
      const countAll = () => Promise.all(parts.map((part) => countImagesMissing(db(), part)));
      const before = await countAll();
      const bare = await insertImageWithEmbeddings(db(), newImage({ sha256: `${t}-bare` }), []);
      const categoryOnly = await insertImageWithEmbeddings(db(), newImage({ sha256: `${t}-cat`, category: t, hypernyms: [] }), []);
      const captioned = await insertImageWithEmbeddings(db(), newImage({ sha256: `${t}-cap`, caption: "a red boat" }), []);
      const whole = await insertImageWithEmbeddings(db(), newImage({ sha256: `${t}-whole`, labels: ["boat"], hypernyms: ["vessel"] }), [embedding(1)]);
      // Text: no caption and no labels. An embedding: only for an image with something to embed
      // (a category is enough). Hypernyms: null, not {} (expanded, nothing concrete).
      expect((await countAll()).map((n, i) => n - before[i]!)).toEqual([2, 2, 2]);

      const visited: string[] = [];
      await eachPageMissing(db(), { embedding: model }, 1, async (page) => {
        expect(page).toHaveLength(1);
        visited.push(page[0]!.id);
      });
      expect(visited).toEqual([...visited].sort());
      expect(new Set(visited).size).toBe(visited.length);
      expect(visited).toEqual(expect.arrayContaining([categoryOnly.id, captioned.id]));
      expect(visited).not.toContain(bare.id);
      expect(visited).not.toContain(whole.id);

      // One statement for the page; an image deleted meanwhile (foreign key) costs only its own row.
      const gone = "01a21352-0000-7000-8000-00000000dead";
      expect(await saveEmbeddings(db(), [{ imageId: captioned.id, embedding: embedding(2) }, { imageId: gone, embedding: embedding(3) }, { imageId: whole.id, embedding: embedding(4) }])).toBe(1);
      expect((await getEmbedding(db(), whole.id, model))!.vector[0]).toBeCloseTo(nearVector(1, 3, 0)[0]!, 5);
      expect(await saveEmbeddings(db(), [{ imageId: whole.id, embedding: embedding(4) }], { replace: true })).toBe(1);
      expect((await getEmbedding(db(), whole.id, model))!.vector[0]).toBeCloseTo(nearVector(4, 3, 0)[0]!, 5);

      expect(await fillImageText(db(), bare.id, { caption: "a blue door", labels: ["door"], category: "street", hypernyms: ["movable barrier"] })).toBe(true);
      expect(await fillImageText(db(), bare.id, { caption: "overwritten", labels: [], category: null })).toBe(false);
      expect(await fillImageText(db(), categoryOnly.id, { caption: "a cat", labels: [], category: "animal" })).toBe(true);
      expect(await getImage(db(), bare.id)).toMatchObject({ caption: "a blue door", labels: ["door"], category: "street", hypernyms: ["movable barrier"] });
      // The client's category stays; the expansion of no text is dropped for the backfill to redo.
      expect(await getImage(db(), categoryOnly.id)).toMatchObject({ caption: "a cat", category: t, hypernyms: null });
      expect(await setHypernyms(db(), [{ id: captioned.id, hypernyms: ["vessel"] }, { id: whole.id, hypernyms: ["other"] }])).toBe(1);
      expect((await getImage(db(), whole.id))!.hypernyms).toEqual(["vessel"]);
      expect((await countAll()).map((n, i) => n - before[i]!)).toEqual([0, 2, 1]);
    });

    test("vector candidates: nearest first by cosine, per model, with category, role and exclusion filters", async () => {
      const category = tag("vec-");
      const other = tag("vec-other-");
      const rows = [];
      for (let i = 0; i < 6; i++) {
        rows.push(
          await insertImageWithEmbeddings(db(), newImage({ sha256: tag("v-"), category: i < 4 ? category : other, role: i === 3 ? "tone-ref" : "corpus" }), [
            { model: "wink-sg-100d", dimensions: 100, vector: nearVector(42, 100, 0.05 * i, i) },
            { model: "gemini-embedding-001", dimensions: 768, vector: nearVector(99 - i, 768, 0) },
          ]),
        );
      }
      const query = { model: "wink-sg-100d", dimensions: 100, vector: nearVector(42, 100, 0), k: 3, efSearch: 40 };
      const hits = await vectorCandidates(db(), { ...query, filters: { category } });
      expect(hits.map((h) => h.id)).toEqual([rows[0]!.id, rows[1]!.id, rows[2]!.id]);
      expect(hits[0]!.distance).toBeCloseTo(0, 5);
      expect(hits[1]!.distance).toBeGreaterThan(hits[0]!.distance);
      const exact = await exactVectorCandidates(db(), { ...query, filters: { category } });
      expect(exact.map((h) => h.id)).toEqual(hits.map((h) => h.id));
      expect((await vectorCandidates(db(), { ...query, filters: { category, excludeId: rows[0]!.id } })).map((h) => h.id)).toEqual([rows[1]!.id, rows[2]!.id, rows[3]!.id]);
      expect((await vectorCandidates(db(), { ...query, filters: { category, role: "tone-ref" } })).map((h) => h.id)).toEqual([rows[3]!.id]);
      const wide = await vectorCandidates(db(), { model: "gemini-embedding-001", dimensions: 768, vector: nearVector(95, 768, 0), k: 1, efSearch: 40, filters: { category: other } });
      expect(wide.map((h) => h.id)).toEqual([rows[4]!.id]);
      await expect(vectorCandidates(db(), { ...query, dimensions: 768 })).rejects.toThrow(RangeError);
    });

    test("full-text candidates: web-search syntax, caption outranks labels outranks category", async () => {
      const word = `zq${tag("").replace(/[^a-z]/g, "")}`;
      const category = tag("ft-");
      const inCaption = await insertImageWithEmbeddings(db(), newImage({ sha256: tag("f-"), caption: `a ${word} at dusk`, category }), []);
      const inLabels = await insertImageWithEmbeddings(db(), newImage({ sha256: tag("f-"), caption: "something else", labels: [word, "tree"], category }), []);
      const inCategory = await insertImageWithEmbeddings(db(), newImage({ sha256: tag("f-"), caption: "nothing", category: `${word}` }), []);
      const hits = await fulltextCandidates(db(), { query: word, k: 10 });
      expect(hits.map((h) => h.id)).toEqual([inCaption.id, inLabels.id, inCategory.id]);
      expect(hits[0]!.rank).toBeGreaterThan(hits[1]!.rank);
      expect(hits[1]!.rank).toBeGreaterThan(hits[2]!.rank);
      expect((await fulltextCandidates(db(), { query: `${word} -tree`, k: 10 })).map((h) => h.id)).toEqual([inCaption.id, inCategory.id]);
      expect((await fulltextCandidates(db(), { query: `"${word} at dusk"`, k: 10 })).map((h) => h.id)).toEqual([inCaption.id]);
      expect((await fulltextCandidates(db(), { query: word, k: 10, filters: { category } })).map((h) => h.id)).toEqual([inCaption.id, inLabels.id]);
      expect(await fulltextCandidates(db(), { query: "   ", k: 10 })).toEqual([]);
      expect(await fulltextCandidates(db(), { query: `"unbalanced ( & | ! ${word}`, k: 10 })).toBeArray();
    });

    test("the corpus vocabulary follows every write to images (triggers), whichever statement makes it", async () => {
      const word = (w: string) => `${w}${tag("").replace(/[^a-z]/g, "")}`;
      const [alpha, beta, gamma] = [word("alpha"), word("beta"), word("gamma")];
      const counts = async () => {
        const result = (await target.database.db.execute(
          sql`select word, documents from search_vocabulary where word in (${alpha}, ${beta}, ${gamma}) order by word`,
        )) as unknown as { rows: { word: string; documents: number }[] };
        return Object.fromEntries(result.rows.map((r) => [r.word, Number(r.documents)]));
      };
      const start = await vocabularySnapshot(db());
      const one = await insertImageWithEmbeddings(db(), newImage({ sha256: tag("voc-"), caption: `an ${alpha} at dusk`, labels: [beta] }), []);
      await bulkInsertImages(db(), [
        { image: newImage({ sha256: tag("voc-"), caption: `${alpha} ${alpha} twice in one caption`, category: gamma }), embeddings: [] },
        { image: newImage({ sha256: tag("voc-"), caption: "nothing of note", labels: [alpha] }), embeddings: [] },
      ]);
      expect(await counts()).toEqual({ [alpha]: 3, [beta]: 1, [gamma]: 1 });
      const moved = await vocabularySnapshot(db(), start.version);
      expect(moved.version).not.toBe(start.version);
      expect(moved.words).toEqual(expect.arrayContaining([alpha, beta, gamma]));
      expect((await vocabularySnapshot(db(), moved.version)).words).toBeUndefined();
      await target.database.db.execute(sql`update images set caption = 'renamed', labels = '{}' where id = ${one.id}`);
      expect(await counts()).toEqual({ [alpha]: 2, [gamma]: 1 });
      await deleteImage(db(), one.id);
      await target.database.db.execute(sql`delete from images where category = ${gamma}`);
      expect(await counts()).toEqual({ [alpha]: 1 });
    });

    test("generations: running, then succeeded or failed, listed newest first", async () => {
      const traceId = "0af7651916cd43dd8448eb211c80319c";
      const running = await insertGeneration(db(), { prompt: "a fox", provider: "offline", model: "offline-1", parameters: { aspectRatio: "1:1", category: "wildlife", seed: 7 }, traceId });
      expect(running).toMatchObject({ status: "running", prompt: "a fox", parameters: { aspectRatio: "1:1", category: "wildlife", seed: 7 }, references: [], hexColors: [] });
      const done = await updateGeneration(db(), running.id, {
        status: "succeeded",
        builtPrompt: "a fox, warm light",
        outputKey: "generations/x.png",
        hexColors: ["#112233"],
        references: [{ id: running.id, role: "tone-ref" }],
        latencyMs: 1234,
        inputTokens: 10,
        outputTokens: 1290,
        completedAt: new Date(),
      });
      expect(done).toMatchObject({ status: "succeeded", outputKey: "generations/x.png", references: [{ id: running.id, role: "tone-ref" }], latencyMs: 1234, outputTokens: 1290 });
      const failed = await insertGeneration(db(), { prompt: "a cat", provider: "gemini", model: "gemini-2.5-flash-image", status: "failed", errorKind: "timeout", errorMessage: "no answer in 120 s" });
      expect(await getGeneration(db(), failed.id)).toMatchObject({ status: "failed", errorKind: "timeout", errorMessage: "no answer in 120 s" });
      const first = await listGenerations(db(), { limit: 1 });
      expect(first.items.map((g) => g.id)).toEqual([failed.id]);
      const second = await listGenerations(db(), { limit: 1, cursor: first.nextCursor! });
      expect(second.items.map((g) => g.id)).toEqual([running.id]);
      await expect(insertGeneration(db(), { prompt: "x", provider: "p", model: "m", status: "weird" as "failed" })).rejects.toBeInstanceOf(DatabaseQueryError);
    });

    test("50 concurrent queries and 10 concurrent transactions all succeed", async () => {
      const category = tag("conc-");
      const writes = Array.from({ length: 10 }, (_, i) =>
        insertImageWithEmbeddings(db(), newImage({ sha256: tag("c-"), category }), [{ model: "wink-sg-100d", dimensions: 100, vector: nearVector(i, 100, 0) }]),
      );
      const reads = Array.from({ length: 50 }, (_, i) =>
        i % 2 === 0
          ? listImages(db(), { limit: 5 }).then((p) => p.items.length)
          : vectorCandidates(db(), { model: "wink-sg-100d", dimensions: 100, vector: nearVector(i, 100, 0), k: 5, efSearch: 20 }).then((h) => h.length),
      );
      const results = await Promise.allSettled([...writes, ...reads]);
      expect(results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      expect(await count(target.database, "images", sql`category = ${category}`)).toBe(10);
    });

    test("every query is a CLIENT span under the current span, parameterised, without values", async () => {
      const marker = `MARKER-${tag("")}-7f3a`;
      const parent = target.telemetry.startSpan("test.parent");
      await target.telemetry.withSpan(parent, async () => {
        const row = await insertImageWithEmbeddings(db(), newImage({ sha256: marker, caption: marker, labels: [marker], category: marker }), [
          { model: "wink-sg-100d", dimensions: 100, vector: nearVector(8, 100, 0) },
        ]);
        await getImage(db(), row.id);
        await fulltextCandidates(db(), { query: marker, k: 5, filters: { category: marker } });
        await vectorCandidates(db(), { model: "wink-sg-100d", dimensions: 100, vector: nearVector(8, 100, 0), k: 5, efSearch: 20, filters: { category: marker } });
        await insertImageWithEmbeddings(db(), newImage({ sha256: marker }), []).catch(() => {});
      });
      parent.end();
      const { traceId, spanId } = parent.spanContext();
      const spans = target.recorder.spans(traceId).filter((s) => s.name !== "test.parent");
      expect(spans.length).toBeGreaterThanOrEqual(7);
      for (const span of spans) {
        expect(span.kind).toBe(SpanKind.CLIENT);
        expect(span.parentSpanContext?.spanId).toBe(spanId);
        expect(span.attributes[DB_ATTR.system]).toBe("postgresql");
        expect(typeof span.attributes[DB_ATTR.queryText]).toBe("string");
        const everything = JSON.stringify([span.name, span.attributes, span.events, span.status]);
        expect(everything).not.toContain(marker);
      }
      const insert = spans.find((s) => s.name === "INSERT images")!;
      expect(insert.attributes).toMatchObject({ [DB_ATTR.operation]: "INSERT", [DB_ATTR.collection]: "images" });
      expect(String(insert.attributes[DB_ATTR.queryText])).toMatch(/insert into "images" .*\$1/);
      expect(spans.some((s) => s.attributes[DB_ATTR.collection] === "image_embeddings" && s.attributes[DB_ATTR.operation] === "SELECT")).toBe(true);
      const failed = spans.filter((s) => s.status.code === 2);
      expect(failed.length).toBeGreaterThanOrEqual(1);
      expect(failed.some((s) => s.attributes["db.response.status_code"] === "23505")).toBe(true);
    });

    test("data survives closing and reopening the database", async () => {
      if (!target.reopen) return;
      const sha = tag("persist-");
      const row = await insertImageWithEmbeddings(db(), newImage({ sha256: sha, caption: "kept" }), [{ model: "wink-sg-100d", dimensions: 100, vector: nearVector(9, 100, 0) }]);
      target.database = await target.reopen(target.database);
      expect(await getImage(db(), row.id)).toMatchObject({ sha256: sha, caption: "kept" });
      expect((await vectorCandidates(db(), { model: "wink-sg-100d", dimensions: 100, vector: nearVector(9, 100, 0), k: 1, efSearch: 20 }))[0]?.id).toBe(row.id);
    });
  });
}
