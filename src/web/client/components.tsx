/**
 * Pieces every page shows: palettes, trace ids (linked to Grafana when it is configured),
 * readable errors, byte sizes.
 */
import type { PageConfig } from "../shared/page-config.ts";
import { traceLink } from "../shared/trace-link.ts";
import { render, type Child } from "hono/jsx/dom";
import { explain, type Explained } from "./errors.ts";

/**
 * A palette as colour chips, most dominant first. With `onPick` each chip is a button that
 * filters by its colour.
 *
 * @example
 * <Palette colors={image.hexColors} onPick={(hex) => search({ color: hex })} />
 */
export function Palette(props: { colors: readonly string[]; onPick?: (hex: string) => void; label?: string; compact?: boolean }) {
  if (props.colors.length === 0) return <span class="muted">No palette</span>;
  const hexText = (hex: string) => (props.compact ? null : <span class="hex">{hex}</span>);
  return (
    <ul class={props.compact ? "palette compact" : "palette"} aria-label={props.label ?? "Palette"}>
      {props.colors.map((hex) => (
        <li key={hex}>
          {props.onPick ? (
            <button type="button" class="chip" title={`Filter by ${hex}`} aria-label={`Filter by colour ${hex}`} onClick={() => props.onPick!(hex)}>
              <span class="swatch" style={{ background: hex }} />
              {hexText(hex)}
            </button>
          ) : (
            <span class="chip" title={hex}>
              <span class="swatch" style={{ background: hex }} />
              {hexText(hex)}
            </span>
          )}
        </li>
      ))}
    </ul>
  );
}

/**
 * A trace id, linked to Grafana Explore when `GRAFANA_URL` is set.
 *
 * @example
 * <TraceId config={config} id={answer.traceId} />
 */
export function TraceId(props: { config: PageConfig; id: string | null | undefined; bare?: boolean }) {
  if (!props.id) return null;
  const href = traceLink(props.config, props.id);
  return (
    <span class="trace">
      {props.bare ? null : "trace "}
      {href ? (
        <a href={href} target="_blank" rel="noopener" title="Open this trace in Grafana">
          <code>{props.id}</code>
        </a>
      ) : (
        <code>{props.id}</code>
      )}
    </span>
  );
}

/**
 * A failure for people: title, advice, the error kind and the service's message, the trace id,
 * and the stored record of a failed generation.
 *
 * @example
 * <ErrorNotice error={explain(error)} config={config} />
 */
export function ErrorNotice(props: { error: Explained; config: PageConfig }) {
  const e = props.error;
  return (
    <div class="notice error" role="alert">
      <p class="title">{e.title}</p>
      <p>{e.advice}</p>
      {e.message ? (
        <p class="notice-detail">
          <span class="kind">{e.kind}</span> {e.message}
        </p>
      ) : (
        <p class="notice-detail">
          <span class="kind">{e.kind}</span>
        </p>
      )}
      <p class="meta">
        <TraceId config={props.config} id={e.traceId} />
        {e.generationId ? (
          <>
            {" · "}
            <a href={`/generations/${e.generationId}`}>the failed generation's record</a>
          </>
        ) : null}
      </p>
    </div>
  );
}

/**
 * Fills a detail page's `#<rootId>` from its record, or with the failure in words.
 *
 * @example
 * await showRecord("image", config, () => api.getImage(id), (image) => ({ title: image.caption ?? "Image", view: <ImageDetail image={image} /> }));
 */
export async function showRecord<T>(rootId: string, config: PageConfig, load: () => Promise<T>, present: (record: T) => { title: string; view: Child }): Promise<void> {
  const root = document.getElementById(rootId)!;
  try {
    const { title, view } = present(await load());
    document.title = `${title} · Hybrid Image Search`;
    render(view, root);
  } catch (error) {
    render(<ErrorNotice error={explain(error)} config={config} />, root);
  }
}

/**
 * A small observable value for a page's state, read by components with `useSyncExternalStore`.
 *
 * @example
 * const store = createStore({ busy: false });
 * store.set({ busy: true });
 */
export function createStore<T>(initial: T) {
  let value = initial;
  const listeners = new Set<() => void>();
  return {
    get: () => value,
    set(next: T | ((current: T) => T)) {
      value = typeof next === "function" ? (next as (current: T) => T)(value) : next;
      for (const listener of listeners) listener();
    },
    subscribe(listener: () => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** A store made by {@link createStore}. */
export type Store<T> = ReturnType<typeof createStore<T>>;
