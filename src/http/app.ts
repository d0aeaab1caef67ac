import { Hono } from "hono";
import type { MergeSchemaPath } from "hono/types";
import { getPath } from "hono/utils/url";
import type { AppConfig } from "../config.ts";
import type { Database } from "../db/client.ts";
import type { Logger } from "../log.ts";
import { tracing, type Telemetry, type TracingVariables } from "../telemetry/index.ts";
import { apiKeyAuth } from "./auth.ts";
import { clip, errorBody, toErrorResponse } from "./errors.ts";
import { jsonLimit } from "./limits.ts";
import { requestLog } from "./logging.ts";
import type { IngestDeps } from "../ingest/pipeline.ts";
import { imageRoutes } from "./routes/images.ts";
import type { GenerationDeps } from "../generation/pipeline.ts";
import { generationRoutes } from "./routes/generations.ts";
import { healthRoutes } from "./routes/health.ts";
import type { SearchDeps } from "../search/pipeline.ts";
import { searchRoutes } from "./routes/search.ts";

/** Everything the HTTP layer needs; pipelines get the parts they use. */
export interface AppDeps {
  config: AppConfig;
  telemetry: Telemetry;
  log: Logger;
  /** False while the service is starting; `/health/ready` answers 503 until then. */
  isReady?: () => boolean;
  /** True once the service is stopping; `/health/ready` answers 503 at once. */
  isDraining?: () => boolean;
  /** The open database (PGlite or Neon); pipelines take `database.db`; readiness pings it. */
  database?: Database;
  /** The ingest pipeline; `POST /api/images` and the `GET /api/images` calls are mounted when set. */
  images?: IngestDeps;
  /** The generation pipeline; `POST /api/generate` and `/api/generations` are mounted when set. */
  generation?: GenerationDeps;
  /** The search pipeline; `POST /api/search` and `GET /api/search` are mounted when set. */
  search?: SearchDeps;
}

export type AppEnv = { Variables: TracingVariables };

type SchemaOf<R> = R extends Hono<AppEnv, infer S, "/"> ? S : never;

/**
 * The service's routes as `hono/client` sees them (every route group mounted).
 *
 * @example
 * const api = hc<AppType>("http://localhost:3000");
 * const res = await api.api.search.$post({ json: { query: "red car" } });
 */
export type AppType = Hono<
  AppEnv,
  | SchemaOf<ReturnType<typeof healthRoutes>>
  | MergeSchemaPath<SchemaOf<ReturnType<typeof imageRoutes>>, "/api">
  | MergeSchemaPath<SchemaOf<ReturnType<typeof generationRoutes>>, "/api">
  | MergeSchemaPath<SchemaOf<ReturnType<typeof searchRoutes>>, "/api">,
  "/"
>;

/**
 * The request path whatever the `Host` header says: Bun hands over a bare path as the URL when
 * the header is absent (HTTP/1.0) or malformed, which Hono's own parser would cut wrongly
 * (`/health` read as `h`).
 */
function requestPath(request: Request): string {
  return getPath(request.url.startsWith("/") ? ({ url: `http://localhost${request.url}` } as Request) : request);
}

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
 * Builds the Hono app over its dependencies: tracing, request logs, the auth policy, the JSON
 * body limit, the routes (each with its validation and rate limit), and one error mapper.
 *
 * @example
 * const app = createApp({ config, telemetry, log });
 * Bun.serve({ fetch: app.fetch });
 */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>({ getPath: requestPath });
  app.use(tracing(deps.telemetry));
  app.use(requestLog(deps.log));
  app.use(apiKeyAuth(deps.config));
  app.use(jsonLimit(deps.config));

  app.route("/", healthRoutes(deps));
  if (deps.images) app.route("/api", imageRoutes(deps.images, deps.config));
  if (deps.generation) app.route("/api", generationRoutes(deps.generation, deps.config));
  if (deps.search) app.route("/api", searchRoutes(deps.search, deps.config));

  app.notFound((c) => {
    const allowed = allowedMethods(app, c.req.path);
    const path = clip(c.req.path, 200);
    if (allowed.length > 0 && !allowed.includes(c.req.method)) {
      c.header("Allow", allowed.join(", "));
      return c.json(errorBody("method_not_allowed", `${c.req.method} is not allowed on ${path}`), 405);
    }
    return c.json(errorBody("not_found", `no route for ${c.req.method} ${path}`), 404);
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
