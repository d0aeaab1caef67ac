/**
 * `GET /openapi.json` (the OpenAPI 3.1 document of the routes registered on the app) and
 * `GET /docs` (an API reference page over it, served offline). Both stay open whatever
 * `API_KEYS` says: they describe the API, they do not call it.
 */
import { Hono } from "hono";
import type { AppConfig } from "../../config.ts";
import type { AppEnv } from "../app.ts";
import { buildDocument, type RegisteredRoute } from "./document.ts";
import { memoryAsset, sendAsset, type Asset } from "../assets.ts";
import { createApiReference } from "./reference.ts";

export { buildDocument, type DocumentOptions, type RegisteredRoute } from "./document.ts";

/**
 * The document and reference routes. `app` is read on the first request, so routes mounted after
 * these are in the document too.
 *
 * @example
 * app.route("/", apiDocsRoutes(app, config));
 */
export function apiDocsRoutes(app: { routes: readonly RegisteredRoute[] }, config: AppConfig) {
  const reference = createApiReference();
  let document: Asset | undefined;
  return new Hono<AppEnv>()
    .get("/openapi.json", function openApiDocument(c) {
      document ??= memoryAsset(
        "openapi.json",
        "application/json; charset=utf-8",
        new TextEncoder().encode(JSON.stringify(buildDocument(app.routes, { version: config.version, apiKeys: config.apiKeys.length > 0, publicReads: config.publicReads }))),
      );
      return sendAsset(c, document, "no-cache");
    })
    .get("/docs", function apiReference(c) {
      return reference.page(c);
    })
    .get("/docs/assets/:name", function apiReferenceAsset(c) {
      return reference.asset(c);
    });
}
