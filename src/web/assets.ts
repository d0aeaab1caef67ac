/**
 * The web app's static assets: the client bundle and stylesheet, built by `Bun.build` from
 * `src/web/client/` on first use (a fresh clone needs no build step), named by content hash,
 * compressed once (brotli and gzip) and served from memory with immutable caching.
 */
import { brotliCompressSync, constants as zlib } from "node:zlib";
import type { Context } from "hono";
import { errorBody } from "../http/errors.ts";

/** Where the browser code lives; `main.tsx` imports everything else. */
const CLIENT_DIR = `${import.meta.dir}/client`;
const ENTRYPOINTS = [`${CLIENT_DIR}/main.tsx`, `${CLIENT_DIR}/styles.css`];

const IMMUTABLE = "public, max-age=31536000, immutable";

/** One built file, kept raw and in each encoding. */
export interface Asset {
  name: string;
  contentType: string;
  etag: string;
  raw: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer>;
  br: Uint8Array<ArrayBuffer>;
}

/** The hashed URLs a page links to, and every file by name. */
export interface AssetManifest {
  script: string;
  stylesheet: string;
  files: Map<string, Asset>;
}

/** Builds the assets once and serves them. */
export interface AssetStore {
  /** Builds on the first call; later calls share the same build. */
  manifest(): Promise<AssetManifest>;
  /** `GET /assets/:name` */
  serve(c: Context): Promise<Response>;
}

const hashOf = (bytes: Uint8Array) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex").slice(0, 12);

/**
 * Bundles and minifies the client code and stylesheet, then compresses each file in both encodings.
 *
 * @example
 * const { script, stylesheet } = await buildAssets(); // "/assets/main-3f2a9c1b7d4e.js", "/assets/styles-….css"
 */
export async function buildAssets(): Promise<AssetManifest> {
  const result = await Bun.build({
    entrypoints: ENTRYPOINTS,
    target: "browser",
    format: "esm",
    minify: true,
    sourcemap: "none",
    // JSX settings (hono/jsx/dom) from the client's tsconfig; the production runtime, not the dev one.
    tsconfig: `${CLIENT_DIR}/tsconfig.json`,
    jsx: { development: false },
    define: { "process.env.NODE_ENV": '"production"' },
  });
  if (!result.success) {
    throw new AggregateError(result.logs, `web client build failed: ${result.logs.map((l) => l.message).join("; ")}`);
  }
  const files = new Map<string, Asset>();
  let script = "";
  let stylesheet = "";
  for (const output of result.outputs) {
    const raw = new Uint8Array(await output.arrayBuffer());
    const base = output.path.replace(/^.*\//, "");
    const dot = base.lastIndexOf(".");
    const hash = hashOf(raw);
    const name = `${base.slice(0, dot)}-${hash}${base.slice(dot)}`;
    files.set(name, {
      name,
      contentType: base.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8",
      etag: `"${hash}"`,
      raw,
      gzip: Bun.gzipSync(raw, { level: 9 }),
      br: new Uint8Array(brotliCompressSync(raw, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length } })),
    });
    if (base.endsWith(".css")) stylesheet = `/assets/${name}`;
    else if (output.kind === "entry-point") script = `/assets/${name}`;
  }
  if (!script || !stylesheet) throw new Error(`web client build produced no ${script ? "stylesheet" : "script"}`);
  return { script, stylesheet, files };
}

/**
 * The encoding to send: brotli, then gzip, whichever the client accepts (a `q=0` refuses it).
 *
 * @example
 * pickEncoding("gzip, deflate, br") // "br"
 */
export function pickEncoding(acceptEncoding: string | undefined): "br" | "gzip" | undefined {
  const accepted = new Map<string, number>();
  for (const part of (acceptEncoding ?? "").toLowerCase().split(",")) {
    const [coding, ...params] = part.trim().split(";");
    if (!coding) continue;
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    accepted.set(coding.trim(), q === undefined ? 1 : Number(q));
  }
  const wants = (coding: string) => (accepted.get(coding) ?? accepted.get("*") ?? 0) > 0;
  if (wants("br")) return "br";
  if (wants("gzip")) return "gzip";
  return undefined;
}

/**
 * An asset store that builds on first use. A failed build is retried on the next request rather
 * than cached, so a page never stays broken by one bad moment.
 *
 * @example
 * const assets = createAssetStore();
 * app.get("/assets/:name", (c) => assets.serve(c));
 */
export function createAssetStore(build: () => Promise<AssetManifest> = buildAssets): AssetStore {
  let pending: Promise<AssetManifest> | undefined;
  const manifest = () => {
    pending ??= build().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
  return {
    manifest,
    async serve(c) {
      const asset = (await manifest()).files.get(c.req.param("name") ?? "");
      if (!asset) return c.json(errorBody("not_found", `no asset ${c.req.path}`), 404);
      const headers: Record<string, string> = {
        "Content-Type": asset.contentType,
        "Cache-Control": IMMUTABLE,
        ETag: asset.etag,
        Vary: "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
      };
      if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304, headers);
      const encoding = pickEncoding(c.req.header("accept-encoding"));
      const body = encoding ? asset[encoding] : asset.raw;
      if (encoding) headers["Content-Encoding"] = encoding;
      headers["Content-Length"] = String(body.length);
      return c.body(body, 200, headers);
    },
  };
}
