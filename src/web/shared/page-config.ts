/**
 * What a server-rendered page tells its script (the `data-config` attribute of `<body>`): shared by
 * the pages (`src/web/pages/`) and the browser bundle (`src/web/client/`), so it imports nothing.
 */

/** The pages of the web app. */
export type PageName = "search" | "image" | "upload" | "generate" | "generation";

/**
 * Settings a page's script needs.
 *
 * @example
 * const config: PageConfig = JSON.parse(document.body.dataset.config!);
 */
export interface PageConfig {
  page: PageName;
  /** `API_KEYS` is set: searches, uploads and generation need a bearer key. */
  authRequired: boolean;
  /** `GRAFANA_URL`, without a trailing slash. */
  grafanaUrl?: string;
  /** `GRAFANA_TEMPO_UID`. */
  grafanaTempoUid?: string;
  /** `MAX_UPLOAD_BYTES`, checked before a file is sent. */
  maxUploadBytes: number;
  /** The record a detail page shows (`/images/:id`, `/generations/:id`). */
  id?: string;
}
