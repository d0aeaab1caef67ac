/**
 * Files served from memory: named by content hash, compressed once (brotli and gzip) when they are
 * loaded, and sent in the encoding the client accepts with an ETag and a 304 for it. The web app's
 * bundle (`src/web/assets.ts`), the API reference's Swagger UI files and `/openapi.json`
 * (`docs/`) all go through here. Compressing per request (`hono/compress`) would cost 45–180 ms
 * each time for Swagger UI's bundle; Hono's `serveStatic` has a `precompressed` option, but it
 * reads files from disk and the web bundle only exists in memory.
 */
import { brotliCompressSync, constants as zlib } from "node:zlib";
import type { Context } from "hono";
import { parseAccept } from "hono/utils/accept";
import { IMMUTABLE_CACHE } from "../ingest/store.ts";
import { NotFoundError, toErrorResponse } from "./errors.ts";

/**
 * Brotli's best quality (11) costs about 4 µs a byte here: 7.5 s for Swagger UI's 1.7 MB bundle,
 * where quality 5 takes 50 ms and still beats gzip by 13 % (measured, Bun 1.4.4). Files up to this
 * size get the best; larger ones quality 5.
 */
const BEST_BROTLI_MAX_BYTES = 64 * 1024;
const FAST_BROTLI_QUALITY = 5;

/** One file, kept raw and in each encoding. */
export interface Asset {
  /** `<base>-<hash>.<ext>`: a new name whenever the bytes change. */
  name: string;
  contentType: string;
  etag: string;
  raw: Uint8Array<ArrayBuffer>;
  gzip: Uint8Array<ArrayBuffer>;
  br: Uint8Array<ArrayBuffer>;
}

/**
 * An asset from its bytes: hashed name and ETag, gzip (level 9) and brotli, computed once.
 *
 * @example
 * const asset = memoryAsset("docs.js", "text/javascript; charset=utf-8", new TextEncoder().encode(code));
 * asset.name // "docs-3f2a9c1b7d4e.js"
 */
export function memoryAsset(base: string, contentType: string, raw: Uint8Array<ArrayBuffer>): Asset {
  const hash = new Bun.CryptoHasher("sha256").update(raw).digest("hex").slice(0, 12);
  const dot = base.lastIndexOf(".");
  const quality = raw.length <= BEST_BROTLI_MAX_BYTES ? zlib.BROTLI_MAX_QUALITY : FAST_BROTLI_QUALITY;
  return {
    name: dot > 0 ? `${base.slice(0, dot)}-${hash}${base.slice(dot)}` : `${base}-${hash}`,
    contentType,
    etag: `"${hash}"`,
    raw,
    gzip: Bun.gzipSync(raw, { level: 9 }),
    br: new Uint8Array(brotliCompressSync(raw, { params: { [zlib.BROTLI_PARAM_QUALITY]: quality, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length } })),
  };
}

/**
 * The encoding to send: brotli, then gzip, whichever the client accepts (`q=0` refuses one, `*`
 * accepts any), else none.
 *
 * @example
 * pickEncoding("gzip, deflate, br") // "br"
 */
export function pickEncoding(acceptEncoding: string | undefined): "br" | "gzip" | undefined {
  const accepted = new Map(parseAccept((acceptEncoding ?? "").toLowerCase()).map((a) => [a.type, a.q]));
  const wants = (coding: string) => (accepted.get(coding) ?? accepted.get("*") ?? 0) > 0;
  if (wants("br")) return "br";
  if (wants("gzip")) return "gzip";
  return undefined;
}

/**
 * The asset in the encoding the client accepts, with `ETag`, `Vary` and a 304 for a matching
 * `If-None-Match`.
 *
 * @example
 * return sendAsset(c, asset, IMMUTABLE_CACHE);
 */
export function sendAsset(c: Context, asset: Asset, cacheControl: string): Response {
  const headers: Record<string, string> = {
    "Content-Type": asset.contentType,
    "Cache-Control": cacheControl,
    ETag: asset.etag,
    Vary: "Accept-Encoding",
    "X-Content-Type-Options": "nosniff",
  };
  if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304, headers);
  const encoding = pickEncoding(c.req.header("accept-encoding"));
  const body = encoding ? asset[encoding] : asset.raw;
  if (encoding) headers["Content-Encoding"] = encoding;
  headers["Content-Length"] = String(body.byteLength);
  return c.body(body, 200, headers);
}

/**
 * `GET …/:name` over a set of hashed assets: immutable caching, a JSON 404 for a name that is not
 * (or no longer) there.
 *
 * @example
 * app.get("/assets/:name", async (c) => serveNamed(c, (await load()).files));
 */
export function serveNamed(c: Context, files: ReadonlyMap<string, Asset>): Response {
  const asset = files.get(c.req.param("name") ?? "");
  // Through the one mapper, so the message (which quotes the path) is clipped like every other.
  if (!asset) return toErrorResponse(c, new NotFoundError(`no asset ${c.req.path}`));
  // Hashed names: the bytes under a name never change, as for stored blobs.
  return sendAsset(c, asset, IMMUTABLE_CACHE);
}

/**
 * `load` run once and shared by every caller; a failure is not kept, so the next call loads again
 * (a page is never left broken by one bad moment).
 *
 * @example
 * const manifest = loadOnce(buildAssets);
 * await manifest(); await manifest(); // built once
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= load().catch((error: unknown) => {
      pending = undefined;
      throw error;
    }));
}
