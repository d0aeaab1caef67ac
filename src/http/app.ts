import { Hono } from "hono";
import type { AppConfig } from "../config.ts";
import type { Database } from "../db/client.ts";
import type { Logger } from "../log.ts";
import { tracing, type Telemetry, type TracingVariables } from "../telemetry/index.ts";
import { ApiError, errorBody, toErrorResponse } from "./errors.ts";
import { requestLog } from "./logging.ts";
import type { IngestDeps } from "../ingest/pipeline.ts";
import { imageRoutes } from "./routes/images.ts";
import type { GenerationDeps } from "../generation/pipeline.ts";
import { generationRoutes } from "./routes/generations.ts";
import type { SearchDeps } from "../search/pipeline.ts";
import { searchRoutes } from "./routes/search.ts";
import { webRoutes } from "../web/index.ts";

/** Everything the HTTP layer needs; pipelines get the parts they use. */
export interface AppDeps {
  config: AppConfig;
  telemetry: Telemetry;
  log: Logger;
  /** True once the database is open and migrated; `/health` answers 503 before. */
  isReady?: () => boolean;
  /** The open database (PGlite or Neon); pipelines take `database.db`. */
  database?: Database;
  /** The ingest pipeline; `POST /api/images` and the `GET /api/images` calls are mounted when set. */
  images?: IngestDeps;
  /** The generation pipeline; `POST /api/generate` and `/api/generations` are mounted when set. */
  generation?: GenerationDeps;
  /** The search pipeline; `POST /api/search` and `GET /api/search` are mounted when set. */
  search?: SearchDeps;
}

export type AppEnv = { Variables: TracingVariables };

function patternToRegExp(pattern: string): RegExp {
  const body = pattern
    .split("/")
    .map((part) => (part.startsWith(":") ? "[^/]+" : part === "*" ? ".*" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${body}/?$`);
}

/** Methods that have a handler for this path (for 405 and `Allow`). */
function allowedMethods(app: Hono<AppEnv>, path: string): string[] {
  const methods = new Set<string>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    if (patternToRegExp(route.path).test(path)) methods.add(route.method);
  }
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].sort();
}

/**
 * Builds the Hono app over its dependencies: tracing, request logs, JSON errors, and the routes.
 *
 * @example
 * const app = createApp({ config, telemetry, log });
 * Bun.serve({ fetch: app.fetch });
 */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(tracing(deps.telemetry));
  app.use(requestLog(deps.log));

  if (deps.config.apiKeys.length > 0) {
    const keys = new Set(deps.config.apiKeys);
    app.use("/api/*", async function apiKeyAuth(c, next) {
      if (c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "OPTIONS") return next();
      const header = c.req.header("authorization") ?? "";
      const match = /^Bearer\s+(.+)$/i.exec(header);
      if (!match || !keys.has(match[1]!.trim())) {
        throw new ApiError(401, "unauthorized", "this call needs Authorization: Bearer <api key>", {
          "WWW-Authenticate": 'Bearer realm="hybrid-image-search"',
        });
      }
      return next();
    });
  }

  app.get("/health", (c) => {
    const ready = deps.isReady ? deps.isReady() : true;
    return ready ? c.json({ status: "ok" }) : c.json({ status: "starting" }, 503);
  });

  if (deps.images) app.route("/api", imageRoutes(deps.images));
  if (deps.generation) app.route("/api", generationRoutes(deps.generation));
  if (deps.search) app.route("/api", searchRoutes(deps.search));
  app.route("/", webRoutes(deps));

  app.notFound((c) => {
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length > 0 && !allowed.includes(c.req.method)) {
      c.header("Allow", allowed.join(", "));
      return c.json(errorBody("method_not_allowed", `${c.req.method} is not allowed on ${c.req.path}`), 405);
    }
    return c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404);
  });

  app.onError((error, c) => {
    const response = toErrorResponse(c, error);
    if (response.status >= 500) {
      deps.log.error("unhandled error", {
        error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
        trace_id: c.get("traceId"),
      });
    }
    return response;
  });

  return app;
}
