import { zValidator } from "@hono/zod-validator";
import type { MiddlewareHandler, ValidationTargets } from "hono";
import type { z } from "zod";
import { clip, InvalidRequestError, UnsupportedMediaTypeError } from "./errors.ts";

/** Unknown keys named in one message; a body of a million unknown keys names these and counts the rest. */
const MAX_KEYS_NAMED = 5;
const MAX_KEY_CHARS = 40;

/**
 * The first zod issue as `field: what is wrong`, clipped: messages never carry more than a few
 * hundred characters of client input (unknown keys are named up to five, each clipped).
 *
 * @example
 * describeIssue(error) // "limit: must be between 1 and 100, got 1000"
 */
export function describeIssue(error: z.core.$ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid request";
  const path = issue.path.map((p) => clip(String(p), MAX_KEY_CHARS)).join(".");
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    const named = issue.keys.slice(0, MAX_KEYS_NAMED).map((k) => JSON.stringify(clip(k, MAX_KEY_CHARS)));
    const more = issue.keys.length - named.length;
    message = `unknown field${issue.keys.length > 1 ? "s" : ""} ${named.join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
  }
  return clip(path ? `${path}: ${message}` : message);
}

/**
 * Validates a value (query, params, multipart fields) or throws a 400 `invalid_request`.
 *
 * @example
 * const fields = parseWith(UploadFields, { caption: form.get("caption") ?? undefined });
 */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidRequestError(describeIssue(result.error));
  return result.data;
}

/**
 * `@hono/zod-validator` with this service's error shape: a failed check throws a 400 naming the
 * field and what is wrong (`invalid_id` for path parameters). The validated value has the
 * schema's types, which `hono/client` reads.
 *
 * @example
 * routes.get("/images", validate("query", ImageListQuery), (c) => c.json(c.req.valid("query")));
 */
export function validate<T extends keyof ValidationTargets, S extends z.ZodType>(target: T, schema: S) {
  return zValidator(target, schema, (result) => {
    if (!result.success) throw new InvalidRequestError(describeIssue(result.error), target === "param" ? "invalid_id" : "invalid_request");
  });
}

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Reads a JSON body before `validate("json", …)` runs, so the client learns what is wrong with
 * the body itself: another media type is a 415 (the validator would silently validate `{}`), no
 * body a 400 `missing_body`, unparsable text a 400 `malformed_json`. The parsed value goes to
 * Hono's body cache, which the validator reads, so the body is parsed once. The body limit has
 * run before (`jsonLimit`).
 *
 * @example
 * routes.post("/search", jsonBody, validate("json", SearchBody), handler);
 */
export const jsonBody: MiddlewareHandler = async function jsonBody(c, next) {
  const mediaType = (c.req.header("content-type") ?? "").split(";")[0]!.trim();
  if (!JSON_MEDIA_TYPE.test(mediaType)) throw new UnsupportedMediaTypeError("send the body as application/json");
  const text = await c.req.text();
  if (text.trim() === "") throw new InvalidRequestError("a JSON body is required", "missing_body");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidRequestError("the body is not valid JSON", "malformed_json");
  }
  c.req.bodyCache.json = Promise.resolve(value);
  await next();
};
