import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppConfig } from "../config.ts";
import { PayloadTooLargeError } from "./errors.ts";

/** Room for the multipart boundaries and text fields on top of the file size limit. */
export const MULTIPART_OVERHEAD_BYTES = 256 * 1024;

/** Bun's own ceiling on a request body; see {@link maxRequestBodyBytes}. */
export const BUN_BODY_CEILING_BYTES = 1024 * 1024 * 1024;

/**
 * Bun's `maxRequestBodySize`: a ceiling far above every route's own limit, so a body past a
 * route's limit gets that route's JSON 413 (read from `Content-Length` before any byte, or counted
 * as it streams) rather than Bun's bare one. Bun does not buffer a body the handler never reads
 * (measured: a 300 MB body answered 413 grew the server by under 20 MB), so the ceiling costs no
 * memory; it only catches what no route limit could (1 GiB, or the upload allowance if larger).
 *
 * @example
 * Bun.serve({ fetch: app.fetch, maxRequestBodySize: maxRequestBodyBytes(config) });
 */
export function maxRequestBodyBytes(config: AppConfig): number {
  return Math.max(BUN_BODY_CEILING_BYTES, config.ingest.maxUploadBytes + MULTIPART_OVERHEAD_BYTES, config.limits.maxJsonBytes);
}

/**
 * The upload route's body limit: `MAX_UPLOAD_BYTES` plus the multipart overhead, a 413 naming the
 * limit. A declared `Content-Length` past it is refused before any byte is read; a chunked body
 * is counted as it streams and refused the moment it passes.
 *
 * @example
 * app.post("/images", uploadLimit(config), handler);
 */
export function uploadLimit(config: AppConfig): MiddlewareHandler {
  const max = config.ingest.maxUploadBytes;
  return bodyLimit({
    maxSize: max + MULTIPART_OVERHEAD_BYTES,
    onError: () => {
      throw new PayloadTooLargeError(`the upload is larger than ${max} bytes (MAX_UPLOAD_BYTES)`);
    },
  });
}

/**
 * The body limit of every other request: `MAX_JSON_BYTES` (413 past it, before the body is read
 * when its length is declared). Multipart bodies are left to the upload route's own
 * {@link uploadLimit}; any other route refuses them by type (415) without reading them.
 *
 * @example
 * app.use(jsonLimit(config));
 */
export function jsonLimit(config: AppConfig): MiddlewareHandler {
  const max = config.limits.maxJsonBytes;
  const limit = bodyLimit({
    maxSize: max,
    onError: () => {
      throw new PayloadTooLargeError(`the request body is larger than ${max} bytes (MAX_JSON_BYTES)`);
    },
  });
  return async function jsonLimit(c, next) {
    if (/^multipart\/form-data\b/i.test(c.req.header("content-type") ?? "")) return next();
    return limit(c, next);
  };
}
