/** Request schemas of the search routes (`src/http/routes/search.ts`). */
import { z } from "zod";
import { IMAGE_ROLES } from "../../db/schema.ts";
import { boundedNumber, category, clientText, flag, oneOf, uuid, wholeNumber } from "./common.ts";

/** Longest query accepted, in characters. */
export const MAX_QUERY_LENGTH = 500;

const query = clientText({ max: MAX_QUERY_LENGTH, multiline: true });
const limit = wholeNumber(1, 100);

/**
 * `POST /api/search` body.
 *
 * @example
 * SearchBody.parse({ query: "calm sea at dusk", limit: 5, filters: { color: "#336699" } });
 */
export const SearchBody = z
  .object({
    query: query.optional(),
    imageId: uuid.optional(),
    limit: limit.default(10),
    explain: flag().default(false),
    filters: z
      .object({
        category: category.optional(),
        role: oneOf(IMAGE_ROLES).optional(),
        color: z.string().regex(/^#[0-9a-fA-F]{6}$/, "must be a #rrggbb colour").optional(),
      })
      .strict()
      .optional(),
    fusion: z
      .object({
        k: wholeNumber(1, 1000).optional(),
        weights: z
          .object({ text: boundedNumber(0, 10).optional(), vector: boundedNumber(0, 10).optional() })
          .strict()
          .refine((w) => w.text !== 0 || w.vector !== 0, "text and vector weights cannot both be 0")
          .optional(),
        overfetch: boundedNumber(1, 10).optional(),
      })
      .strict()
      .optional(),
    rerank: z.object({ weight: boundedNumber(0, 1).optional() }).strict().optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if ((body.query === undefined || body.query.trim() === "") && body.imageId === undefined) {
      ctx.addIssue({ code: "custom", path: ["query"], message: "must not be empty (or give an imageId)" });
    }
  });

/**
 * `GET /api/search?q=&limit=` query.
 *
 * @example
 * SearchQuery.parse({ q: "red car", limit: "5" });
 */
export const SearchQuery = z
  .object({
    q: query.refine((q) => q.trim() !== "", "must not be empty"),
    limit: wholeNumber(1, 100, { coerce: true }).default(10),
  })
  .strict();
