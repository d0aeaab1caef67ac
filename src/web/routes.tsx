/**
 * The web app's routes: the pages (`/`, `/images/:id`, `/upload`, `/generate`,
 * `/generations/:id`) and their assets (`/assets/:name`). Pages are server-rendered shells whose
 * script talks to the JSON API like any other client.
 */
import { Hono, type Context } from "hono";
import { html } from "hono/html";
import type { Child } from "hono/jsx";
import type { AppDeps, AppEnv } from "../http/app.ts";
import { contentSecurityPolicy, setPageHeaders } from "../http/page-headers.ts";
import { createAssetStore, type AssetStore } from "./assets.ts";
import { DetailBody, GenerateBody, SearchBody, UploadBody } from "./pages/forms.tsx";
import { Layout } from "./pages/layout.tsx";
import type { PageConfig, PageName } from "./shared/page-config.ts";
import { readSearchState } from "./shared/search-state.ts";

/**
 * What the web app uses of the service's dependencies (its settings only: everything else comes
 * from the API, like for any client); `assets` replaces the built-in build (tests).
 */
export type WebDeps = Pick<AppDeps, "config"> & { assets?: AssetStore };

/** Images from anywhere: blobs on S3 are served by redirect to presigned URLs. */
const CONTENT_SECURITY_POLICY = contentSecurityPolicy({ img: "* data: blob:" });

/**
 * The web app, mounted at `/` by `createApp`.
 *
 * @example
 * app.route("/", webRoutes(deps));
 */
export function webRoutes(deps: WebDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const assets = deps.assets ?? createAssetStore();
  const { config } = deps;

  async function page(c: Context<AppEnv>, name: PageName, title: string, body: Child, id?: string): Promise<Response> {
    const manifest = await assets.manifest();
    const pageConfig: PageConfig = {
      page: name,
      authRequired: config.apiKeys.length > 0,
      grafanaUrl: config.grafanaUrl,
      grafanaTempoUid: config.grafanaTempoUid,
      maxUploadBytes: config.ingest.maxUploadBytes,
      id,
    };
    c.header("Cache-Control", "no-cache");
    setPageHeaders(c, CONTENT_SECURITY_POLICY);
    return c.html(html`<!DOCTYPE html>${(
      <Layout title={title} config={pageConfig} assets={manifest}>
        {body}
      </Layout>
    )}`);
  }

  app.get("/assets/:name", function webAsset(c) {
    return assets.serve(c);
  });

  app.get("/", function searchPage(c) {
    // Without a usable Host header (HTTP/1.0, a malformed one) Bun hands over a bare path as the
    // URL (see `requestPath` in http/app.ts); the base makes it parse either way.
    const state = readSearchState(new URL(c.req.url, "http://localhost").searchParams);
    return page(c, "search", state.q ? `${state.q} · Search` : "Search", <SearchBody state={state} />);
  });

  app.get("/images/:id", function imagePage(c) {
    return page(c, "image", "Image", <DetailBody id="image" />, c.req.param("id"));
  });

  app.get("/upload", function uploadPage(c) {
    return page(c, "upload", "Upload", <UploadBody maxUploadBytes={config.ingest.maxUploadBytes} />);
  });

  app.get("/generate", function generatePage(c) {
    return page(c, "generate", "Generate", <GenerateBody />);
  });

  app.get("/generations/:id", function generationPage(c) {
    return page(c, "generation", "Generation", <DetailBody id="generation" />, c.req.param("id"));
  });

  return app;
}
