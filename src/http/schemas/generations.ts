/** Request schemas of the generation routes (`src/http/routes/generations.ts`). */
import { z } from "zod";
import { ASPECT_RATIOS } from "../../ai/image-model.ts";
import { category, clientText, oneOf, pageQuery, wholeNumber } from "./common.ts";

/** Longest prompt accepted, in characters. */
export const MAX_PROMPT_LENGTH = 4_000;

/**
 * `POST /api/generate` body.
 *
 * @example
 * GenerateBody.parse({ prompt: "a lighthouse at dawn", aspectRatio: "16:9" });
 */
export const GenerateBody = z
  .object({
    prompt: clientText({ max: MAX_PROMPT_LENGTH, multiline: true }).refine((p) => p.trim() !== "", "must not be empty"),
    aspectRatio: oneOf(ASPECT_RATIOS).optional(),
    category: category.optional(),
    seed: wholeNumber(0, 2 ** 31 - 1).optional(),
  })
  // As every other body and query: a misspelt field ("aspect_ratio") is refused, not ignored.
  .strict();

/**
 * `GET /api/generations` query: `limit`, `cursor`.
 *
 * @example
 * GenerationListQuery.parse({ limit: "10" });
 */
export const GenerationListQuery = z.object(pageQuery).strict();
