/**
 * Stored bytes over HTTP, for every route that serves a blob (an image's file and thumbnail, a
 * generation's image): a redirect to a presigned URL when the store has them (S3), else the bytes
 * streamed with their ETag, a 304 for a matching `If-None-Match`, and no MIME sniffing.
 */
import type { Context } from "hono";
import { IMMUTABLE_CACHE } from "../ingest/store.ts";
import type { BlobStore } from "../storage/types.ts";
import { NotFoundError } from "./errors.ts";

/** `If-None-Match` by the weak comparison of RFC 9110: `*`, a list, `W/` prefixes ignored. */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header || !etag) return false;
  if (header.trim() === "*") return true;
  const bare = etag.replace(/^W\//, "");
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === bare);
}

/**
 * The blob under `key`; `missing` is thrown when the store no longer has it.
 *
 * @example
 * return serveBlob(c, deps.storage, image.storageKey);
 */
export async function serveBlob(
  c: Context,
  storage: Pick<BlobStore, "readUrl" | "head" | "getStream">,
  key: string,
  missing: () => Error = () => new NotFoundError("the image file is missing from storage"),
): Promise<Response> {
  const url = await storage.readUrl(key);
  if (url) {
    // The presigned URL expires: no cache may keep the redirect to it.
    c.header("Cache-Control", "no-store");
    return c.redirect(url, 302);
  }
  const head = await storage.head(key);
  if (!head) throw missing();
  const common = {
    ETag: head.etag,
    "Cache-Control": head.cacheControl ?? IMMUTABLE_CACHE,
    "X-Content-Type-Options": "nosniff",
  };
  if (etagMatches(c.req.header("if-none-match"), head.etag)) return new Response(null, { status: 304, headers: common });
  const blob = await storage.getStream(key);
  if (!blob) throw missing();
  return new Response(c.req.method === "HEAD" ? null : blob.body, {
    status: 200,
    headers: { ...common, ETag: blob.etag, "Content-Type": blob.contentType, "Content-Length": String(blob.size) },
  });
}
