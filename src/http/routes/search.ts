import { Hono, type Context } from "hono";
import { z } from "zod";
import { IMAGE_ROLES } from "../../db/schema.ts";
import { searchImages, type SearchDeps, type SearchOutcome, type SearchRequest } from "../../search/pipeline.ts";
import type { AppEnv } from "../app.ts";
import { parseWith, readJson } from "../validation.ts";
import { imageRecord } from "./images.ts";

/** Longest query accepted, in characters. */
export const MAX_QUERY_LENGTH = 500;

const uuid = z.string({ error: "must be a string" }).regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be a UUID");

const query = z
  .string({ error: "must be a string" })
  .max(MAX_QUERY_LENGTH, `must be at most ${MAX_QUERY_LENGTH} characters`);

const limit = z.number({ error: "must be a number" }).int("must be a whole number").min(1, "must be between 1 and 100").max(100, "must be between 1 and 100");

const SearchBody = z
  .object({
    query: query.optional(),
    imageId: uuid.optional(),
    limit: limit.default(10),
    explain: z.boolean({ error: "must be true or false" }).default(false),
    filters: z
      .object({
        category: z.string({ error: "must be a string" }).trim().min(1, "must not be empty").max(64).optional(),
        role: z.enum(IMAGE_ROLES, { error: `must be one of ${IMAGE_ROLES.join(", ")}` }).optional(),
        color: z.string({ error: "must be a string" }).regex(/^#[0-9a-fA-F]{6}$/, "must be a #rrggbb colour").optional(),
      })
      .strict()
      .optional(),
    fusion: z
      .object({
        k: z.number({ error: "must be a number" }).int().min(1).max(1000).optional(),
        weights: z
          .object({ text: z.number().min(0).max(10).optional(), vector: z.number().min(0).max(10).optional() })
          .strict()
          .refine((w) => w.text !== 0 || w.vector !== 0, "text and vector weights cannot both be 0")
          .optional(),
        overfetch: z.number({ error: "must be a number" }).min(1).max(10).optional(),
      })
      .strict()
      .optional(),
    rerank: z.object({ weight: z.number({ error: "must be a number" }).min(0).max(1).optional() }).strict().optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if ((body.query === undefined || body.query.trim() === "") && body.imageId === undefined) {
      ctx.addIssue({ code: "custom", path: ["query"], message: "must not be empty (or give an imageId)" });
    }
  });

const SearchQueryString = z
  .object({
    q: query.refine((q) => q.trim() !== "", "must not be empty"),
    limit: z.coerce.number({ error: "must be a number" }).pipe(limit).default(10),
  })
  .strict();

function answer(c: Context<AppEnv>, outcome: SearchOutcome, explain: boolean) {
  return c.json({
    results: outcome.results.map((hit) => ({
      id: hit.id,
      rank: hit.rank,
      score: hit.score,
      image: imageRecord(hit.image),
      components: hit.components,
    })),
    degraded: outcome.degraded,
    traceId: c.get("traceId"),
    ...(explain ? { explain: outcome.explain } : {}),
  });
}

/**
 * `POST /api/search` and `GET /api/search?q=&limit=`: hybrid image search.
 *
 * @example
 * app.route("/api", searchRoutes(searchDeps));
 */
export function searchRoutes(deps: SearchDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/search", async function search(c) {
    const body = await readJson(c, SearchBody);
    const request: SearchRequest = {
      query: body.query,
      imageId: body.imageId,
      limit: body.limit,
      filters: body.filters,
      fusion: body.fusion,
      rerank: body.rerank,
    };
    return answer(c, await searchImages(deps, request), body.explain);
  });

  app.get("/search", async function searchByQueryString(c) {
    const params = parseWith(SearchQueryString, c.req.query());
    return answer(c, await searchImages(deps, { query: params.q, limit: params.limit }), false);
  });

  return app;
}
