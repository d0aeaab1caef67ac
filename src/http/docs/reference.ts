/**
 * The API reference page at `/docs`: Swagger UI from `swagger-ui-dist` (its bundle and stylesheet
 * ship in the package, 12 MB with no runtime dependency; Scalar's standalone bundle comes only
 * inside `@scalar/api-reference`, which installs 275 packages and 286 MB) served by this service
 * under content-hashed names, so the page works with no network and loads nothing from a CDN.
 */
import { dirname, join } from "node:path";
import type { Context } from "hono";
import { html } from "hono/html";
import { loadOnce, memoryAsset, serveNamed, type Asset } from "../assets.ts";
import { contentSecurityPolicy, setPageHeaders } from "../page-headers.ts";

const DIST = dirname(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir));

/** Swagger UI sets inline styles and draws icons as data: SVG. */
const CONTENT_SECURITY_POLICY = contentSecurityPolicy({ img: "'self' data:", font: "'self' data:" });

// Started by the page's last script, after the bundle. Relative URLs keep the page working behind a
// path prefix. `validatorUrl: null`: no badge fetched from validator.swagger.io.
const INIT_SCRIPT = `window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  tryItOutEnabled: false,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
`;

/** The page and its assets, read and compressed on the first request. */
export interface ApiReference {
  /** `GET /docs` */
  page(c: Context): Promise<Response>;
  /** `GET /docs/assets/:name` */
  asset(c: Context): Promise<Response>;
}

/** The page's three files, and every asset by its hashed name. */
interface Assets {
  css: Asset;
  bundle: Asset;
  init: Asset;
  byName: Map<string, Asset>;
}

async function loadAssets(): Promise<Assets> {
  const file = async (name: string) => new Uint8Array(await Bun.file(join(DIST, name)).arrayBuffer());
  const css = memoryAsset("swagger-ui.css", "text/css; charset=utf-8", await file("swagger-ui.css"));
  const bundle = memoryAsset("swagger-ui-bundle.js", "text/javascript; charset=utf-8", await file("swagger-ui-bundle.js"));
  const init = memoryAsset("docs.js", "text/javascript; charset=utf-8", new TextEncoder().encode(INIT_SCRIPT));
  return { css, bundle, init, byName: new Map([css, bundle, init].map((a) => [a.name, a])) };
}

/**
 * Swagger UI over `/openapi.json`, its files served from this service (`/docs/assets/…`).
 *
 * @example
 * const reference = createApiReference();
 * app.get("/docs", (c) => reference.page(c));
 * app.get("/docs/assets/:name", (c) => reference.asset(c));
 */
export function createApiReference(): ApiReference {
  const assets = loadOnce(loadAssets);
  return {
    async page(c) {
      const { css, bundle, init } = await assets();
      const url = (asset: Asset) => `docs/assets/${asset.name}`;
      setPageHeaders(c, CONTENT_SECURITY_POLICY);
      return c.html(html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Hybrid Image Search · API reference</title>
    <link rel="stylesheet" href="${url(css)}" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${url(bundle)}"></script>
    <script src="${url(init)}"></script>
  </body>
</html>`);
    },
    async asset(c) {
      return serveNamed(c, (await assets()).byName);
    },
  };
}
