import type { Context, MiddlewareHandler } from "hono";
import { getConnInfo } from "hono/bun";
import { rateLimiter } from "hono-rate-limiter";
import type { AppConfig } from "../config.ts";
import { RateLimitedError } from "./errors.ts";

const WINDOW_MS = 60_000;

/**
 * Who a request is counted against: its API key when `API_KEYS` is set (auth has verified it by
 * then; an unverified key would let a client dodge its limit by inventing keys), else the client
 * address from the socket (Bun's `requestIP`). `X-Forwarded-For` is read only with
 * `TRUSTED_PROXIES=n`, and then only the entry the nearest of those `n` proxies appended.
 *
 * @example
 * clientKey(c, { keyed: true, trustedProxies: 0 }) // "key:3f1c…" or "ip:203.0.113.9"
 */
export function clientKey(c: Context, options: { keyed: boolean; trustedProxies: number }): string {
  if (options.keyed) {
    const token = /^Bearer\s+(\S+)/i.exec(c.req.header("authorization") ?? "")?.[1];
    // A digest rather than the key itself, so the limiter's memory holds no secret.
    if (token) return `key:${new Bun.CryptoHasher("sha256").update(token).digest("hex").slice(0, 32)}`;
  }
  if (options.trustedProxies > 0) {
    const hops = (c.req.header("x-forwarded-for") ?? "").split(",").map((h) => h.trim()).filter((h) => h !== "");
    const forwarded = hops[hops.length - options.trustedProxies];
    if (forwarded) return `ip:${forwarded}`;
  }
  try {
    return `ip:${getConnInfo(c).remote.address ?? "unknown"}`;
  } catch {
    // No Bun server behind this request (an in-process `app.request` in tests): one shared bucket.
    return "ip:unknown";
  }
}

/**
 * A per-minute limit per client ({@link clientKey}); `0` turns it off. Past it a 429 JSON error
 * with `Retry-After`; every counted response carries the IETF draft `RateLimit-Policy`,
 * `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers. The counts live in this
 * process (`hono-rate-limiter`'s memory store): fine for one instance; several instances would
 * share a store such as `RedisStore` so a client cannot multiply its limit by their number.
 *
 * @example
 * app.post("/search", rateLimit("search", config.rateLimits.searchPerMinute, config), handler);
 */
export function rateLimit(scope: string, perMinute: number, config: AppConfig): MiddlewareHandler {
  if (perMinute === 0) {
    return async function rateLimitOff(_c, next) {
      await next();
    };
  }
  const options = { keyed: config.apiKeys.length > 0, trustedProxies: config.trustedProxies };
  return rateLimiter({
    windowMs: WINDOW_MS,
    limit: perMinute,
    standardHeaders: "draft-6",
    keyGenerator: (c) => `${scope}:${clientKey(c, options)}`,
    handler: (c) => {
      const reset = c.get("rateLimit")?.resetTime;
      const seconds = reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : WINDOW_MS / 1000;
      throw new RateLimitedError(scope, perMinute, seconds);
    },
  });
}
