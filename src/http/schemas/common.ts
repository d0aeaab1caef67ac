/**
 * Pieces every route group's request schemas share: the one rule for client text, page limits,
 * cursors and ids. Messages say what is wrong (type, range, the offending character), and only
 * the type message is attached to the schema itself: a zod schema-level message would also
 * replace every range message ("limit=1000: must be a number").
 */
import { z } from "zod";
import { isUuid } from "../../db/ids.ts";
import { slugifyCategory } from "../../storage/keys.ts";

/** Only a type mismatch gets `message`; range and format checks keep their own. */
const onType = (message: string) => ({
  error: (issue: { code?: string; input?: unknown }) =>
    issue.code === "invalid_type" ? (issue.input === undefined ? "is required" : message) : undefined,
});

/** `must be between min and max, got n` (the number is the client's, small by construction). */
const between = (min: number, max: number) => ({
  error: (issue: { input?: unknown }) => `must be between ${min} and ${max}, got ${String(issue.input).slice(0, 20)}`,
});

// C0 and C1 control characters and DEL. Tab, line feed and carriage return are allowed only in
// free text (captions, prompts, queries); a label or a category is one line.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_EXCEPT_WHITESPACE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/**
 * Where `text` breaks the text rule: `"U+0000 at character 4"`, or undefined when it is clean.
 * The one implementation of the rule; the zod schemas below and any other boundary use it.
 *
 * @example
 * controlCharacter("a\u0000b", { multiline: false }) // "U+0000 at character 2"
 */
export function controlCharacter(text: string, options: { multiline: boolean }): string | undefined {
  const match = (options.multiline ? CONTROL_EXCEPT_WHITESPACE : CONTROL).exec(text);
  if (!match) return undefined;
  const code = match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
  return `U+${code} at character ${match.index + 1}`;
}

/**
 * Client text: a string of at most `max` characters without control characters (tab and line
 * breaks allowed when `multiline`). A NUL would otherwise reach Postgres, which refuses the byte
 * with a 500.
 *
 * @example
 * const caption = clientText({ max: 2000, multiline: true });
 */
export function clientText(options: { max: number; multiline?: boolean }) {
  const multiline = options.multiline ?? false;
  return z
    .string(onType("must be a string"))
    .superRefine((text, ctx) => {
      const where = controlCharacter(text, { multiline });
      if (where) ctx.addIssue({ code: "custom", message: `must not contain control characters (${where})`, abort: true });
    })
    .pipe(z.string().max(options.max, `must be at most ${options.max} characters`))
    // The limit sits behind the pipe, which a JSON Schema of the input does not show; say it here.
    .meta({ maxLength: options.max });
}

/**
 * A whole number in `[min, max]`; `coerce` reads it from a query string. Two signatures, so that a
 * JSON number stays a `number` for typed clients (`hono/client`) instead of the `unknown` input of
 * the coerced variant.
 *
 * @example
 * const limit = wholeNumber(1, 100, { coerce: true }).default(20);
 */
export function wholeNumber(min: number, max: number, options?: { coerce?: false }): z.ZodNumber;
export function wholeNumber(min: number, max: number, options: { coerce: true }): z.ZodCoercedNumber;
export function wholeNumber(min: number, max: number, options: { coerce?: boolean } = {}) {
  const number = options.coerce ? z.coerce.number(onType("must be a number")) : z.number(onType("must be a number"));
  return number.int("must be a whole number").min(min, between(min, max)).max(max, between(min, max));
}

/**
 * A number (fractions allowed) in `[min, max]`.
 *
 * @example
 * const weight = boundedNumber(0, 1);
 */
export function boundedNumber(min: number, max: number) {
  return z.number(onType("must be a number")).min(min, between(min, max)).max(max, between(min, max));
}

/**
 * A boolean field (`true`/`false` in JSON).
 *
 * @example
 * const explain = flag().default(false);
 */
export const flag = () => z.boolean(onType("must be true or false"));

/**
 * One of a fixed set of values; the message lists them.
 *
 * @example
 * const role = oneOf(IMAGE_ROLES);
 */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: () => `must be one of ${values.join(", ")}` });
}

/**
 * A UUID (any version).
 *
 * @example
 * z.object({ imageId: uuid.optional() });
 */
export const uuid = z.string(onType("must be a string")).refine(isUuid, "must be a UUID").meta({ format: "uuid" });

/**
 * An opaque page cursor as issued in `nextCursor` (its contents are checked where it is decoded).
 *
 * @example
 * z.object({ cursor: cursor.optional() });
 */
export const cursor = z.string(onType("must be a string")).min(1, "must not be empty").max(512, "must be at most 512 characters");

/**
 * `GET` list pages: `limit` (1–100, default 20) and `cursor`.
 *
 * @example
 * const ListQuery = z.object({ ...pageQuery, role: oneOf(IMAGE_ROLES).optional() }).strict();
 */
export const pageQuery = {
  limit: wholeNumber(1, 100, { coerce: true }).default(20),
  cursor: cursor.optional(),
};

/**
 * `:id` path parameters (a malformed id is a 400 `invalid_id`).
 *
 * @example
 * routes.get("/images/:id", validate("param", IdParam), (c) => c.json(c.req.valid("param")));
 */
export const IdParam = z.object({ id: uuid });

/** Longest category accepted, in characters (before it becomes a slug). */
export const MAX_CATEGORY_LENGTH = 100;

/**
 * A category as clients write it ("Natural Light"), stored and filtered as its slug
 * ("natural-light"); blank means none.
 *
 * @example
 * z.object({ category: category.optional() }).parse({ category: "Natural Light" }) // { category: "natural-light" }
 */
export const category = clientText({ max: MAX_CATEGORY_LENGTH }).transform((text, ctx) => {
  if (text.trim() === "") return undefined;
  const slug = slugifyCategory(text);
  if (!slug) ctx.addIssue({ code: "custom", message: "must contain a letter or digit" });
  return slug;
});
