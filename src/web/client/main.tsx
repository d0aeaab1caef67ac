/**
 * The browser entry of the web app: reads the page's settings (`data-config` on `<body>`), sets up
 * the session's API key, and starts the page's script.
 */
import type { PageConfig } from "../shared/page-config.ts";
import { createApi } from "./api.ts";
import { createKeySource } from "./auth.ts";
import { fillCategories } from "./categories.ts";
import { startGeneratePage, startGenerationPage } from "./generate.tsx";
import { startImagePage } from "./image.tsx";
import { startSearchPage } from "./search.tsx";
import { startUploadPage } from "./upload.tsx";

async function main() {
  const config = JSON.parse(document.body.dataset.config ?? "{}") as PageConfig;
  const keys = createKeySource(document, sessionStorage);
  document.getElementById("key-button")?.addEventListener("click", () => void keys.ask("start"));
  document.getElementById("key-forget")?.addEventListener("click", () => keys.forget());
  // Asked once, up front, so the first search does not stop half way for it.
  if (config.authRequired && !keys.key()) await keys.ask("start");
  const api = createApi(keys);
  const pages = {
    search: () => startSearchPage(config, api),
    image: () => startImagePage(config, api),
    upload: () => startUploadPage(config, api),
    generate: () => startGeneratePage(config, api),
    generation: () => startGenerationPage(config, api),
  } satisfies Record<PageConfig["page"], () => unknown>;
  await Promise.all([pages[config.page]?.(), fillCategories(api, document)]);
  document.body.dataset.ready = "true";
}

void main();
