import type { Server } from "bun";
import { Hono, type Context } from "hono";
import { getGeneration, listGenerations, type GenerationRow } from "../../db/index.ts";
import { generateImage, type GenerationDeps } from "../../generation/pipeline.ts";
import type { AppConfig } from "../../config.ts";
import type { AppEnv } from "../app.ts";
import { serveBlob } from "../blobs.ts";
import { NotFoundError } from "../errors.ts";
import { rateLimit } from "../rate-limit.ts";
import { GenerateBody, GenerationListQuery } from "../schemas/generations.ts";
import type { GenerateAnswer, GenerationPage, GenerationRecord } from "../schemas/responses.ts";
import { imageLink } from "../signed-urls.ts";
import { jsonBody, validate } from "../validation.ts";

/** The Bun server of this request: `Bun.serve` hands it to Hono as `c.env` (absent under `app.request`). */
function bunServer(c: Context): Pick<Server<unknown>, "timeout"> | undefined {
  const env = c.env as Partial<Pick<Server<unknown>, "timeout">> | undefined;
  return typeof env?.timeout === "function" ? (env as Pick<Server<unknown>, "timeout">) : undefined;
}

const imagePath = (id: string) => `/api/generations/${id}/image`;

/**
 * The public shape of a stored generation; `link` writes its image URL (signed when reads need a
 * key: `imageLink(config)`).
 *
 * @example
 * c.json(generationView(row));
 */
export function generationView(row: GenerationRow, link: (path: string) => string = (path) => path): GenerationRecord {
  const succeeded = row.status === "succeeded" && row.outputKey !== null;
  return {
    id: row.id,
    status: row.status,
    prompt: row.prompt,
    builtPrompt: row.builtPrompt,
    parameters: row.parameters,
    provider: row.provider,
    model: row.model,
    imageUrl: succeeded ? link(imagePath(row.id)) : null,
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
 * app.route("/api", generationRoutes(deps.generation, config));
 */
export function generationRoutes(deps: GenerationDeps, config: AppConfig) {
  const limit = rateLimit("generate", config.rateLimits.generatePerMinute, config);
  const link = imageLink(config);
  const viewOf = (row: GenerationRow) => generationView(row, link);
  return new Hono<AppEnv>()
    .post("/generate", limit, jsonBody, validate("json", GenerateBody), async function generate(c) {
      const body = c.req.valid("json");
      // A generation may outlast the idle timeout (a queue wait, then up to GEMINI_TIMEOUT_MS):
      // the timer is off while it runs, bounded by its own deadlines and the client's abort.
      const server = bunServer(c);
      server?.timeout(c.req.raw, 0);
      let row: GenerationRow;
      try {
        row = await generateImage(deps, body, c.req.raw.signal);
      } finally {
        server?.timeout(c.req.raw, config.limits.idleTimeoutSeconds);
      }
      const view = viewOf(row);
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
        } satisfies GenerateAnswer,
        201,
      );
    })
    .get("/generations", validate("query", GenerationListQuery), async function listGenerationPage(c) {
      const page = await listGenerations(deps.db, c.req.valid("query"));
      return c.json({ items: page.items.map(viewOf), nextCursor: page.nextCursor } satisfies GenerationPage);
    })
    .get("/generations/:id", async function getGenerationRecord(c) {
      const row = await getGeneration(deps.db, c.req.param("id"));
      if (!row) throw new NotFoundError(`no generation with id ${c.req.param("id")}`);
      return c.json(viewOf(row));
    })
    .get("/generations/:id/image", async function getGenerationImage(c) {
      const row = await getGeneration(deps.db, c.req.param("id"));
      if (!row) throw new NotFoundError(`no generation with id ${c.req.param("id")}`);
      if (row.status !== "succeeded" || !row.outputKey) {
        throw new NotFoundError(`generation ${row.id} has no image (status ${row.status})`, "no_image");
      }
      return serveBlob(c, deps.storage, row.outputKey, () => new NotFoundError(`the image of generation ${row.id} is missing from storage`, "no_image"));
    });
}
