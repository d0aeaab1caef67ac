import type { MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import type { AppConfig } from "../config.ts";
import { toErrorResponse, UnauthorizedError } from "./errors.ts";
import { createUrlSigner, signsImageUrls } from "./signed-urls.ts";

const REALM = "hybrid-image-search";

/** Reads that call a model (query rewrite, embeddings, rerank) and so cost like writes. */
const MODEL_READS = ["/api/search"];

/**
 * Whether a request needs an API key when `API_KEYS` is set — the whole policy in one place:
 * every write, every call that can reach a model (search by GET or POST, generate), and, with
 * `PUBLIC_READS=false`, every read. `/health` and `/health/ready` stay open for probes.
 *
 * @example
 * needsKey("GET", "/api/search", { publicReads: true }) // true
 */
export function needsKey(method: string, path: string, options: { publicReads: boolean }): boolean {
  if (!path.startsWith("/api/")) return false;
  const read = method === "GET" || method === "HEAD" || method === "OPTIONS";
  if (!read) return true;
  if (MODEL_READS.some((p) => path === p || path.startsWith(`${p}/`))) return true;
  return !options.publicReads;
}

/**
 * API-key authentication by `hono/bearer-auth` (keys compared in constant time through their
 * SHA-256; `WWW-Authenticate` on every 401), applied by {@link needsKey}. Without `API_KEYS`
 * every call is open. When reads need a key, a GET of image bytes may instead carry the signature
 * the records hand out (`signed-urls.ts`); its answer is then cacheable only privately and only
 * until the URL expires.
 *
 * @example
 * app.use(apiKeyAuth(config));
 */
export function apiKeyAuth(config: AppConfig, now: () => number = Date.now): MiddlewareHandler {
  if (config.apiKeys.length === 0) {
    return async function apiKeyAuthOff(_c, next) {
      await next();
    };
  }
  const refuse = (message: string, challenge: string, status: 400 | 401 = 401, code = "unauthorized") => ({
    wwwAuthenticateHeader: challenge,
    message: (c: Parameters<MiddlewareHandler>[0]) => toErrorResponse(c, new UnauthorizedError(message, challenge, status, code)),
  });
  const check = bearerAuth({
    token: config.apiKeys,
    realm: REALM,
    noAuthenticationHeader: refuse("this call needs Authorization: Bearer <api key>", `Bearer realm="${REALM}"`),
    invalidAuthenticationHeader: refuse(
      "the Authorization header must be Bearer <api key>",
      `Bearer realm="${REALM}", error="invalid_request"`,
      400,
      "invalid_authorization",
    ),
    invalidToken: refuse("the API key is not valid", `Bearer realm="${REALM}", error="invalid_token"`),
  });
  const options = { publicReads: config.publicReads };
  const signer = signsImageUrls(config) ? createUrlSigner(config.apiKeys, now) : undefined;
  return async function apiKeyAuth(c, next) {
    if (!needsKey(c.req.method, c.req.path, options)) return next();
    const signature = c.req.query("signature");
    if (signer && signature !== undefined && (c.req.method === "GET" || c.req.method === "HEAD") && !c.req.header("authorization")) {
      const expires = signer.verify(c.req.path, c.req.query("expires"), signature);
      if (expires === undefined) {
        const message = "this signed URL has expired or does not sign this path: read the record again for a fresh one";
        return toErrorResponse(c, new UnauthorizedError(message, `Bearer realm="${REALM}", error="invalid_token"`));
      }
      await next();
      // The URL is the credential: no shared cache may keep the bytes, and no cache past the expiry.
      if (c.res.status === 200 || c.res.status === 304) c.res.headers.set("Cache-Control", `private, max-age=${Math.max(0, expires - Math.ceil(now() / 1000))}`);
      return;
    }
    return check(c, next);
  };
}
