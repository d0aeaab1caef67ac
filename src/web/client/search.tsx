/**
 * The search page: the server renders the form from the URL; this runs the search the URL holds,
 * renders the results, and keeps the URL in step with the form, the filters and the palette chips
 * (so every search is a link, and back/forward work).
 */
import { render, useSyncExternalStore } from "hono/jsx/dom";
import type { PageConfig } from "../shared/page-config.ts";
import { MAX_RESULTS, PAGE_SIZE, readSearchState, searchUrl, type SearchState } from "../shared/search-state.ts";
import type { Api, ImageRecord, ImageRole, SearchAnswer, SearchInput, SearchResult } from "./api.ts";
import { createStore, ErrorNotice, Palette, TraceId, type Store } from "./components.tsx";
import { explain, type Explained } from "./errors.ts";

type View =
  | { status: "idle" }
  | { status: "loading"; state: SearchState }
  | { status: "searched"; state: SearchState; answer: SearchAnswer; like?: ImageRecord }
  | { status: "browsed"; state: SearchState; items: ImageRecord[]; nextCursor: string | null; loadingMore?: boolean }
  | { status: "failed"; state: SearchState; error: Explained };

/** The category and role filters as the API takes them ("" is "not set"; a role the URL made up is the API's to refuse). */
const filtersOf = (state: SearchState) => ({ category: state.category || undefined, role: (state.role || undefined) as ImageRole | undefined });

/** Figures to 3 significant digits (scores span 0.0001 to 1). */
const fmt = (n: number) => (Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3));

function WhyRanked({ result }: { result: SearchResult }) {
  const { text, vector, rerank } = result.components;
  return (
    <dl class="why-list">
      <dt>Final score</dt>
      <dd>{fmt(result.score)}</dd>
      <dt>Full text</dt>
      <dd>{text ? `rank ${text.rank} · score ${fmt(text.score)}` : "not matched by words"}</dd>
      <dt>Vector</dt>
      <dd>{vector ? `rank ${vector.rank} · similarity ${fmt(vector.score)}` : "not among the nearest vectors"}</dd>
      <dt>Rerank</dt>
      <dd>
        {rerank ? (
          <>
            {fmt(rerank.score)} ({rerank.source})
            <br />
            <span class="muted">
              {Object.entries(rerank.features)
                .filter(([, v]) => v !== undefined)
                .map(([name, v]) => `${name} ${fmt(v as number)}`)
                .join(" · ")}
            </span>
          </>
        ) : (
          "not reranked"
        )}
      </dd>
    </dl>
  );
}

function Card(props: { image: ImageRecord; state: SearchState; result?: SearchResult; onColor: (hex: string) => void }) {
  const { image, state, result } = props;
  const title = image.caption ?? image.originalName ?? "Untitled image";
  return (
    <li class="card">
      <a class="thumb" href={`/images/${image.id}`}>
        <img src={image.thumbnailUrl} alt={title} loading="lazy" />
      </a>
      <div class="card-body">
        <p class="caption">
          {result ? <span class="rank">#{result.rank}</span> : null} {title}
        </p>
        <p class="tags">
          {image.category ? (
            <a class="tag" href={searchUrl({ ...state, category: image.category, limit: PAGE_SIZE })} title={`Only ${image.category}`}>
              {image.category}
            </a>
          ) : null}
          <span class="tag role">{image.role}</span>
        </p>
        <Palette colors={image.hexColors} onPick={props.onColor} label={`Palette of ${title}`} compact />
        <p class="actions">
          <a href={searchUrl({ like: image.id, category: state.category, role: state.role })}>More like this</a>
        </p>
        {result ? (
          <details class="why">
            <summary>Why it ranked #{result.rank}</summary>
            <WhyRanked result={result} />
          </details>
        ) : null}
      </div>
    </li>
  );
}

function describe(state: SearchState, like?: ImageRecord): string {
  const parts = [];
  if (state.q) parts.push(`“${state.q}”`);
  if (state.like) parts.push(`images like “${like?.caption ?? "this image"}”`);
  if (state.category) parts.push(`in ${state.category}`);
  if (state.role) parts.push(`role ${state.role}`);
  if (state.color) parts.push(`near ${state.color}`);
  return parts.join(", ");
}

function Results(props: { store: Store<View>; config: PageConfig; onColor: (hex: string) => void; onMore: () => void }) {
  const view = useSyncExternalStore(props.store.subscribe, props.store.get);
  if (view.status === "idle") return null;
  if (view.status === "loading") {
    return (
      <p class="status" role="status" aria-busy="true">
        <span class="spinner" aria-hidden="true" /> Searching…
      </p>
    );
  }
  if (view.status === "failed") return <ErrorNotice error={view.error} config={props.config} />;
  const { state } = view;
  if (view.status === "browsed") {
    return (
      <section aria-labelledby="results-title">
        <h2 id="results-title" class="results-title">
          Latest images{state.category || state.role ? ` (${[state.category, state.role].filter(Boolean).join(", ")})` : ""}
        </h2>
        {state.color ? <p class="muted">The colour filter applies to searches: type what you are looking for.</p> : null}
        {view.items.length === 0 ? (
          <p class="notice">No images yet. Upload some, or run <code>bun run seed</code> for the demo corpus.</p>
        ) : (
          <ul class="grid">
            {view.items.map((image) => (
              <Card key={image.id} image={image} state={state} onColor={props.onColor} />
            ))}
          </ul>
        )}
        {view.nextCursor ? (
          <button type="button" class="more" onClick={props.onMore} disabled={view.loadingMore}>
            {view.loadingMore ? "Loading…" : "More images"}
          </button>
        ) : null}
      </section>
    );
  }
  const { results } = view.answer;
  return (
    <section aria-labelledby="results-title">
      <h2 id="results-title" class="results-title">
        {results.length === 0 ? "No results" : `${results.length} result${results.length === 1 ? "" : "s"}`} for {describe(state, view.like)}
      </h2>
      <p class="meta">
        <TraceId config={props.config} id={view.answer.traceId} />
      </p>
      {view.like ? (
        <p class="like">
          <img src={view.like.thumbnailUrl} alt={view.like.caption ?? "the image searched from"} width="48" height="48" /> Similar to{" "}
          <a href={`/images/${view.like.id}`}>{view.like.caption ?? "this image"}</a> ·{" "}
          <a href={searchUrl({ ...state, like: "" })}>stop matching this image</a>
        </p>
      ) : null}
      {results.length === 0 ? <p class="notice">Try fewer words, another category, or no colour filter.</p> : null}
      <ul class="grid">
        {results.map((r) => (
          <Card key={r.id} image={r.image} result={r} state={state} onColor={props.onColor} />
        ))}
      </ul>
      {results.length === state.limit && state.limit < MAX_RESULTS ? (
        <button type="button" class="more" onClick={props.onMore}>
          Show more results
        </button>
      ) : null}
    </section>
  );
}

/**
 * Runs the search page.
 *
 * @example
 * startSearchPage(config, api);
 */
export function startSearchPage(config: PageConfig, api: Api): void {
  const form = document.getElementById("search-form") as HTMLFormElement;
  const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;
  const picker = document.getElementById("color") as HTMLInputElement;
  const colorValue = document.getElementById("color-value")!;
  const clearColor = document.getElementById("color-clear") as HTMLButtonElement;
  const store = createStore<View>({ status: "idle" });
  let current = readSearchState(new URLSearchParams(location.search));
  let run = 0;

  function showForm(state: SearchState) {
    field("q").value = state.q;
    field("category").value = state.category;
    field("role").value = state.role;
    picker.value = state.color || "#808080";
    colorValue.textContent = state.color || "any";
    clearColor.hidden = !state.color;
  }

  async function load(state: SearchState) {
    const mine = ++run;
    current = state;
    showForm(state);
    document.title = state.q ? `${state.q} · Search · Hybrid Image Search` : "Search · Hybrid Image Search";
    store.set({ status: "loading", state });
    try {
      if (state.q || state.like) {
        const input: SearchInput = {
          query: state.q || undefined,
          imageId: state.like || undefined,
          limit: state.limit,
          filters: { ...filtersOf(state), color: state.color || undefined },
        };
        const [answer, like] = await Promise.all([api.search(input), state.like ? api.getImage(state.like).catch(() => undefined) : undefined]);
        if (mine === run) store.set({ status: "searched", state, answer, like });
      } else {
        const page = await api.listImages({ limit: state.limit, ...filtersOf(state) });
        if (mine === run) store.set({ status: "browsed", state, items: page.items, nextCursor: page.nextCursor });
      }
    } catch (error) {
      if (mine === run) store.set({ status: "failed", state, error: explain(error) });
    }
  }

  function go(state: SearchState) {
    const url = searchUrl(state);
    if (url !== location.pathname + location.search) history.pushState(null, "", url);
    void load(state);
  }

  async function more() {
    const view = store.get();
    if (view.status === "browsed" && view.nextCursor) {
      // Like `load`: a search started while this page loads wins, whichever answers last.
      const mine = run;
      store.set({ ...view, loadingMore: true });
      try {
        const page = await api.listImages({ limit: PAGE_SIZE, cursor: view.nextCursor, ...filtersOf(view.state) });
        if (mine === run) store.set({ ...view, items: [...view.items, ...page.items], nextCursor: page.nextCursor, loadingMore: false });
      } catch (error) {
        if (mine === run) store.set({ status: "failed", state: view.state, error: explain(error) });
      }
    } else if (view.status === "searched") {
      go({ ...view.state, limit: Math.min(MAX_RESULTS, view.state.limit + PAGE_SIZE) });
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go({ ...current, q: field("q").value.trim(), category: field("category").value, role: field("role").value, limit: PAGE_SIZE });
  });
  for (const name of ["category", "role"]) field(name).addEventListener("change", () => form.requestSubmit());
  picker.addEventListener("change", () => go({ ...current, color: picker.value.toLowerCase(), limit: PAGE_SIZE }));
  clearColor.addEventListener("click", () => {
    go({ ...current, color: "", limit: PAGE_SIZE });
    picker.focus();
  });
  window.addEventListener("popstate", () => void load(readSearchState(new URLSearchParams(location.search))));

  render(
    <Results store={store} config={config} onColor={(hex) => go({ ...current, color: hex, limit: PAGE_SIZE })} onMore={() => void more()} />,
    document.getElementById("results")!,
  );
  void load(current);
}
