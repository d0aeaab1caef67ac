import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * An error with an HTTP status and a stable machine-readable code. Pipelines throw their own
 * errors; the HTTP layer maps them to this shape: `{"error": {"code", "message"}}`.
 *
 * @example
 * throw new ApiError(404, "not_found", "no image with id 42");
 */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The JSON error body every failure uses. */
export function errorBody(code: string, message: string, details?: unknown) {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}

/** Errors from lower layers may carry `status`/`code` (a duck type, so pipelines need not import Hono). */
interface StatusLike {
  status?: unknown;
  code?: unknown;
  expose?: unknown;
  headers?: unknown;
}

/** Maps any thrown value to a JSON response; a 500 never carries the error's own text or stack. */
export function toErrorResponse(c: Context, error: unknown): Response {
  if (error instanceof ApiError) {
    for (const [k, v] of Object.entries(error.headers)) c.header(k, v);
    return c.json(errorBody(error.code, error.message, error.details), error.status);
  }
  if (error instanceof HTTPException) {
    const status = error.status;
    const code = status === 413 ? "payload_too_large" : status === 401 ? "unauthorized" : status < 500 ? "bad_request" : "internal_error";
    const message = status < 500 ? error.message || "bad request" : "internal error";
    return c.json(errorBody(code, message), status as ContentfulStatusCode);
  }
  const e = error as StatusLike & Error;
  if (e && typeof e === "object" && typeof e.status === "number" && e.status >= 400 && e.status < 600 && e.expose === true) {
    if (e.headers && typeof e.headers === "object") {
      for (const [k, v] of Object.entries(e.headers as Record<string, string>)) c.header(k, v);
    }
    const message = e.status < 500 || e.status === 502 || e.status === 503 || e.status === 504 || e.status === 507 ? e.message : "internal error";
    return c.json(errorBody(String(e.code ?? "error"), message), e.status as ContentfulStatusCode);
  }
  return c.json(errorBody("internal_error", "internal error"), 500);
}
