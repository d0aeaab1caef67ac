import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "./errors.ts";

/** Formats the first zod issue as `field: message`. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid request";
  const path = issue.path.join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}

/**
 * Reads a JSON body and validates it: no body, a non-JSON content type, malformed JSON and
 * schema failures are 400s with a clear message.
 *
 * @example
 * const body = await readJson(c, SearchRequest);
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header("content-type") ?? "";
  const text = await c.req.text();
  if (text.trim() === "") throw new ApiError(400, "missing_body", "a JSON body is required");
  if (type !== "" && !/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new ApiError(415, "unsupported_media_type", "send the body as application/json");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError(400, "malformed_json", "the body is not valid JSON");
  }
  return parseWith(schema, value);
}

/** Validates a value (query, params, parsed body) or throws a 400 `invalid_request`. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ApiError(400, "invalid_request", describeIssue(result.error));
  return result.data;
}
