/**
 * The frame of every page: head with the hashed assets, the navigation, the API-key controls and
 * dialog (when `API_KEYS` is set), and the page's settings for its script.
 */
import type { Child } from "hono/jsx";
import type { PageConfig } from "../shared/page-config.ts";
import type { AssetManifest } from "../assets.ts";

const NAV = [
  { href: "/", label: "Search", pages: ["search", "image"] },
  { href: "/upload", label: "Upload", pages: ["upload"] },
  { href: "/generate", label: "Generate", pages: ["generate", "generation"] },
] as const;

// An inline icon, so the browser does not ask for /favicon.ico.
const ICON =
  "data:image/svg+xml," +
  encodeURIComponent(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1f5fbf"/><circle cx="14" cy="14" r="7" fill="none" stroke="#fff" stroke-width="3"/><path d="M19 19l7 7" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>`,
  );

function KeyDialog() {
  return (
    <dialog id="key-dialog" aria-labelledby="key-title">
      <form method="dialog">
        <h2 id="key-title">API key</h2>
        <p id="key-reason">This service needs an API key for searches, uploads and generation.</p>
        <div class="field">
          <label for="key-input">API key</label>
          <input id="key-input" type="password" autocomplete="off" required />
        </div>
        <p class="hint">Kept in this browser tab only (session storage) and sent as an Authorization: Bearer header.</p>
        <menu>
          <button type="submit" value="cancel" class="secondary" formnovalidate>
            Cancel
          </button>
          <button type="submit" value="save">
            Use this key
          </button>
        </menu>
      </form>
    </dialog>
  );
}

/**
 * A whole page around `children`.
 *
 * @example
 * c.html(<Layout title="Upload" config={pageConfig} assets={manifest}>…</Layout>)
 */
export function Layout(props: { title: string; config: PageConfig; assets: AssetManifest; children?: Child }) {
  const { config } = props;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Hybrid Image Search`}</title>
        <link rel="icon" href={ICON} />
        <link rel="stylesheet" href={props.assets.stylesheet} />
        <script type="module" src={props.assets.script} />
      </head>
      <body data-config={JSON.stringify(config)}>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="site">
          <a class="brand" href="/">
            Hybrid Image Search
          </a>
          <nav aria-label="Main">
            <ul>
              {NAV.map((item) => (
                <li>
                  <a href={item.href} aria-current={(item.pages as readonly string[]).includes(config.page) ? "page" : undefined}>
                    {item.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          {config.authRequired ? (
            <div class="key">
              <span id="key-status" role="status" />
              <button type="button" id="key-button" class="secondary">
                API key…
              </button>
              <button type="button" id="key-forget" class="secondary">
                Forget key
              </button>
            </div>
          ) : null}
        </header>
        <main id="main">{props.children}</main>
        {config.authRequired ? <KeyDialog /> : null}
        <noscript>
          <p class="notice">This page needs JavaScript to show images; the JSON API works without it (see the README).</p>
        </noscript>
      </body>
    </html>
  );
}

/**
 * The categories in use, offered by category fields (`list="categories"`); the script fills it
 * from `GET /api/categories`.
 *
 * @example
 * <CategoryList />
 */
export function CategoryList() {
  return <datalist id="categories" />;
}
