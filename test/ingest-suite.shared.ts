/**
 * The ingest pipeline end to end through HTTP (a real `Bun.serve` over `createApp`), on an
 * in-memory PGlite and one blob store implementation; `ingest-local.test.ts` and
 * `ingest-s3.test.ts` run it on local files and on s3rver.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import sharp from "sharp";
import { createOfflineEmbedder, createWordVectors } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import { images } from "../src/db/schema.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import type { Database } from "../src/db/client.ts";
import { createApp } from "../src/http/app.ts";
import { hexToLab, deltaE } from "../src/ingest/color.ts";
import type { IngestDeps } from "../src/ingest/pipeline.ts";
import { silentLogger } from "../src/log.ts";
import { tracedBlobStore, type BlobStore } from "../src/storage/index.ts";
import { createTestTelemetry, SPAN, type InMemoryRecorder, type SpanNode } from "../src/telemetry/index.ts";
import { bands, bombPng, jpegWithLocation, scene, SVG_BYTES, TEXT_BYTES, truncate } from "./ingest-fixtures.ts";

export interface IngestTarget {
  /** The raw store the service writes to (the suite wraps it in spans). */
  store: BlobStore;
  cleanup(): Promise<void>;
}

/** Settings of the suite: small limits so the size checks are cheap to reach. */
export const SUITE_ENV = { DATABASE_URL: "memory://", LOG_LEVEL: "silent", MAX_UPLOAD_BYTES: String(2 * 1024 * 1024), MAX_IMAGE_PIXELS: "40000000" };

const wordVectors = createWordVectors();

export interface SuiteContext {
  url: string;
  deps: IngestDeps;
  database: Database;
  recorder: InMemoryRecorder;
  rawStore: BlobStore;
}

/** Builds the service pieces once per file. */
export async function openSuite(target: IngestTarget) {
  const { telemetry, recorder } = createTestTelemetry();
  const database = await createTestDatabase(telemetry);
  const config = loadConfig(SUITE_ENV);
  const deps: IngestDeps = {
    db: database.db,
    storage: tracedBlobStore(target.store, telemetry),
    embedder: createOfflineEmbedder(wordVectors),
    telemetry,
    config,
    log: silentLogger,
  };
  const app = createApp({ config, telemetry, log: silentLogger, images: deps });
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
  return {
    ctx: { url: `http://127.0.0.1:${server.port}`, deps, database, recorder, rawStore: target.store } satisfies SuiteContext,
    config,
    telemetry,
    async close() {
      await server.stop(true);
      await database.close();
      await target.cleanup();
    },
  };
}

/** A response's JSON body, untyped (tests index into it freely). */
export const jsonOf = (response: Response): Promise<any> => response.json();

/** POSTs a multipart upload. */
export async function upload(
  url: string,
  bytes: Uint8Array | undefined,
  fields: Record<string, string> = {},
  file: { name?: string; type?: string; field?: string } = {},
): Promise<Response> {
  const form = new FormData();
  if (bytes) form.append(file.field ?? "file", new File([bytes], file.name ?? "upload.bin", { type: file.type ?? "application/octet-stream" }));
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return fetch(`${url}/api/images`, { method: "POST", body: form });
}

/** Rows in `images` and keys in the store: what "nothing stored" is checked against. */
export async function stored(ctx: SuiteContext): Promise<{ rows: number; embeddings: number; keys: string[] }> {
  const [row] = await ctx.database.db.select({ n: sql<number>`count(*)::int` }).from(images);
  const emb = await ctx.database.db.execute(sql`select count(*)::int as n from image_embeddings`);
  const embRows = (emb as unknown as { rows: Array<{ n: number }> }).rows;
  return { rows: row!.n, embeddings: embRows[0]!.n, keys: await ctx.rawStore.list("") };
}

function traceIdOf(response: Response): string {
  const match = /^00-([0-9a-f]{32})-[0-9a-f]{16}-0[01]$/.exec(response.headers.get("traceresponse") ?? "");
  if (!match) throw new Error("no traceresponse header");
  return match[1]!;
}

function descendants(node: SpanNode): SpanNode[] {
  return node.children.flatMap((child) => [child, ...descendants(child)]);
}

/**
 * Registers the end-to-end suite for one blob store.
 *
 * @example
 * ingestSuite("local", async () => ({ store: await createLocalBlobStore(dir), cleanup }));
 */
export function ingestSuite(name: "local" | "s3", openTarget: () => Promise<IngestTarget>): void {
  describe(`ingest through HTTP on PGlite + ${name}`, () => {
    let suite: Awaited<ReturnType<typeof openSuite>>;
    let ctx: SuiteContext;
    let seed = 1000;
    const fresh = (format: Parameters<typeof scene>[1] = "jpeg") => scene(seed++, format);

    beforeAll(async () => {
      suite = await openSuite(await openTarget());
      ctx = suite.ctx;
    }, 60_000);
    afterAll(() => suite.close());

    test("an upload answers 201 with the record, stores the original and a thumbnail, and is searchable text", async () => {
      const bytes = await fresh("jpeg");
      const response = await upload(ctx.url, bytes, { caption: "A small boat on a calm ocean", labels: "Boat, sea ,  harbour", category: "Natural" }, { name: "holiday.jpg", type: "image/jpeg" });
      expect(response.status).toBe(201);
      const body = await jsonOf(response);
      expect(body).toMatchObject({
        width: 320,
        height: 240,
        mimeType: "image/jpeg",
        labels: ["boat", "sea", "harbour"],
        caption: "A small boat on a calm ocean",
        category: "natural",
        role: "corpus",
        url: `/api/images/${body.id}/file`,
        thumbnailUrl: `/api/images/${body.id}/thumbnail`,
        duplicate: false,
      });
      expect(response.headers.get("location")).toBe(`/api/images/${body.id}`);
      expect(body.hexColors.length).toBeGreaterThan(0);
      expect(body.hexColors.every((h: string) => /^#[0-9a-f]{6}$/.test(h))).toBe(true);
      expect(new Date(body.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
      const keys = await ctx.rawStore.list("");
      expect(keys).toContain(`uploads/${body.id}.jpg`);
      expect(keys).toContain(`thumbnails/${body.id}.webp`);
      const embedding = await ctx.database.db.execute(sql`select model, dimensions from image_embeddings where image_id = ${body.id}`);
      expect((embedding as unknown as { rows: unknown[] }).rows).toEqual([{ model: "wink-sg-100d", dimensions: 100 }]);

      const again = await fetch(`${ctx.url}/api/images/${body.id}`);
      expect(again.status).toBe(200);
      const { duplicate: _duplicate, ...record } = body;
      expect(await jsonOf(again)).toEqual(record);
    });

    test("the same bytes twice give the stored record with 200, not a second image", async () => {
      const bytes = await fresh("png");
      const first = await upload(ctx.url, bytes, { caption: "first" });
      expect(first.status).toBe(201);
      const before = await stored(ctx);
      const second = await upload(ctx.url, bytes, { caption: "second try, other caption" }, { name: "copy.png" });
      expect(second.status).toBe(200);
      const a = await jsonOf(first);
      const b = await jsonOf(second);
      expect(b.id).toBe(a.id);
      expect(b.caption).toBe("first");
      expect(b).toMatchObject({ duplicate: true, notApplied: ["caption"] });
      expect(await stored(ctx)).toEqual(before);
    });

    test("a duplicate names exactly the submitted fields that differ from the stored record, after normalisation", async () => {
      const bytes = await fresh("png");
      const first = await upload(ctx.url, bytes, { caption: "Quiet  harbour", labels: "Boat,sea", category: "Natural Light", role: "tone-ref" });
      expect(first.status).toBe(201);
      const a = await jsonOf(first);
      const before = await stored(ctx);
      // The same metadata written differently (spacing, case, label order): nothing differs.
      const same = await upload(ctx.url, bytes, { caption: " Quiet harbour ", labels: "sea, BOAT", category: "natural-light", role: "tone-ref" });
      expect(same.status).toBe(200);
      expect(await jsonOf(same)).toMatchObject({ id: a.id, duplicate: true, notApplied: [] });
      // Nothing sent but the file: nothing to apply, and no role is implied by a default.
      const bare = await upload(ctx.url, bytes);
      expect(await jsonOf(bare)).toMatchObject({ id: a.id, role: "tone-ref", duplicate: true, notApplied: [] });
      const changed = await upload(ctx.url, bytes, { caption: "Busy harbour", labels: "boat", category: "portrait", role: "corpus" });
      expect(changed.status).toBe(200);
      expect(await jsonOf(changed)).toMatchObject({
        id: a.id,
        caption: "Quiet harbour",
        labels: ["boat", "sea"],
        category: "natural-light",
        role: "tone-ref",
        duplicate: true,
        notApplied: ["caption", "labels", "category", "role"],
      });
      expect(await jsonOf(await fetch(`${ctx.url}/api/images/${a.id}`))).toMatchObject({ caption: "Quiet harbour", labels: ["boat", "sea"], role: "tone-ref" });
      expect(await stored(ctx)).toEqual(before);
    });

    test("two concurrent uploads of the same bytes end with one image and no orphaned blobs", async () => {
      const bytes = await fresh("jpeg");
      const before = await stored(ctx);
      const answers = await Promise.all([upload(ctx.url, bytes, { caption: "race" }), upload(ctx.url, bytes, { caption: "race" }), upload(ctx.url, bytes, { caption: "race" })]);
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses[0]).toBe(200);
      expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(1);
      const ids = new Set(await Promise.all(answers.map(async (r) => (await jsonOf(r)).id)));
      expect(ids.size).toBe(1);
      const after = await stored(ctx);
      expect(after.rows).toBe(before.rows + 1);
      expect(after.keys.length).toBe(before.keys.length + 2);
    });

    test("every accepted format is sniffed from the bytes, whatever the declared type", async () => {
      for (const format of ["jpeg", "png", "webp", "avif", "gif"] as const) {
        const response = await upload(ctx.url, await fresh(format), { caption: `a ${format} scene` }, { name: "x.bin", type: "application/octet-stream" });
        expect(response.status).toBe(201);
        const body = await jsonOf(response);
        expect(body.mimeType).toBe(`image/${format}`);
        const ext = { jpeg: "jpg", png: "png", webp: "webp", avif: "avif", gif: "gif" }[format];
        expect(await ctx.rawStore.head(`uploads/${body.id}.${ext}`)).not.toBeNull();
      }
    });

    test("EXIF orientation is applied and location and camera metadata never reach storage", async () => {
      const bytes = await jpegWithLocation();
      const source = await sharp(bytes).metadata();
      expect(source.exif).toBeDefined();
      expect(source.orientation).toBe(6);
      expect(Buffer.from(source.exif!).includes("Secret Model 9")).toBe(true);
      const response = await upload(ctx.url, bytes, { caption: "sideways" }, { type: "image/jpeg" });
      expect(response.status).toBe(201);
      const body = await jsonOf(response);
      expect([body.width, body.height]).toEqual([200, 300]);
      const blob = await ctx.rawStore.get(`uploads/${body.id}.jpg`);
      const storedMeta = await sharp(blob!.bytes).metadata();
      expect(storedMeta.exif).toBeUndefined();
      expect(storedMeta.orientation ?? 1).toBe(1);
      expect([storedMeta.width, storedMeta.height]).toEqual([200, 300]);
      expect(Buffer.from(blob!.bytes).includes("Secret Model 9")).toBe(false);
      expect(Buffer.from(blob!.bytes).includes("TestCam")).toBe(false);
    });

    test("the palette comes back most dominant first (60% red, 30% blue, 10% white)", async () => {
      const bytes = await bands([
        { hex: "#e0201b", share: 0.6 },
        { hex: "#1b3fe0", share: 0.3 },
        { hex: "#ffffff", share: 0.1 },
      ]);
      const body = await jsonOf(await upload(ctx.url, bytes, { caption: "flag-like bands" }));
      expect(body.hexColors.length).toBe(3);
      const expected = ["#e0201b", "#1b3fe0", "#ffffff"];
      body.hexColors.forEach((hex: string, i: number) => expect(deltaE(hexToLab(hex)!, hexToLab(expected[i]!)!)).toBeLessThan(5));
    });

    test("role picks the key prefix; the category is slugified; a client's file name never reaches a key", async () => {
      const response = await upload(ctx.url, await fresh("jpeg"), { caption: "warm evening light", role: "tone-ref", category: "Golden Hour!" }, { name: "../../../etc/evil name.jpg" });
      expect(response.status).toBe(201);
      const body = await jsonOf(response);
      expect(body.role).toBe("tone-ref");
      expect(body.category).toBe("golden-hour");
      expect(body.originalName).toBe("evil name.jpg");
      expect(await ctx.rawStore.list("refs/tone/golden-hour/")).toEqual([`refs/tone/golden-hour/${body.id}.jpg`]);
      const angle = await jsonOf(await upload(ctx.url, await fresh("png"), { caption: "three-quarter view", role: "angle-ref" }));
      expect(await ctx.rawStore.list("refs/angle/uncategorized/")).toContain(`refs/angle/uncategorized/${angle.id}.png`);
      expect((await ctx.rawStore.list("")).some((k) => k.includes("evil") || k.includes("etc"))).toBe(false);
    });

    test("an upload is one trace: decode, palette, label, embed and storage.put spans under the request's root span", async () => {
      const response = await upload(ctx.url, await fresh("jpeg"), { caption: "traced upload", labels: "trace" });
      expect(response.status).toBe(201);
      const traceId = traceIdOf(response);
      const roots = ctx.recorder.tree(traceId);
      expect(roots.length).toBe(1);
      const root = roots[0]!;
      expect(root.name).toBe("POST /api/images");
      const names = descendants(root).map((n) => n.name);
      for (const stage of [SPAN.ingestDecode, SPAN.ingestPalette, SPAN.ingestLabel, SPAN.ingestEmbed]) expect(names.filter((n) => n === stage).length).toBe(1);
      expect(names.filter((n) => n === SPAN.storagePut).length).toBe(2);
      const decode = descendants(root).find((n) => n.name === SPAN.ingestDecode)!;
      expect(decode.attributes["image.mime_type"]).toBe("image/jpeg");
      expect(typeof decode.attributes["process.cpu_user_ms"]).toBe("number");
      const embed = descendants(root).find((n) => n.name === SPAN.ingestEmbed)!;
      expect(embed.attributes["embedding.model"]).toBe("wink-sg-100d");
      expect(descendants(root).find((n) => n.name === SPAN.ingestLabel)!.attributes["ingest.label.source"]).toBe("request");
    });

    test("GET /file serves the stored bytes with type, ETag and cache headers (or redirects to a presigned URL)", async () => {
      const bytes = await fresh("png");
      const body = await jsonOf(await upload(ctx.url, bytes, { caption: "served" }));
      const response = await fetch(`${ctx.url}${body.url}`, { redirect: "manual" });
      if (name === "s3") {
        expect(response.status).toBe(302);
        const location = response.headers.get("location")!;
        expect(location).toContain("X-Amz-Signature=");
        const direct = await fetch(location);
        expect(direct.status).toBe(200);
        expect(direct.headers.get("content-type")).toBe("image/png");
        expect(Buffer.from(await direct.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
        return;
      }
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("image/png");
      expect(response.headers.get("cache-control")).toContain("immutable");
      const etag = response.headers.get("etag")!;
      expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
      expect(Buffer.from(await response.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
      const revalidated = await fetch(`${ctx.url}${body.url}`, { headers: { "If-None-Match": etag } });
      expect(revalidated.status).toBe(304);
      expect(revalidated.headers.get("etag")).toBe(etag);
      const changed = await fetch(`${ctx.url}${body.url}`, { headers: { "If-None-Match": '"something-else"' } });
      expect(changed.status).toBe(200);
      await changed.arrayBuffer();
    });

    test("GET /thumbnail gives a WebP no larger than 512 px", async () => {
      const big = await scene(seed++, "jpeg", 1200, 900);
      const body = await jsonOf(await upload(ctx.url, big, { caption: "big" }));
      const response = await fetch(`${ctx.url}${body.thumbnailUrl}`);
      expect(response.status).toBe(200);
      const meta = await sharp(new Uint8Array(await response.arrayBuffer())).metadata();
      expect(meta.format).toBe("webp");
      expect([meta.width, meta.height]).toEqual([512, 384]);
    });

    test("malformed ids are 400 and unknown ids 404, for the record, the file and the thumbnail", async () => {
      for (const suffix of ["", "/file", "/thumbnail"]) {
        const bad = await fetch(`${ctx.url}/api/images/not-a-uuid${suffix}`);
        expect(bad.status).toBe(400);
        expect((await jsonOf(bad)).error.code).toBe("invalid_id");
        const missing = await fetch(`${ctx.url}/api/images/${crypto.randomUUID()}${suffix}`);
        expect(missing.status).toBe(404);
        expect((await jsonOf(missing)).error.code).toBe("not_found");
      }
    });

    test("GET /api/images pages newest first with a cursor and filters by role and category", async () => {
      const category = `pager-${seed}`;
      const made: string[] = [];
      for (let i = 0; i < 5; i++) {
        const role = i < 2 ? "tone-ref" : "corpus";
        const body = await jsonOf(await upload(ctx.url, await fresh("jpeg"), { caption: `page ${i}`, category, role }));
        made.push(body.id);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = `category=${category}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
        const page = await jsonOf(await fetch(`${ctx.url}/api/images?${query}`));
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((i: { id: string }) => i.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual([...made].reverse());
      const tone = await jsonOf(await fetch(`${ctx.url}/api/images?category=${category}&role=tone-ref`));
      expect(tone.items.map((i: { id: string }) => i.id)).toEqual([made[1], made[0]]);
      expect(tone.nextCursor).toBeNull();
      for (const query of ["limit=0", "limit=101", "limit=abc", "role=hero", "cursor=garbage", "colour=red"]) {
        const response = await fetch(`${ctx.url}/api/images?${query}`);
        expect(response.status).toBe(400);
        expect((await jsonOf(response)).error.code).toMatch(/^invalid_/);
      }
    });

    describe("bad input: a 4xx JSON error and nothing stored", () => {
      const cases: Array<[string, () => Promise<Response>, number, string]> = [
        ["bytes that are not an image, declared image/png", () => upload(ctx.url, TEXT_BYTES, {}, { name: "a.png", type: "image/png" }), 415, "unsupported_image_type"],
        ["an SVG (an image format this service does not take)", () => upload(ctx.url, SVG_BYTES, {}, { name: "a.svg", type: "image/svg+xml" }), 415, "unsupported_image_type"],
        ["a truncated JPEG", async () => upload(ctx.url, truncate(await scene(1, "jpeg", 640, 480)), {}, { type: "image/jpeg" }), 422, "invalid_image"],
        ["a truncated PNG", async () => upload(ctx.url, truncate(await scene(2, "png", 640, 480)), {}, { type: "image/png" }), 422, "invalid_image"],
        ["an empty file", () => upload(ctx.url, new Uint8Array(), {}, { type: "image/png" }), 400, "empty_file"],
        ["no file field", () => upload(ctx.url, undefined, { caption: "where is the file" }), 400, "missing_file"],
        ["the file sent as a text field", () => fetch(`${ctx.url}/api/images`, { method: "POST", body: (() => { const f = new FormData(); f.append("file", "not a file"); return f; })() }), 400, "missing_file"],
        ["a JSON body", () => fetch(`${ctx.url}/api/images`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ file: "aGVsbG8=" }) }), 415, "unsupported_media_type"],
        ["a header claiming 3.6 billion pixels", () => upload(ctx.url, bombPng(), {}, { type: "image/png" }), 422, "too_many_pixels"],
        ["a header just over the pixel limit", () => upload(ctx.url, bombPng(8000, 5001), {}, { type: "image/png" }), 422, "too_many_pixels"],
        ["an unknown role", async () => upload(ctx.url, await scene(3, "jpeg"), { role: "hero" }), 400, "invalid_request"],
        ["an empty category slug", async () => upload(ctx.url, await scene(4, "jpeg"), { category: "!!!" }), 400, "invalid_request"],
        [
          "malformed multipart",
          () => fetch(`${ctx.url}/api/images`, { method: "POST", headers: { "content-type": "multipart/form-data; boundary=xyz" }, body: '--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nno end' }),
          400,
          "malformed_multipart",
        ],
        ["multipart without a boundary", () => fetch(`${ctx.url}/api/images`, { method: "POST", headers: { "content-type": "multipart/form-data" }, body: "x" }), 415, "unsupported_media_type"],
        [
          "a body over the size limit (Content-Length checked up front)",
          () => upload(ctx.url, new Uint8Array(3 * 1024 * 1024).fill(1), {}, { type: "image/jpeg" }),
          413,
          "payload_too_large",
        ],
        [
          "a file over the size limit inside a body under the multipart allowance",
          async () => {
            const jpeg = await scene(5, "jpeg");
            const padded = new Uint8Array(2 * 1024 * 1024 + 10);
            padded.set(jpeg);
            return upload(ctx.url, padded, {}, { type: "image/jpeg" });
          },
          413,
          "payload_too_large",
        ],
      ];
      for (const [label, send, status, code] of cases) {
        test(label, async () => {
          const before = await stored(ctx);
          const response = await send();
          expect(response.status).toBe(status);
          expect(response.headers.get("content-type")).toContain("application/json");
          expect((await jsonOf(response)).error.code).toBe(code);
          expect(await stored(ctx)).toEqual(before);
        });
      }
    });
  });
}
