/**
 * The search page's state as it lives in the URL (`/?q=calm+sea&category=animal&color=1e90ff`):
 * read by the server to fill the form and by the browser to run the search, so a search is a
 * link that can be shared and reloaded.
 */

/** Results a search shows first; "Show more" adds as many again, up to the API's limit. */
export const PAGE_SIZE = 24;
/** The most results `POST /api/search` answers. */
export const MAX_RESULTS = 100;

/**
 * One search, as the URL holds it. Empty strings are "not set".
 *
 * @example
 * const state: SearchState = { q: "calm sea", category: "", role: "", color: "#1e90ff", like: "", limit: 24 };
 */
export interface SearchState {
  q: string;
  category: string;
  role: string;
  /** `#rrggbb`, lower case, or "". */
  color: string;
  /** "More like this": the image whose vector is the query. */
  like: string;
  limit: number;
}

/**
 * A `#rrggbb` colour from `rrggbb` or `#rrggbb` (any case), or "" when it is not one.
 *
 * @example
 * normalizeColor("1E90FF") // "#1e90ff"
 */
export function normalizeColor(value: string | null | undefined): string {
  const match = /^#?([0-9a-f]{6})$/i.exec((value ?? "").trim());
  return match ? `#${match[1]!.toLowerCase()}` : "";
}

/**
 * The search state in a query string (missing or malformed values become "not set").
 *
 * @example
 * readSearchState(new URLSearchParams("q=calm+sea&color=1e90ff")) // { q: "calm sea", color: "#1e90ff", limit: 24, … }
 */
export function readSearchState(params: URLSearchParams): SearchState {
  const text = (name: string) => (params.get(name) ?? "").trim();
  const limit = Number.parseInt(text("limit"), 10);
  return {
    q: text("q"),
    category: text("category"),
    role: text("role"),
    color: normalizeColor(params.get("color")),
    like: text("like"),
    limit: Number.isFinite(limit) && limit > 0 ? Math.min(MAX_RESULTS, limit) : PAGE_SIZE,
  };
}

/**
 * The URL of a search (`/` alone for the empty one); the colour goes without its `#`.
 *
 * @example
 * searchUrl({ q: "calm sea", category: "", role: "", color: "#1e90ff", like: "", limit: 24 }) // "/?q=calm+sea&color=1e90ff"
 */
export function searchUrl(state: Partial<SearchState>): string {
  const params = new URLSearchParams();
  if (state.q) params.set("q", state.q);
  if (state.like) params.set("like", state.like);
  if (state.category) params.set("category", state.category);
  if (state.role) params.set("role", state.role);
  if (state.color) params.set("color", state.color.replace(/^#/, ""));
  if (state.limit && state.limit !== PAGE_SIZE) params.set("limit", String(state.limit));
  const query = params.toString();
  return query ? `/?${query}` : "/";
}
