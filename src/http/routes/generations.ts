import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { ASPECT_RATIOS } from "../../ai/image-model.ts";
import { getGeneration, InvalidCursorError, listGenerations, type GenerationRow } from "../../db/index.ts";
import { generateImage, GenerationFailedError, type GenerationDeps } from "../../generation/pipeline.ts";
import { slugifyCategory } from "../../storage/keys.ts";
import type { AppEnv } from "../app.ts";
import { ApiError } from "../errors.ts";
import { parseWith, readJson } from "../validation.ts";

/**
 * Longest prompt accepted, in characters.
 *
 * @example
 * z.string().max(MAX_PROMPT_LENGTH);
 */
export const MAX_PROMPT_LENGTH = 4_000;

const GenerateBody = z.object({
  prompt: z
    .string({ error: "must be a string" })
    .max(MAX_PROMPT_LENGTH, `must be at most ${MAX_PROMPT_LENGTH} characters`)
    .refine((p) => p.trim() !== "", "must not be empty"),
  aspectRatio: z.enum(ASPECT_RATIOS, { error: `must be one of ${ASPECT_RATIOS.join(", ")}` }).optional(),
  category: z
    .string({ error: "must be a string" })
    .max(64, "must be at most 64 characters")
    .transform((c, ctx) => {
      const slug = slugifyCategory(c);
      if (!slug) ctx.addIssue({ code: "custom", message: "must contain a letter or digit" });
      return slug ?? "";
    })
    .optional(),
  seed: z.number({ error: "must be a number" }).int("must be a whole number").min(0).max(2 ** 31 - 1).optional(),
});

const ListQuery = z.object({
  limit: z.coerce.number({ error: "must be a number" }).int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(512).optional(),
});

/** HTTP status for each way a generation can fail. */
const FAILURE_STATUS: Record<string, ContentfulStatusCode> = {
  safety_blocked: 422,
  upstream_error: 502,
  no_image: 502,
  timeout: 504,
  rate_limited: 503,
  overloaded: 503,
};

const imagePath = (id: string) => `/api/generations/${id}/image`;

/**
 * The public shape of a stored generation.
 *
 * @example
 * c.json(generationView(row));
 */
export function generationView(row: GenerationRow) {
  const succeeded = row.status === "succeeded" && row.outputKey !== null;
  return {
    id: row.id,
    status: row.status,
    prompt: row.prompt,
    builtPrompt: row.builtPrompt,
    parameters: row.parameters,
    provider: row.provider,
    model: row.model,
    imageUrl: succeeded ? imagePath(row.id) : null,
    references: row.references,
    hexColors: row.hexColors,
    error: row.status === "failed" ? { kind: row.errorKind, message: row.errorMessage } : null,
    latencyMs: row.latencyMs,
    usage: { inputTokens: row.inputTokens, outputTokens: row.outputTokens },
    traceId: row.traceId,
    createdAt: row.createdAt.toISOString(),
    completedAt: row.completedAt?.toISOString() ?? null,
  };
}

/**
 * `POST /api/generate`, `GET /api/generations`, `GET /api/generations/:id` and
 * `GET /api/generations/:id/image`, mounted under `/api`.
 *
 * @example
 * app.route("/api", generationRoutes(deps.generation));
 */
export function generationRoutes(deps: GenerationDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.post("/generate", async (c) => {
    const body = await readJson(c, GenerateBody);
    let row: GenerationRow;
    try {
      row = await generateImage(deps, body);
    } catch (error) {
      if (error instanceof GenerationFailedError) {
        const status = FAILURE_STATUS[error.kind] ?? 500;
        const headers: Record<string, string> = status === 503 ? { "Retry-After": String(error.retryAfterSeconds ?? 30) } : {};
        throw new ApiError(status, error.kind, error.message, headers, { generationId: error.generationId, traceId: c.get("traceId") });
      }
      throw error;
    }
    const view = generationView(row);
    c.header("Location", `/api/generations/${row.id}`);
    return c.json(
      {
        id: view.id,
        status: view.status,
        provider: view.provider,
        model: view.model,
        imageUrl: view.imageUrl,
        references: view.references,
        hexColors: view.hexColors,
        seed: row.parameters.seed,
        traceId: c.get("traceId") ?? row.traceId,
      },
      201,
    );
  });

  routes.get("/generations", async (c) => {
    const query = parseWith(ListQuery, c.req.query());
    try {
      const page = await listGenerations(deps.db, { limit: query.limit, cursor: query.cursor });
      return c.json({ items: page.items.map(generationView), nextCursor: page.nextCursor });
    } catch (error) {
      if (error instanceof InvalidCursorError) throw new ApiError(400, "invalid_cursor", error.message);
      throw error;
    }
  });

  routes.get("/generations/:id", async (c) => {
    const row = await getGeneration(deps.db, c.req.param("id"));
    if (!row) throw new ApiError(404, "not_found", `no generation with id ${c.req.param("id")}`);
    return c.json(generationView(row));
  });

  routes.get("/generations/:id/image", async (c) => {
    const row = await getGeneration(deps.db, c.req.param("id"));
    if (!row) throw new ApiError(404, "not_found", `no generation with id ${c.req.param("id")}`);
    if (row.status !== "succeeded" || !row.outputKey) {
      throw new ApiError(404, "no_image", `generation ${row.id} has no image (status ${row.status})`);
    }
    const direct = await deps.storage.readUrl(row.outputKey);
    if (direct) return c.redirect(direct, 302);
    const blob = await deps.storage.getStream(row.outputKey);
    if (!blob) throw new ApiError(404, "no_image", `the image of generation ${row.id} is missing from storage`);
    const headers = {
      "Content-Type": blob.contentType,
      ETag: blob.etag,
      "Cache-Control": blob.cacheControl ?? "public, max-age=31536000, immutable",
    };
    if (c.req.header("if-none-match") === blob.etag) {
      await blob.body.cancel();
      return c.body(null, 304, headers);
    }
    return c.body(blob.body, 200, { ...headers, "Content-Length": String(blob.size) });
  });

  return routes;
}
