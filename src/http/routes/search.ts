import { Hono, type Context } from "hono";
import { searchImages, type SearchDeps, type SearchOutcome } from "../../search/pipeline.ts";
import type { AppConfig } from "../../config.ts";
import type { AppEnv } from "../app.ts";
import { rateLimit } from "../rate-limit.ts";
import type { SearchAnswer } from "../schemas/responses.ts";
import { SearchBody, SearchQuery } from "../schemas/search.ts";
import { imageLink } from "../signed-urls.ts";
import { jsonBody, validate } from "../validation.ts";
import { imageRecord } from "./images.ts";

function answer(c: Context<AppEnv>, outcome: SearchOutcome, explain: boolean, link: (path: string) => string) {
  return c.json({
    results: outcome.results.map((hit) => ({
      id: hit.id,
      rank: hit.rank,
      score: hit.score,
      image: imageRecord(hit.image, link),
      components: hit.components,
    })),
    degraded: outcome.degraded,
    traceId: c.get("traceId"),
    ...(explain ? { explain: outcome.explain } : {}),
  } satisfies SearchAnswer);
}

/**
 * `POST /api/search` and `GET /api/search?q=&limit=`: hybrid image search, both under one
 * per-client limit (`RATE_LIMIT_SEARCH_PER_MINUTE`).
 *
 * @example
 * app.route("/api", searchRoutes(searchDeps, config));
 */
export function searchRoutes(deps: SearchDeps, config: AppConfig) {
  const limit = rateLimit("search", config.rateLimits.searchPerMinute, config);
  const link = imageLink(config);
  return new Hono<AppEnv>()
    .post("/search", limit, jsonBody, validate("json", SearchBody), async function search(c) {
      const { explain, ...request } = c.req.valid("json");
      return answer(c, await searchImages(deps, request), explain, link);
    })
    .get("/search", limit, validate("query", SearchQuery), async function searchByQueryString(c) {
      const { q, limit } = c.req.valid("query");
      return answer(c, await searchImages(deps, { query: q, limit }), false, link);
    });
}
