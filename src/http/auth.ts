import type { MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import type { AppConfig } from "../config.ts";
import { toErrorResponse, UnauthorizedError } from "./errors.ts";

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
 * every call is open.
 *
 * @example
 * app.use(apiKeyAuth(config));
 */
export function apiKeyAuth(config: AppConfig): MiddlewareHandler {
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
  return async function apiKeyAuth(c, next) {
    if (!needsKey(c.req.method, c.req.path, options)) return next();
    return check(c, next);
  };
}
