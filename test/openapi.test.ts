/**
 * `/openapi.json` and `/docs`: the document lists exactly the API routes registered on the app,
 * is valid OpenAPI 3.1, marks the operations the auth policy (`needsKey`) protects, and every
 * answer a real service process gives — successes and each error status — validates against it.
 * `/docs` is a page whose scripts and styles all come from the service itself.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { brotliDecompressSync } from "node:zlib";
import { validate as validateOpenApi } from "@readme/openapi-parser";
import { loadConfig } from "../src/config.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import type { GenerationDeps } from "../src/generation/pipeline.ts";
import { createApp } from "../src/http/app.ts";
import { needsKey } from "../src/http/auth.ts";
import { signable, signsImageUrls } from "../src/http/signed-urls.ts";
import type { IngestDeps } from "../src/ingest/pipeline.ts";
import { silentLogger } from "../src/log.ts";
import type { SearchDeps } from "../src/search/pipeline.ts";
import { startServer, type RunningServer } from "../src/server.ts";
import { createTestTelemetry } from "../src/telemetry/index.ts";
import { scene, TEXT_BYTES, truncate } from "./ingest-fixtures.ts";
import { startFakeGemini, type FakeGemini, type GeminiScenario } from "./harness/fake-gemini.ts";
import { contractChecker, type Checked, type OpenApiDocument } from "./harness/openapi.ts";
import { spawnServer, type ServerProcess } from "./harness/server-process.ts";
import { tempDataDir } from "./telemetry-helpers.ts";

// A real service process on a loaded 2-core machine: some steps take longer than bun's 5 s default.
setDefaultTimeout(60_000);

const { telemetry } = createTestTelemetry();
// Registering routes reads no dependency, so empty stand-ins give the app its full route table.
const stand = { images: {} as IngestDeps, generation: {} as GenerationDeps, search: {} as SearchDeps };

function appWith(env: Record<string, string>, groups: Partial<typeof stand> = stand) {
  return createApp({ config: loadConfig({ LOG_LEVEL: "silent", ...env }), telemetry, log: silentLogger, ...groups });
}

async function documentOf(app: ReturnType<typeof appWith>): Promise<OpenApiDocument> {
  const res = await app.request("/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("application/json");
  return (await res.json()) as OpenApiDocument;
}

/** `METHOD /path/:param` for every operation in the document. */
function documented(doc: OpenApiDocument): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`))
    .sort();
}

/**
 * The API routes the app registered: everything under `/api/` and `/health`. The web pages and the
 * document and reference themselves are not API operations.
 */
function registeredApiRoutes(app: ReturnType<typeof appWith>): string[] {
  const routes = app.routes.filter((r) => r.method !== "ALL" && (r.path.startsWith("/api/") || r.path === "/health" || r.path.startsWith("/health/")));
  return [...new Set(routes.map((r) => `${r.method} ${r.path}`))].sort();
}

describe("the document and the registered routes", () => {
  test("every registered API route is in the document with its method, and the document has nothing else", async () => {
    const app = appWith({});
    const doc = await documentOf(app);
    const registered = registeredApiRoutes(app);
    expect(registered.length).toBeGreaterThanOrEqual(13);
    expect(documented(doc)).toEqual(registered);
    // The document and the reference are served beside the API, not described in it.
    const others = app.routes.filter((r) => r.method === "GET" && ["/openapi.json", "/docs", "/docs/assets/:name"].includes(r.path));
    expect(others.map((r) => r.path).sort()).toEqual(["/docs", "/docs/assets/:name", "/openapi.json"]);
  });

  test("a group that is not mounted is not in the document", async () => {
    const app = appWith({}, { images: stand.images, search: stand.search });
    const doc = await documentOf(app);
    expect(documented(doc)).toEqual(registeredApiRoutes(app));
    expect(Object.keys(doc.paths).filter((p) => p.includes("generat"))).toEqual([]);
    expect(doc.paths["/api/search"]?.post).toBeDefined();
  });

  for (const [name, env] of [
    ["without API_KEYS", {}],
    ["with API_KEYS", { API_KEYS: "k1" }],
    ["with API_KEYS and PUBLIC_READS=false", { API_KEYS: "k1", PUBLIC_READS: "false" }],
  ] as const) {
    test(`${name}: valid OpenAPI 3.1, and an operation needs the bearer key exactly when needsKey says so`, async () => {
      const config = loadConfig({ LOG_LEVEL: "silent", ...env });
      const doc = await documentOf(appWith(env));
      expect(doc.openapi).toBe("3.1.0");
      const result = await validateOpenApi(structuredClone(doc) as never);
      expect(result).toMatchObject({ valid: true });
      contractChecker(doc).compileAll();
      const signing = signsImageUrls(config);
      expect((doc.components as Record<string, unknown>).securitySchemes).toEqual({
        apiKey: expect.objectContaining({ type: "http", scheme: "bearer" }),
        ...(signing ? { signedUrl: expect.objectContaining({ type: "apiKey", in: "query", name: "signature" }) } : {}),
      });
      const signedOperations: string[] = [];
      for (const [path, item] of Object.entries(doc.paths)) {
        for (const [method, operation] of Object.entries(item)) {
          const pattern = path.replace(/\{(\w+)\}/g, ":$1");
          const keyed = config.apiKeys.length > 0 && needsKey(method.toUpperCase(), pattern, { publicReads: config.publicReads });
          const signed = keyed && signing && signable(pattern);
          if (signed) signedOperations.push(operation.operationId!);
          const security = keyed ? [{ apiKey: [] }, ...(signed ? [{ signedUrl: [] }] : [])] : [];
          expect({ route: `${method} ${path}`, security: operation.security ?? [] }).toEqual({ route: `${method} ${path}`, security });
          expect(operation.responses["401"] !== undefined).toBe(keyed);
          const query = ((operation.parameters ?? []) as { in: string; name: string }[]).filter((p) => p.in === "query").map((p) => p.name);
          expect(query.includes("signature") && query.includes("expires")).toBe(signed);
        }
      }
      // Only image bytes open with a signed URL, and only when every read needs a key.
      expect(signedOperations.sort()).toEqual(signing ? ["getGenerationImage", "getImageFile", "getImageThumbnail"] : []);
    });
  }

  test("a broken document is refused (the checks above can fail)", async () => {
    const doc = await documentOf(appWith({}));
    const breaks: Record<string, (d: OpenApiDocument) => void> = {
      "a response without its description": (d) => {
        d.paths["/api/search"]!.post!.responses["200"] = { content: {} } as never;
      },
      "a parameter without `in`": (d) => {
        (d.paths["/api/images"]!.get!.parameters as unknown[]).push({ name: "x" });
      },
      "a $ref to no schema": (d) => {
        d.paths["/api/search"]!.post!.responses["200"]!.content!["application/json"]!.schema = { $ref: "#/components/schemas/Nope" };
      },
    };
    for (const [name, breakIt] of Object.entries(breaks)) {
      const broken = structuredClone(doc);
      breakIt(broken);
      expect({ name, valid: (await validateOpenApi(broken as never)).valid }).toEqual({ name, valid: false });
    }
    const badSchema = structuredClone(doc);
    (badSchema.components.schemas.ImageRecord as { type: string }).type = "thing";
    expect(() => contractChecker(badSchema).compileAll()).toThrow();
  });
});

describe("real answers validate against the document", () => {
  const KEY = "k-openapi-0123456789";
  // Spent only by the rate-limit case, so its budget starts full.
  const RATE_KEY = "k-openapi-rate-000001";
  const SEARCH_PER_MINUTE = 10;
  let server: ServerProcess;
  let url: string;
  let dataDir: string;
  let contract: ReturnType<typeof contractChecker>;
  const seen: Checked[] = [];

  beforeAll(async () => {
    dataDir = tempDataDir();
    server = spawnServer({
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: "memory://",
      DATA_DIR: dataDir,
      API_KEYS: `${KEY},${RATE_KEY}`,
      MAX_JSON_BYTES: "4096",
      RATE_LIMIT_SEARCH_PER_MINUTE: String(SEARCH_PER_MINUTE),
      // Traced (so answers carry trace ids), exported nowhere: port 1 refuses.
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1",
    });
    url = String((await server.waitForLine(/"msg":"listening"/, 90_000)).url);
    const res = await fetch(`${url}/openapi.json`);
    contract = contractChecker((await res.json()) as OpenApiDocument);
  }, 120_000);

  afterAll(async () => {
    if (server) {
      server.proc.kill("SIGTERM");
      await server.exit();
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Sends a request, checks the answer against the document, and returns it. */
  async function call(method: string, path: string, init: { key?: string | null; json?: unknown; body?: RequestInit["body"]; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...init.headers };
    if (init.key !== null) headers.authorization ??= `Bearer ${init.key ?? KEY}`;
    let body = init.body;
    if (init.json !== undefined) {
      headers["content-type"] ??= "application/json";
      body = JSON.stringify(init.json);
    }
    const res = await fetch(`${url}${path}`, { method, headers, body, redirect: "manual" });
    seen.push(await contract.check(method, `${url}${path}`, res));
    return res;
  }

  function upload(fields: Record<string, string>, file?: { bytes: Uint8Array; name: string; type: string }) {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.set(name, value);
    if (file) form.set("file", new File([file.bytes], file.name, { type: file.type }));
    return form;
  }

  let imageId = "";
  let generationId = "";
  const unknownId = "0190f1e2-3c4d-7e8f-9a0b-1c2d3e4f5a6b";

  test("health and readiness", async () => {
    expect((await call("GET", "/health", { key: null })).status).toBe(200);
    expect((await call("GET", "/health/ready", { key: null })).status).toBe(200);
  });

  test("images: upload (201, duplicate 200), list, detail, file, thumbnail, and their errors", async () => {
    const png = await scene(3, "png");
    const created = await call("POST", "/api/images", { body: upload({ caption: "a calm sea at dusk", labels: "sea, dusk", category: "Seascape", role: "tone-ref" }, { bytes: png, name: "sea.png", type: "image/png" }) });
    expect(created.status).toBe(201);
    imageId = ((await created.json()) as { id: string }).id;
    expect((await call("POST", "/api/images", { body: upload({}, { bytes: png, name: "again.png", type: "image/png" }) })).status).toBe(200);
    expect((await call("POST", "/api/images", { body: upload({ caption: "red door" }, { bytes: await scene(4), name: "door.jpg", type: "image/jpeg" }) })).status).toBe(201);

    expect((await call("POST", "/api/images", { key: null, body: upload({}, { bytes: png, name: "a.png", type: "image/png" }) })).status).toBe(401);
    expect((await call("POST", "/api/images", { headers: { authorization: "Basic abc" }, body: upload({}, { bytes: png, name: "a.png", type: "image/png" }) })).status).toBe(400);
    expect((await call("POST", "/api/images", { body: upload({ caption: "x" }) })).status).toBe(400);
    expect((await call("POST", "/api/images", { body: upload({ role: "boss" }, { bytes: png, name: "a.png", type: "image/png" }) })).status).toBe(400);
    expect((await call("POST", "/api/images", { json: { caption: "no file" } })).status).toBe(415);
    expect((await call("POST", "/api/images", { body: upload({}, { bytes: TEXT_BYTES, name: "notes.png", type: "image/png" }) })).status).toBe(415);
    expect((await call("POST", "/api/images", { body: upload({}, { bytes: truncate(await scene(5, "png")), name: "cut.png", type: "image/png" }) })).status).toBe(422);

    const page = await call("GET", "/api/images?limit=1");
    expect(page.status).toBe(200);
    const { nextCursor } = (await page.json()) as { nextCursor: string };
    expect((await call("GET", `/api/images?cursor=${encodeURIComponent(nextCursor)}&role=corpus`)).status).toBe(200);
    expect((await call("GET", "/api/images?limit=1000")).status).toBe(400);
    expect((await call("GET", "/api/images?cursor=not-a-cursor")).status).toBe(400);
    expect((await call("GET", `/api/images/${imageId}`)).status).toBe(200);
    expect((await call("GET", "/api/images/not-a-uuid")).status).toBe(400);
    expect((await call("GET", `/api/images/${unknownId}`)).status).toBe(404);
    const file = await call("GET", `/api/images/${imageId}/file`);
    expect(file.status).toBe(200);
    expect((await call("GET", `/api/images/${imageId}/file`, { headers: { "if-none-match": file.headers.get("etag")! } })).status).toBe(304);
    expect((await call("GET", `/api/images/${imageId}/thumbnail`)).status).toBe(200);
    expect((await call("GET", `/api/images/${unknownId}/file`)).status).toBe(404);
    const categories = await call("GET", "/api/categories");
    expect(categories.status).toBe(200);
    expect(((await categories.json()) as { items: unknown[] }).items).toContainEqual({ category: "seascape", count: 1 });
  });

  test("search: POST and GET (200, with explain), and 400, 401, 404, 413, 415, 429", async () => {
    expect((await call("POST", "/api/search", { json: { query: "calm sea", limit: 5 } })).status).toBe(200);
    const explained = await call("POST", "/api/search", { json: { query: "red door", explain: true, filters: { role: "corpus" } } });
    expect(explained.status).toBe(200);
    expect(((await explained.json()) as { traceId?: string }).traceId).toMatch(/^[0-9a-f]{32}$/);
    expect((await call("POST", "/api/search", { json: { imageId } })).status).toBe(200);
    expect((await call("GET", "/api/search?q=sea&limit=3")).status).toBe(200);
    expect((await call("POST", "/api/search", { json: { imageId: unknownId } })).status).toBe(404);
    expect((await call("POST", "/api/search", { json: { limit: 5 } })).status).toBe(400);
    expect((await call("POST", "/api/search", { body: "{", headers: { "content-type": "application/json" } })).status).toBe(400);
    expect((await call("POST", "/api/search", { body: "query=sea", headers: { "content-type": "text/plain" } })).status).toBe(415);
    expect((await call("POST", "/api/search", { json: { query: "x".repeat(5000) } })).status).toBe(413);
    expect((await call("POST", "/api/search", { key: null, json: { query: "sea" } })).status).toBe(401);
    expect((await call("POST", "/api/search", { key: "not-a-key", json: { query: "sea" } })).status).toBe(401);

    // Refused requests count too: spend the budget of a fresh key with cheap 400s, then one more.
    for (let i = 0; i < SEARCH_PER_MINUTE; i++) expect((await call("GET", "/api/search", { key: RATE_KEY })).status).toBe(400);
    const limited = await call("GET", "/api/search?q=sea", { key: RATE_KEY });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  test("generation: 201, the record, the list, the image, and 400, 401, 404", async () => {
    const created = await call("POST", "/api/generate", { json: { prompt: "a lighthouse on a cliff at dawn", aspectRatio: "16:9", seed: 7 } });
    expect(created.status).toBe(201);
    generationId = ((await created.json()) as { id: string }).id;
    expect((await call("GET", `/api/generations/${generationId}`)).status).toBe(200);
    expect((await call("GET", "/api/generations?limit=5")).status).toBe(200);
    expect((await call("GET", `/api/generations/${generationId}/image`)).status).toBe(200);
    expect((await call("GET", "/api/generations/not-a-uuid")).status).toBe(404);
    expect((await call("GET", `/api/generations/${unknownId}/image`)).status).toBe(404);
    expect((await call("POST", "/api/generate", { json: { prompt: "" } })).status).toBe(400);
    expect((await call("POST", "/api/generate", { json: { prompt: "a fox", aspectRatio: "7:3" } })).status).toBe(400);
    expect((await call("POST", "/api/generate", { key: null, json: { prompt: "a fox" } })).status).toBe(401);
  });

  test("the router's own 404 and 405 are in the error shape", async () => {
    expect((await call("GET", "/api/nothing-here")).status).toBe(404);
    expect((await call("DELETE", "/api/images")).status).toBe(405);
  });

  test("every status the brief names was seen and validated", () => {
    const got = new Set(seen.map((s) => `${s.operationId} ${s.status}`));
    const wanted = [
      "liveness 200",
      "readiness 200",
      "uploadImage 201",
      "uploadImage 200",
      "uploadImage 400",
      "uploadImage 401",
      "uploadImage 415",
      "uploadImage 422",
      "listImages 200",
      "listImages 400",
      "getImage 200",
      "getImage 400",
      "getImage 404",
      "getImageFile 200",
      "getImageFile 304",
      "getImageThumbnail 200",
      "listCategories 200",
      "searchImages 200",
      "searchImages 400",
      "searchImages 401",
      "searchImages 404",
      "searchImages 413",
      "searchImages 415",
      "searchImagesByQueryString 200",
      "searchImagesByQueryString 429",
      "generateImage 201",
      "generateImage 400",
      "generateImage 401",
      "getGeneration 200",
      "getGeneration 404",
      "listGenerations 200",
      "getGenerationImage 200",
      "getGenerationImage 404",
      "null 404",
      "null 405",
    ];
    expect(wanted.filter((w) => !got.has(w))).toEqual([]);
  });
});

describe("model failures validate against the document", () => {
  const IMAGE_MODEL = "gemini-2.5-flash-image";
  let fake: FakeGemini;
  let dir: string;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: RunningServer;
  let contract: ReturnType<typeof contractChecker>;

  beforeAll(async () => {
    fake = await startFakeGemini({ textJson: () => ({ category: "animal", toneRatio: 25, person: false, scene: false }) });
    dir = tempDataDir();
    database = await createTestDatabase(telemetry);
    const env = { PORT: "0", HOST: "127.0.0.1", DATA_DIR: dir, LOG_LEVEL: "silent", GEMINI_API_KEY: "k", GEMINI_BASE_URL: fake.url, GEMINI_TIMEOUT_MS: "1500" };
    server = await startServer(loadConfig(env), { log: silentLogger, telemetry, database });
    contract = contractChecker((await (await fetch(`${server.url}/openapi.json`)).json()) as OpenApiDocument);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await database?.close();
    await fake?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, GeminiScenario, number][] = [
    ["safety", "safety", 422],
    ["upstream 500", { status: 500 }, 502],
    ["no image", "no-image", 502],
    ["model rate limit", { status: 429, retryAfter: "0" }, 503],
    ["too slow", { delayMs: 5_000, then: "image" }, 504],
  ];
  for (const [name, scenario, status] of cases) {
    test(`${name}: ${status} with the failed generation's id, whose record (failed, with its error) validates too`, async () => {
      fake.setScenario(IMAGE_MODEL, scenario);
      const res = await fetch(`${server.url}/api/generate`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: "a fox asleep" }) });
      expect(await contract.check("POST", `${server.url}/api/generate`, res)).toEqual({ operationId: "generateImage", status });
      const { error } = (await res.json()) as { error: { details: { generationId: string } } };
      const recordUrl = `${server.url}/api/generations/${error.details.generationId}`;
      const record = await fetch(recordUrl);
      expect(await contract.check("GET", recordUrl, record)).toEqual({ operationId: "getGeneration", status: 200 });
      expect(((await record.json()) as { status: string }).status).toBe("failed");
    });
  }
});

describe("/docs", () => {
  const app = appWith({ API_KEYS: "k1", PUBLIC_READS: "false" });

  test("is an HTML page whose scripts and styles all come from this service, and each is served", async () => {
    const res = await app.request("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    const page = await res.text();
    const urls = [...page.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    expect(urls.length).toBe(3);
    // No absolute or protocol-relative URL anywhere in the page, and no inline script.
    expect(page).not.toMatch(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
    expect([...page.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]!.trim())).toEqual(["", ""]);
    for (const ref of urls) {
      const asset = new URL(ref, "http://service.invalid/docs");
      expect(asset.origin).toBe("http://service.invalid");
      const served = await app.request(asset.pathname, { headers: { "accept-encoding": "gzip" } });
      expect({ ref, status: served.status }).toEqual({ ref, status: 200 });
      expect(served.headers.get("content-type")).toMatch(ref.endsWith(".css") ? /^text\/css/ : /^text\/javascript/);
      expect(served.headers.get("cache-control")).toContain("immutable");
      expect(served.headers.get("content-encoding")).toBe("gzip");
      const text = new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await served.arrayBuffer())));
      expect(text.length).toBeGreaterThan(100);
      if (ref.endsWith(".css")) expect(text).not.toMatch(/url\(\s*["']?(?:https?:)?\/\//);
    }
    // The start script reads the document from this service.
    const init = await (await app.request(new URL(urls[2]!, "http://service.invalid/docs").pathname)).text();
    expect(init).toContain('url: "openapi.json"');
  });

  test("assets answer 304 to their ETag, raw bytes without gzip, and 404 for an unknown name", async () => {
    const page = await (await app.request("/docs")).text();
    const css = /href="([^"]+\.css)"/.exec(page)![1]!;
    const first = await app.request(`/${css}`, { headers: { "accept-encoding": "identity" } });
    expect(first.headers.get("content-encoding")).toBeNull();
    expect(await first.text()).toContain(".swagger-ui");
    expect((await app.request(`/${css}`, { headers: { "if-none-match": first.headers.get("etag")! } })).status).toBe(304);
    // Brotli when accepted (the 1.7 MB bundle too, at a fast level: compressed once, at first use), the same bytes decoded.
    const bundle = /src="([^"]+swagger-ui-bundle-[^"]+)"/.exec(page)![1]!;
    const raw = new Uint8Array(await (await app.request(`/${bundle}`)).arrayBuffer());
    const br = await app.request(`/${bundle}`, { headers: { "accept-encoding": "gzip, deflate, br" } });
    expect(br.headers.get("content-encoding")).toBe("br");
    const compressed = new Uint8Array(await br.arrayBuffer());
    expect(compressed.length).toBeLessThan(raw.length / 3);
    expect(new Uint8Array(brotliDecompressSync(compressed))).toEqual(raw);
    const missing = await app.request("/docs/assets/nothing.js");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });

  test("the page and the document stay open when every read needs a key", async () => {
    expect((await app.request("/docs")).status).toBe(200);
    expect((await app.request("/openapi.json")).status).toBe(200);
    expect((await app.request("/api/images")).status).toBe(401);
  });
});
