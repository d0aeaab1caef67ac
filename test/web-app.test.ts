/**
 * The web app's server side, in process: the pages (filled from the URL and the settings), the
 * built assets (hashed names, immutable caching, brotli/gzip chosen by Accept-Encoding and
 * precompressed once), and the small pieces the pages share: the search state in the URL, the
 * Grafana link, the settings that feed them. The flows themselves run in Chromium
 * (web-browser.test.ts).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { ConfigError, loadConfig } from "../src/config.ts";
import { Hono } from "hono";
import { createApp, type AppEnv } from "../src/http/app.ts";
import { silentLogger } from "../src/log.ts";
import { noopTelemetry } from "../src/telemetry/index.ts";
import { pickEncoding } from "../src/http/assets.ts";
import { buildAssets, createAssetStore, webRoutes, type AssetManifest } from "../src/web/index.ts";
import { normalizeColor, PAGE_SIZE, readSearchState, searchUrl } from "../src/web/shared/search-state.ts";
import { traceLink } from "../src/web/shared/trace-link.ts";
import { formatBytes } from "../src/web/shared/format.ts";

let manifest: AssetManifest;
let builds = 0;
/** One build shared by every app in this file (each app would otherwise build on first use). */
const assets = createAssetStore(() => {
  builds++;
  return buildAssets();
});

const configWith = (env: Record<string, string> = {}) => loadConfig({ DATABASE_URL: "memory://", LOG_LEVEL: "silent", ...env });
const appWith = (env: Record<string, string> = {}) => new Hono<AppEnv>().route("/", webRoutes({ config: configWith(env), assets }));

beforeAll(async () => {
  manifest = await assets.manifest();
}, 60_000);

/** The page's settings for its script (`data-config` on `<body>`). */
function pageConfig(html: string): Record<string, unknown> {
  const raw = /<body data-config="([^"]*)"/.exec(html)![1]!;
  return JSON.parse(raw.replaceAll("&quot;", '"').replaceAll("&amp;", "&")) as Record<string, unknown>;
}

describe("pages", () => {
  test("/ is a page linking the hashed script and stylesheet; its categories come from the API, not the database", async () => {
    const res = await appWith().request("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    const html = await res.text();
    expect(html).toStartWith("<!DOCTYPE html>");
    expect(manifest.script).toMatch(/^\/assets\/main-[0-9a-f]{12}\.js$/);
    expect(manifest.stylesheet).toMatch(/^\/assets\/styles-[0-9a-f]{12}\.css$/);
    expect(html).toContain(`<script type="module" src="${manifest.script}">`);
    expect(html).toContain(`<link rel="stylesheet" href="${manifest.stylesheet}"/>`);
    // The script fills the category filter from GET /api/categories (web-browser.test.ts); the server only renders "any".
    expect(/<select id="category" name="category">(.*?)<\/select>/.exec(html)![1]).toBe('<option value="">Any category</option>');
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    expect(pageConfig(html)).toEqual({ page: "search", authRequired: false, maxUploadBytes: 20 * 1024 * 1024 });
  });

  test("the search form is filled from the URL (query, category, role, colour)", async () => {
    const html = await (await appWith().request("/?q=calm+sea&category=food&role=tone-ref&color=1E90FF")).text();
    expect(html).toContain('<input id="q" name="q" type="search" value="calm sea"');
    expect(html).toContain('<option value="food" selected="">food</option>');
    expect(html).toContain('<option value="tone-ref" selected="">tone-ref</option>');
    expect(html).toContain('<input type="color" id="color" value="#1e90ff"');
    expect(html).toMatch(/<button type="button" id="color-clear" class="secondary">/);
    expect(html).toContain("<title>calm sea · Search · Hybrid Image Search</title>");
  });

  test("text from the URL is escaped, never markup", async () => {
    const html = await (await appWith().request(`/?q=${encodeURIComponent('"><script>alert(1)</script>')}`)).text();
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  test("API_KEYS and the Grafana settings reach the page; the key dialog is there only when keys are needed", async () => {
    const open = await (await appWith().request("/upload")).text();
    expect(open).not.toContain('id="key-dialog"');
    const locked = await (await appWith({ API_KEYS: "a,b", GRAFANA_URL: "https://grafana.example.com/", GRAFANA_TEMPO_UID: "grafanacloud-traces", MAX_UPLOAD_BYTES: "1048576" }).request("/upload")).text();
    expect(locked).toContain('<dialog id="key-dialog"');
    expect(locked).toContain('<label for="key-input">API key</label>');
    expect(locked).toContain("up to 1 MiB each");
    expect(pageConfig(locked)).toEqual({
      page: "upload",
      authRequired: true,
      grafanaUrl: "https://grafana.example.com",
      grafanaTempoUid: "grafanacloud-traces",
      maxUploadBytes: 1048576,
    });
  });

  test("createApp serves every page beside the API, detail pages carry their id, API routes keep their JSON 404", async () => {
    const app = createApp({ config: configWith(), telemetry: noopTelemetry(), log: silentLogger });
    for (const [path, page] of [
      ["/upload", "upload"],
      ["/generate", "generate"],
      ["/images/0190c5c4-0000-7000-8000-000000000001", "image"],
      ["/generations/0190c5c4-0000-7000-8000-000000000002", "generation"],
    ] as const) {
      const res = await app.request(path);
      expect(res.status, path).toBe(200);
      const config = pageConfig(await res.text());
      expect(config.page).toBe(page);
      if (page === "image" || page === "generation") expect(config.id).toBe(path.split("/").pop());
    }
    const generate = await (await app.request("/generate")).text();
    for (const ratio of ["1:1", "16:9", "9:16", "21:9"]) expect(generate).toContain(`<option value="${ratio}"`);
    const missing = await app.request("/api/nothing-here");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "not_found" } });
  });

  test("the assets are built once however many pages and requests use them", async () => {
    await Promise.all([appWith().request("/"), appWith().request("/generate"), appWith().request(manifest.script)]);
    expect(builds).toBe(1);
  });
});

describe("assets", () => {
  const get = (path: string, headers: Record<string, string> = {}) => appWith().request(path, { headers });

  test("served with immutable caching, an ETag, and brotli or gzip as the client accepts (identical bytes once decoded)", async () => {
    const raw = await get(manifest.script);
    expect(raw.status).toBe(200);
    expect(raw.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(raw.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(raw.headers.get("vary")).toBe("Accept-Encoding");
    expect(raw.headers.get("content-encoding")).toBeNull();
    const bytes = new Uint8Array(await raw.arrayBuffer());
    expect(new TextDecoder().decode(bytes).includes("document.body.dataset.config")).toBe(true);

    const br = await get(manifest.script, { "accept-encoding": "gzip, deflate, br" });
    expect(br.headers.get("content-encoding")).toBe("br");
    const brBytes = new Uint8Array(await br.arrayBuffer());
    expect(brBytes.length).toBeLessThan(bytes.length / 2);
    expect(new Uint8Array(brotliDecompressSync(brBytes))).toEqual(bytes);

    const gz = await get(manifest.script, { "accept-encoding": "gzip" });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(new Uint8Array(gunzipSync(new Uint8Array(await gz.arrayBuffer())))).toEqual(bytes);
    expect(Number(gz.headers.get("content-length"))).toBeLessThan(bytes.length);

    const refused = await get(manifest.script, { "accept-encoding": "br;q=0, gzip;q=0" });
    expect(refused.headers.get("content-encoding")).toBeNull();

    const etag = raw.headers.get("etag")!;
    expect(etag).toBe(`"${/-([0-9a-f]{12})\./.exec(manifest.script)![1]}"`);
    const again = await get(manifest.script, { "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");

    const css = await get(manifest.stylesheet, { "accept-encoding": "br" });
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(new TextDecoder().decode(brotliDecompressSync(new Uint8Array(await css.arrayBuffer()))).includes("prefers-color-scheme")).toBe(true);
  });

  test("an unknown or stale asset name is a JSON 404", async () => {
    const res = await get("/assets/main-000000000000.js");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
    // A name of any length gets an answer of bounded size: the path it quotes is clipped.
    const long = await get(`/assets/${"a".repeat(6000)}.js`);
    expect(long.status).toBe(404);
    expect((await long.text()).length).toBeLessThanOrEqual(1024);
  });

  test("the bundle holds browser code only: the client, the shared pieces and hono's client and JSX runtime (types cross, code does not)", () => {
    const inputs = [...manifest.inputs.keys()];
    const outside = inputs.filter((path) => !/(^|\/)src\/web\/(client|shared)\/[^/]+$/.test(path) && !/(^|\/)node_modules\/hono\/dist\/(client|jsx|utils|_virtual)\//.test(path));
    expect(outside).toEqual([]);
    // The typed client is in it (so the calls go through hono/client), zod and drizzle are not.
    expect(inputs.some((path) => path.endsWith("node_modules/hono/dist/client/client.js"))).toBe(true);
    expect(inputs.some((path) => path.endsWith("src/web/client/api.ts"))).toBe(true);
    const js = new TextDecoder().decode(manifest.files.get(manifest.script.slice("/assets/".length))!.raw);
    for (const server of ["ZodError", "$ZodType", "drizzle", "pglite"]) expect({ server, found: js.includes(server) }).toEqual({ server, found: false });
  });

  test("the bundle uses the production JSX runtime of hono/jsx/dom and no source maps", async () => {
    const js = new TextDecoder().decode(manifest.files.get(manifest.script.slice("/assets/".length))!.raw);
    expect(js.includes("jsxDEV")).toBe(false);
    expect(js.includes("sourceMappingURL")).toBe(false);
    expect([...manifest.files.keys()].sort()).toEqual([manifest.script, manifest.stylesheet].map((p) => p.slice("/assets/".length)).sort());
  });

  test("a failed build is not kept: the next request builds again", async () => {
    let calls = 0;
    const flaky = createAssetStore(async () => {
      calls++;
      if (calls === 1) throw new Error("disk hiccup");
      return manifest;
    });
    await expect(flaky.manifest()).rejects.toThrow("disk hiccup");
    await expect(flaky.manifest()).resolves.toBe(manifest);
    expect(calls).toBe(2);
  });

  test("pickEncoding follows the client's preferences and q=0", () => {
    expect(pickEncoding(undefined)).toBeUndefined();
    expect(pickEncoding("")).toBeUndefined();
    expect(pickEncoding("gzip, deflate, br, zstd")).toBe("br");
    expect(pickEncoding("gzip")).toBe("gzip");
    expect(pickEncoding("br;q=0, gzip")).toBe("gzip");
    expect(pickEncoding("BR;Q=0.5")).toBe("br");
    expect(pickEncoding("*")).toBe("br");
    expect(pickEncoding("*;q=0, gzip")).toBe("gzip");
    expect(pickEncoding("identity")).toBeUndefined();
  });
});

describe("shared pieces", () => {
  test("the search state round-trips through the URL; bad values fall back to 'not set'", () => {
    const state = { q: "calm sea", category: "landscape", role: "tone-ref", color: "#1e90ff", like: "", limit: 48 };
    const url = searchUrl(state);
    expect(url).toBe("/?q=calm+sea&category=landscape&role=tone-ref&color=1e90ff&limit=48");
    expect(readSearchState(new URL(url, "http://x").searchParams)).toEqual(state);
    expect(searchUrl({})).toBe("/");
    expect(readSearchState(new URLSearchParams("color=blue&limit=-3"))).toMatchObject({ color: "", limit: PAGE_SIZE });
    expect(readSearchState(new URLSearchParams("limit=5000")).limit).toBe(100);
    expect(normalizeColor("#ABCDEF")).toBe("#abcdef");
    expect(normalizeColor("abcdef")).toBe("#abcdef");
    expect(normalizeColor("#abc")).toBe("");
  });

  test("traceLink opens the trace in Grafana Explore, on the Tempo data source when its uid is set", () => {
    const id = "4bf92f3577b34da6a3ce929d0e0e4736";
    expect(traceLink({}, id)).toBeUndefined();
    expect(traceLink({ grafanaUrl: "https://g.example" }, "not-a-trace")).toBeUndefined();
    const withUid = new URL(traceLink({ grafanaUrl: "https://g.example/grafana", grafanaTempoUid: "tempo" }, id)!);
    expect(withUid.origin + withUid.pathname).toBe("https://g.example/grafana/explore");
    expect(JSON.parse(withUid.searchParams.get("panes")!)).toEqual({
      trace: { datasource: "tempo", queries: [{ refId: "A", datasource: { type: "tempo", uid: "tempo" }, queryType: "traceql", query: id }], range: { from: "now-1h", to: "now" } },
    });
    const withoutUid = JSON.parse(new URL(traceLink({ grafanaUrl: "https://g.example" }, id)!).searchParams.get("panes")!);
    expect(withoutUid.trace.datasource).toBeUndefined();
    expect(withoutUid.trace.queries[0]).toEqual({ refId: "A", queryType: "traceql", query: id });
  });

  test("GRAFANA_URL must be an http(s) URL (trailing slash dropped); GRAFANA_TEMPO_UID a data source uid", () => {
    expect(loadConfig({}).grafanaUrl).toBeUndefined();
    expect(loadConfig({ GRAFANA_URL: "https://grafana.example.com/" }).grafanaUrl).toBe("https://grafana.example.com");
    expect(() => loadConfig({ GRAFANA_URL: "grafana" })).toThrow(ConfigError);
    expect(() => loadConfig({ GRAFANA_URL: "javascript:alert(1)" })).toThrow("GRAFANA_URL");
    expect(loadConfig({ GRAFANA_TEMPO_UID: "grafanacloud-traces" }).grafanaTempoUid).toBe("grafanacloud-traces");
    expect(() => loadConfig({ GRAFANA_TEMPO_UID: "a b" })).toThrow("GRAFANA_TEMPO_UID");
  });

  test("formatBytes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(20 * 1024 * 1024)).toBe("20 MiB");
  });
});
