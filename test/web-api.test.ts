/**
 * What the web app needs from the API besides the flows (those run in Chromium,
 * web-browser.test.ts): the categories in use (`GET /api/categories`), and images when every read
 * needs a key. Then the image URLs in records are signed and short-lived: each opens its own bytes
 * without a key (through the S3 redirect too) until it expires, and nothing else opens.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { loadConfig } from "../src/config.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { createUrlSigner, imageLink, SIGNED_URL_WINDOW_SECONDS } from "../src/http/signed-urls.ts";
import { silentLogger } from "../src/log.ts";
import { startServer, type RunningServer } from "../src/server.ts";
import { createS3BlobStore } from "../src/storage/index.ts";
import { noopTelemetry } from "../src/telemetry/index.ts";
import { contractChecker, type OpenApiDocument } from "./harness/openapi.ts";
import { startS3, type TestS3 } from "./harness/s3.ts";
import { scene } from "./ingest-fixtures.ts";
import { tempDataDir } from "./telemetry-helpers.ts";

// PGlite, the offline models and a real server in process, on a loaded 2-core machine.
setDefaultTimeout(30_000);

const KEY = "web-api-key-5c1d";
const SIGNED = /^(\/api\/[^?]+)\?expires=(\d+)&signature=([\w-]{22})$/;

describe("createUrlSigner", () => {
  const path = "/api/images/0190c5c4-0000-7000-8000-000000000001/thumbnail";
  const at = (seconds: number) => () => seconds * 1000;
  const start = 1_800_000_000;

  test("a signed URL opens its own path until it expires, between one and two windows later", () => {
    const signer = createUrlSigner([KEY], at(start));
    const [, signedPath, expires, signature] = SIGNED.exec(signer.sign(path))!;
    expect(signedPath).toBe(path);
    const lifetime = Number(expires) - start;
    expect(lifetime).toBeGreaterThan(SIGNED_URL_WINDOW_SECONDS);
    expect(lifetime).toBeLessThanOrEqual(2 * SIGNED_URL_WINDOW_SECONDS);
    expect(signer.verify(path, expires, signature)).toBe(Number(expires));
    expect(createUrlSigner([KEY], at(Number(expires) - 1)).verify(path, expires, signature)).toBe(Number(expires));
    expect(createUrlSigner([KEY], at(Number(expires))).verify(path, expires, signature)).toBeUndefined();
  });

  test("the same image keeps the same URL through a window (so the browser cache serves it again)", () => {
    const window = Math.floor(start / SIGNED_URL_WINDOW_SECONDS) * SIGNED_URL_WINDOW_SECONDS;
    const first = createUrlSigner([KEY], at(window)).sign(path);
    expect(createUrlSigner([KEY], at(window + SIGNED_URL_WINDOW_SECONDS - 1)).sign(path)).toBe(first);
    expect(createUrlSigner([KEY], at(window + SIGNED_URL_WINDOW_SECONDS)).sign(path)).not.toBe(first);
  });

  test("nothing else verifies: another path, a changed expiry or signature, other keys; key order does not matter", () => {
    const signer = createUrlSigner(["k1", KEY], at(start));
    const [, , expires, signature] = SIGNED.exec(signer.sign(path))!;
    expect(signer.verify(path.replace("thumbnail", "file"), expires, signature)).toBeUndefined();
    expect(signer.verify(path.replace("0001", "0002"), expires, signature)).toBeUndefined();
    expect(signer.verify(path, String(Number(expires) + 3600), signature)).toBeUndefined();
    expect(signer.verify(path, expires, `${signature!.startsWith("A") ? "B" : "A"}${signature!.slice(1)}`)).toBeUndefined();
    // The last character carries spare bits: another spelling of the same bytes is refused too.
    expect(signer.verify(path, expires, `${signature!.slice(0, -1)}${signature!.endsWith("A") ? "B" : "A"}`)).toBeUndefined();
    expect(signer.verify(path, expires, signature!.slice(0, 10))).toBeUndefined();
    expect(signer.verify(path, expires, undefined)).toBeUndefined();
    expect(signer.verify(path, "soon", signature)).toBeUndefined();
    expect(createUrlSigner([KEY, "k1"], at(start)).verify(path, expires, signature)).toBe(Number(expires));
    expect(createUrlSigner([KEY], at(start)).verify(path, expires, signature)).toBeUndefined();
  });

  test("only image bytes are signed, and only when every read needs a key", () => {
    const signer = createUrlSigner([KEY]);
    for (const other of ["/api/images/x", "/api/images", "/api/search", "/api/images/x/file/more", "/api/generations/x"]) expect(signer.sign(other)).toBe(other);
    expect(signer.sign("/api/generations/x/image")).toMatch(SIGNED);
    expect(signer.sign("/api/images/x/file")).toMatch(SIGNED);
    expect(imageLink(loadConfig({ API_KEYS: KEY }))(path)).toBe(path);
    expect(imageLink(loadConfig({}))(path)).toBe(path);
    expect(imageLink(loadConfig({ API_KEYS: KEY, PUBLIC_READS: "false" }))(path)).toMatch(SIGNED);
  });
});

/** A service in this process with every read behind a key; `storage` replaces local files. */
async function privateService(options: { env?: Record<string, string>; storage?: NonNullable<Parameters<typeof startServer>[1]>["storage"] } = {}) {
  const dir = tempDataDir();
  const database = await createTestDatabase();
  const config = loadConfig({ PORT: "0", HOST: "127.0.0.1", DATA_DIR: dir, LOG_LEVEL: "silent", API_KEYS: KEY, PUBLIC_READS: "false", ...options.env });
  const server = await startServer(config, { log: silentLogger, telemetry: noopTelemetry(), database, storage: options.storage });
  return {
    server,
    /** A request with the key unless `key: null`. */
    fetch(path: string, init: RequestInit & { key?: string | null } = {}) {
      const headers = new Headers(init.headers);
      if (init.key !== null) headers.set("authorization", `Bearer ${init.key ?? KEY}`);
      return fetch(path.startsWith("http") ? path : `${server.url}${path}`, { ...init, headers });
    },
    async upload(seed: number, fields: Record<string, string>) {
      const form = new FormData();
      form.set("file", new File([await scene(seed)], `${seed}.jpg`, { type: "image/jpeg" }));
      for (const [name, value] of Object.entries(fields)) form.set(name, value);
      const res = await this.fetch("/api/images", { method: "POST", body: form });
      expect(res.status).toBe(201);
      return (await res.json()) as { id: string; url: string; thumbnailUrl: string; category: string };
    },
    async close() {
      await server.stop();
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe("API_KEYS and PUBLIC_READS=false (PGlite, local files)", () => {
  let service: Awaited<ReturnType<typeof privateService>>;
  let image: Awaited<ReturnType<typeof service.upload>>;

  beforeAll(async () => {
    service = await privateService();
    image = await service.upload(901, { caption: "a calm sea", category: "Seascape", role: "tone-ref" });
    await service.upload(902, { caption: "a red door", category: "Doors" });
    await service.upload(903, { caption: "a blue door", category: "Doors" });
  }, 60_000);
  afterAll(() => service?.close());

  test("every image URL a record carries is signed: upload, record, list, search, generation", async () => {
    expect(image.url).toMatch(SIGNED);
    expect(SIGNED.exec(image.thumbnailUrl)![1]).toBe(`/api/images/${image.id}/thumbnail`);
    const record = (await (await service.fetch(`/api/images/${image.id}`)).json()) as { url: string };
    expect(SIGNED.exec(record.url)![1]).toBe(`/api/images/${image.id}/file`);
    const page = (await (await service.fetch("/api/images")).json()) as { items: { url: string; thumbnailUrl: string }[] };
    for (const item of page.items) expect([item.url, item.thumbnailUrl]).toEqual([expect.stringMatching(SIGNED), expect.stringMatching(SIGNED)]);
    const search = await service.fetch("/api/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "door" }) });
    const { results } = (await search.json()) as { results: { image: { thumbnailUrl: string } }[] };
    expect(results.length).toBeGreaterThan(0);
    for (const r of results) expect(r.image.thumbnailUrl).toMatch(SIGNED);
    const generated = await service.fetch("/api/generate", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: "a calm sea at dusk" }) });
    expect(generated.status).toBe(201);
    const { id, imageUrl } = (await generated.json()) as { id: string; imageUrl: string };
    expect(SIGNED.exec(imageUrl)![1]).toBe(`/api/generations/${id}/image`);
    const bytes = await service.fetch(imageUrl, { key: null });
    expect(bytes.status).toBe(200);
    expect(bytes.headers.get("content-type")).toStartWith("image/");
  });

  test("a signed URL opens its bytes without a key, cacheable only privately and only until it expires", async () => {
    const plain = await service.fetch(`/api/images/${image.id}/file`);
    expect(plain.status).toBe(200);
    const original = new Uint8Array(await plain.arrayBuffer());

    const res = await service.fetch(image.url, { key: null });
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(original);
    const expires = Number(SIGNED.exec(image.url)![2]);
    const maxAge = Number(/^private, max-age=(\d+)$/.exec(res.headers.get("cache-control") ?? "")?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(expires - Math.floor(Date.now() / 1000) + 1);

    const again = await service.fetch(image.url, { key: null, headers: { "if-none-match": res.headers.get("etag")! } });
    expect(again.status).toBe(304);
    expect(again.headers.get("cache-control")).toStartWith("private, max-age=");
    const thumbnail = await service.fetch(image.thumbnailUrl, { key: null });
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers.get("content-type")).toBe("image/webp");
  });

  test("nothing else opens without a key: the bare path, another path's signature, a changed or expired one, other reads", async () => {
    const refused = async (url: string) => {
      const res = await service.fetch(url, { key: null });
      return { url, status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code };
    };
    const [, path, expires, signature] = SIGNED.exec(image.thumbnailUrl)!;
    const other = (await service.fetch("/api/images?limit=3").then((r) => r.json())) as { items: { id: string }[] };
    const otherId = other.items.find((i) => i.id !== image.id)!.id;
    const stale = createUrlSigner([KEY], () => Date.now() - 3 * SIGNED_URL_WINDOW_SECONDS * 1000).sign(path!);
    const foreign = createUrlSigner(["another-service-key"]).sign(path!);
    const cases = [
      path!,
      `/api/images/${image.id}/file?expires=${expires}&signature=${signature}`,
      `/api/images/${otherId}/thumbnail?expires=${expires}&signature=${signature}`,
      `${path}?expires=${Number(expires) + 3600}&signature=${signature}`,
      `${path}?expires=${expires}&signature=${signature!.slice(1)}`,
      `${path}?signature=${signature}`,
      stale,
      foreign,
      `/api/images/${image.id}?expires=${expires}&signature=${signature}`,
      `/api/images?expires=${expires}&signature=${signature}`,
      `/api/categories?expires=${expires}&signature=${signature}`,
    ];
    for (const url of cases) expect(await refused(url)).toEqual({ url, status: 401, code: "unauthorized" });
    const expired = await service.fetch(stale, { key: null });
    expect(((await expired.json()) as { error: { message: string } }).error.message).toContain("signed URL has expired");
    // A key still opens the bare path, and a wrong key is refused even beside a good signature.
    expect((await service.fetch(path!)).status).toBe(200);
    expect((await service.fetch(image.thumbnailUrl, { key: "not-a-key" })).status).toBe(401);
  });

  test("GET /api/categories: the categories in use with their counts, behind the same policy as listing images", async () => {
    const res = await service.fetch("/api/categories");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ items: [{ category: "doors", count: 2 }, { category: "seascape", count: 1 }] });
    expect((await service.fetch("/api/categories", { key: null })).status).toBe(401);
    expect((await service.fetch("/api/images", { key: null })).status).toBe(401);
  });

  test("these answers validate against this instance's OpenAPI document", async () => {
    const contract = contractChecker((await (await service.fetch("/openapi.json", { key: null })).json()) as OpenApiDocument);
    const check = async (url: string, key: string | null | undefined, headers: Record<string, string> = {}) => {
      const res = await service.fetch(url, { key, headers });
      return contract.check("GET", `${service.server.url}${url}`, res);
    };
    const file = await service.fetch(image.url, { key: null });
    expect(await check("/api/categories", undefined)).toEqual({ operationId: "listCategories", status: 200 });
    expect(await check("/api/categories", null)).toEqual({ operationId: "listCategories", status: 401 });
    expect(await check(`/api/images/${image.id}`, undefined)).toEqual({ operationId: "getImage", status: 200 });
    expect(await check(image.url, null)).toEqual({ operationId: "getImageFile", status: 200 });
    expect(await check(image.url, null, { "if-none-match": file.headers.get("etag")! })).toEqual({ operationId: "getImageFile", status: 304 });
    expect(await check(`${image.thumbnailUrl.split("?")[0]}?expires=1&signature=x`, null)).toEqual({ operationId: "getImageThumbnail", status: 401 });
  });
});

describe("API_KEYS and PUBLIC_READS=false with the blobs on S3 (s3rver)", () => {
  let s3: TestS3;
  let service: Awaited<ReturnType<typeof privateService>>;

  beforeAll(async () => {
    s3 = await startS3();
    const storage = createS3BlobStore({ bucket: s3.bucket, endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, presignTtlSeconds: 300, credentials: s3.credentials });
    service = await privateService({ env: s3.env, storage });
  }, 60_000);
  afterAll(async () => {
    await service?.close();
    await s3?.stop();
  });

  test("a signed URL redirects to the presigned S3 URL, which an <img> follows with no key; the bare path stays refused", async () => {
    const image = await service.upload(911, { caption: "a lighthouse" });
    const hop = await service.fetch(image.thumbnailUrl, { key: null, redirect: "manual" });
    expect(hop.status).toBe(302);
    const location = hop.headers.get("location")!;
    expect(location).toStartWith(`${s3.endpoint}/${s3.bucket}/`);
    const bytes = await fetch(location);
    expect(bytes.status).toBe(200);
    expect(bytes.headers.get("content-type")).toBe("image/webp");
    expect((await service.fetch(SIGNED.exec(image.thumbnailUrl)![1]!, { key: null, redirect: "manual" })).status).toBe(401);
  });
});
