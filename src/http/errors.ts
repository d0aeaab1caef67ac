import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ClientFacingError } from "../errors.ts";

/**
 * Longest message an error body carries, in characters. Messages may quote client input (a field
 * name, an id, a path); clipping them here keeps every error body near 1 KB whatever was sent.
 */
export const MAX_ERROR_MESSAGE_CHARS = 300;

/**
 * `text` cut to `max` characters, marked with `…` when cut.
 *
 * @example
 * clip("a".repeat(1000), 10) // "aaaaaaaaa…"
 */
export function clip(text: string, max = MAX_ERROR_MESSAGE_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * The JSON error body every failure uses.
 *
 * @example
 * errorBody("not_found", "no image with id 42") // { error: { code: "not_found", message: "no image with id 42" } }
 */
export function errorBody(code: string, message: string, details?: Record<string, unknown>) {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}

/**
 * A request the schema refused (400 `invalid_request`).
 *
 * @example
 * throw new InvalidRequestError("limit: must be between 1 and 100");
 */
export class InvalidRequestError extends ClientFacingError {
  constructor(message: string, code = "invalid_request") {
    super(400, code, message);
  }
}

/**
 * Nothing by that id (404).
 *
 * @example
 * throw new NotFoundError(`no image with id ${id}`);
 */
export class NotFoundError extends ClientFacingError {
  constructor(message: string, code = "not_found") {
    super(404, code, message);
  }
}

/**
 * A body of a type this route does not take (415).
 *
 * @example
 * throw new UnsupportedMediaTypeError("send the body as application/json");
 */
export class UnsupportedMediaTypeError extends ClientFacingError {
  constructor(message: string) {
    super(415, "unsupported_media_type", message);
  }
}

/**
 * A body past its limit (413), refused before it is read when its length is declared.
 *
 * @example
 * throw new PayloadTooLargeError("the JSON body is larger than 65536 bytes (MAX_JSON_BYTES)");
 */
export class PayloadTooLargeError extends ClientFacingError {
  constructor(message: string) {
    super(413, "payload_too_large", message);
  }
}

/**
 * A client past its rate limit (429, `Retry-After` in seconds).
 *
 * @example
 * throw new RateLimitedError("search", 600, 42);
 */
export class RateLimitedError extends ClientFacingError {
  constructor(scope: string, perMinute: number, retryAfterSeconds: number) {
    super(429, "rate_limited", `${scope} limit of ${perMinute} requests a minute reached; retry in ${retryAfterSeconds}s`, {
      headers: { "Retry-After": String(retryAfterSeconds) },
    });
  }
}

/**
 * A request without a valid API key (401, with the `WWW-Authenticate` challenge of RFC 6750).
 *
 * @example
 * throw new UnauthorizedError("this call needs Authorization: Bearer <api key>", 'Bearer realm="api"');
 */
export class UnauthorizedError extends ClientFacingError {
  constructor(message: string, challenge: string, status: 400 | 401 = 401, code = "unauthorized") {
    super(status, code, message, { headers: { "WWW-Authenticate": challenge } });
  }
}

const HTTP_EXCEPTION_CODES: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  404: "not_found",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "rate_limited",
};

/**
 * Maps anything thrown to the JSON error response: a `ClientFacingError` with its status, code,
 * (clipped) message, details and headers; a Hono `HTTPException` that carries its own response
 * (built by this mapper, e.g. bearer auth's 401) as is; anything else is a 500 that never shows
 * its text or stack. Headers already set on the context (rate-limit headers) are kept.
 *
 * @example
 * app.onError((error, c) => toErrorResponse(c, error));
 */
export function toErrorResponse(c: Context, error: unknown): Response {
  if (error instanceof ClientFacingError) {
    for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
    const message = error.status === 500 ? "internal error" : clip(error.message);
    return c.json(errorBody(error.code, message, error.details), error.status as ContentfulStatusCode);
  }
  if (error instanceof HTTPException) {
    if (error.res) return error.getResponse();
    const status = error.status;
    if (status >= 500) return c.json(errorBody("internal_error", "internal error"), 500);
    return c.json(errorBody(HTTP_EXCEPTION_CODES[status] ?? "bad_request", clip(error.message || "bad request")), status);
  }
  return c.json(errorBody("internal_error", "internal error"), 500);
}
