/**
 * The generate page and a generation's own page (`/generations/:id`): the prompt form, the time
 * passing while the model works (`POST /api/generate` answers when it is done), then the image,
 * the references that were injected, the palette, or the failure's kind in words; and the history
 * of generations, newest first, a page at a time.
 */
import { render, useEffect, useState, useSyncExternalStore } from "hono/jsx/dom";
import type { PageConfig } from "../shared/page-config.ts";
import { ApiFailure, type Api, type GenerateAnswer, type GenerateInput, type GenerationRecord, type ImageRecord } from "./api.ts";
import { createStore, ErrorNotice, Palette, showRecord, TraceId, type Store } from "./components.tsx";
import { explain, type Explained } from "./errors.ts";

/** Generations per history page. */
const HISTORY_PAGE = 6;

type Run =
  | { status: "idle" }
  | { status: "running"; prompt: string; startedAt: number }
  | { status: "done"; prompt: string; seconds: number; answer: GenerateAnswer; references: Reference[] }
  | { status: "failed"; prompt: string; seconds: number; error: Explained };

interface Reference {
  id: string;
  role: string;
  image?: ImageRecord;
}

interface History {
  items: GenerationRecord[];
  /** Cursors of the pages before this one (the first page's is undefined). */
  previous: (string | undefined)[];
  cursor?: string;
  nextCursor: string | null;
  loading: boolean;
  error?: Explained;
}

/** The references' own records, for captions (alt text) and links; a missing one keeps its id. */
function withRecords(api: Api, references: readonly { id: string; role: string }[]): Promise<Reference[]> {
  return Promise.all(references.map(async (r) => ({ ...r, image: await api.getImage(r.id).catch(() => undefined) })));
}

function References(props: { api: Api; references: Reference[] }) {
  if (props.references.length === 0) return <span class="muted">No reference images were injected.</span>;
  return (
    <ul class="refs" aria-label="Reference images injected into the prompt">
      {props.references.map((r) => {
        const caption = r.image?.caption ?? "reference image";
        return (
          <li key={r.id}>
            <a href={`/images/${r.id}`} title={caption}>
              <img src={r.image?.thumbnailUrl ?? props.api.thumbnailUrl(r.id)} alt={`${caption} (${r.role})`} width="96" height="96" loading="lazy" />
              <span class="ref-role">{r.role}</span>
            </a>
          </li>
        );
      })}
    </ul>
  );
}

function Elapsed({ startedAt }: { startedAt: number }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 100);
    return () => clearInterval(timer);
  }, []);
  return <span class="elapsed">{((now - startedAt) / 1000).toFixed(1)} s</span>;
}

function RunView(props: { store: Store<Run>; api: Api; config: PageConfig }) {
  const run = useSyncExternalStore(props.store.subscribe, props.store.get);
  if (run.status === "idle") return null;
  if (run.status === "running") {
    return (
      <div class="status working" role="status" aria-busy="true">
        <span class="spinner" aria-hidden="true" /> The model is working on “{run.prompt}”… <Elapsed startedAt={run.startedAt} />
        <p class="muted">Generation answers when the image is ready; with Gemini this takes a few seconds to a minute.</p>
      </div>
    );
  }
  if (run.status === "failed") {
    return (
      <section aria-labelledby="run-title">
        <h2 id="run-title" tabindex={-1}>Failed after {run.seconds.toFixed(1)} s</h2>
        <ErrorNotice error={run.error} config={props.config} />
      </section>
    );
  }
  const { answer } = run;
  return (
    <section class="generated" aria-labelledby="run-title">
      <h2 id="run-title" tabindex={-1}>Generated in {run.seconds.toFixed(1)} s</h2>
      {answer.imageUrl ? (
        <figure>
          <img src={answer.imageUrl} alt={`Generated image: ${run.prompt}`} />
          <figcaption>{run.prompt}</figcaption>
        </figure>
      ) : null}
      <p class="meta">
        {answer.provider} · {answer.model}
        {answer.seed !== undefined ? ` · seed ${answer.seed}` : ""} · <TraceId config={props.config} id={answer.traceId} /> ·{" "}
        <a href={`/generations/${answer.id}`}>record</a>
      </p>
      <h3>Palette</h3>
      <Palette colors={answer.hexColors} />
      <h3>References</h3>
      <References api={props.api} references={run.references} />
    </section>
  );
}

/**
 * The stored parameters as text; nested records (the classification, the injection) in brackets,
 * whatever fields the pipeline adds.
 */
function describeParameters(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value !== "object") return String(value);
  if (Array.isArray(value)) return value.map(describeParameters).join(", ");
  return Object.entries(value)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => (typeof v === "object" ? `${k} (${describeParameters(v)})` : `${k} ${describeParameters(v)}`))
    .join(" · ");
}

/** A stored failure in words (the kind decides; the status is not stored). */
function storedFailure(record: GenerationRecord): Explained {
  return explain(new ApiFailure(500, record.error?.kind ?? "internal", record.error?.message ?? "", undefined, record.traceId ?? undefined));
}

function HistoryItem(props: { item: GenerationRecord; config: PageConfig }) {
  const { item } = props;
  return (
    <li class={`history-item ${item.status}`}>
      <a href={`/generations/${item.id}`} class="thumb" aria-label={`Generation: ${item.prompt}`}>
        {item.imageUrl ? (
          <img src={item.imageUrl} alt={`Generated image: ${item.prompt}`} loading="lazy" />
        ) : (
          <span class="placeholder">{item.status === "failed" ? (item.error?.kind ?? "failed") : item.status}</span>
        )}
      </a>
      <div class="card-body">
        <p class="caption">{item.prompt}</p>
        <p class="tags">
          <span class={`tag status-${item.status}`}>{item.status}</span>
          {item.error?.kind ? <span class="tag">{item.error.kind}</span> : null}
          <time datetime={item.createdAt}>{new Date(item.createdAt).toLocaleString()}</time>
        </p>
        <p class="meta">
          <TraceId config={props.config} id={item.traceId} />
        </p>
      </div>
    </li>
  );
}

function HistoryView(props: { store: Store<History>; config: PageConfig; older: () => void; newer: () => void }) {
  const history = useSyncExternalStore(props.store.subscribe, props.store.get);
  const page = history.previous.length + 1;
  return (
    <>
      {history.error ? <ErrorNotice error={history.error} config={props.config} /> : null}
      {history.items.length === 0 && !history.loading && !history.error ? <p class="muted">No generations yet.</p> : null}
      <ul class="grid history" aria-busy={history.loading ? "true" : "false"}>
        {history.items.map((item) => (
          <HistoryItem key={item.id} item={item} config={props.config} />
        ))}
      </ul>
      <nav class="pager" aria-label="History pages">
        <button type="button" class="secondary" onClick={props.newer} disabled={history.previous.length === 0 || history.loading}>
          ← Newer
        </button>
        <span role="status">Page {page}</span>
        <button type="button" class="secondary" onClick={props.older} disabled={!history.nextCursor || history.loading}>
          Older →
        </button>
      </nav>
    </>
  );
}

/**
 * Runs the generate page.
 *
 * @example
 * startGeneratePage(config, api);
 */
export function startGeneratePage(config: PageConfig, api: Api): void {
  const form = document.getElementById("generate-form") as HTMLFormElement;
  const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
  const submit = form.querySelector<HTMLButtonElement>("button[type=submit]")!;
  const run = createStore<Run>({ status: "idle" });
  const history = createStore<History>({ items: [], previous: [], nextCursor: null, loading: true });

  async function loadHistory(cursor: string | undefined, previous: (string | undefined)[]) {
    history.set((h) => ({ ...h, loading: true }));
    try {
      const page = await api.listGenerations({ limit: HISTORY_PAGE, cursor });
      history.set({ items: page.items, previous, cursor, nextCursor: page.nextCursor, loading: false });
    } catch (error) {
      history.set((h) => ({ ...h, loading: false, error: explain(error) }));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (run.get().status === "running") return;
    const prompt = field("prompt").value.trim();
    const input: GenerateInput = {
      prompt,
      aspectRatio: (field("aspectRatio").value || undefined) as GenerateInput["aspectRatio"],
      category: field("category").value.trim() || undefined,
    };
    const startedAt = Date.now();
    run.set({ status: "running", prompt, startedAt });
    submit.disabled = true;
    try {
      const answer = await api.generate(input);
      const references = await withRecords(api, answer.references);
      run.set({ status: "done", prompt, seconds: (Date.now() - startedAt) / 1000, answer, references });
    } catch (error) {
      run.set({ status: "failed", prompt, seconds: (Date.now() - startedAt) / 1000, error: explain(error) });
    } finally {
      submit.disabled = false;
      document.getElementById("run-title")?.focus();
      void loadHistory(undefined, []);
    }
  });

  render(<RunView store={run} api={api} config={config} />, document.getElementById("run")!);
  render(
    <HistoryView
      store={history}
      config={config}
      older={() => {
        const h = history.get();
        if (h.nextCursor) void loadHistory(h.nextCursor, [...h.previous, h.cursor]);
      }}
      newer={() => {
        const h = history.get();
        if (h.previous.length > 0) void loadHistory(h.previous.at(-1), h.previous.slice(0, -1));
      }}
    />,
    document.getElementById("history")!,
  );
  void loadHistory(undefined, []);
}

function GenerationDetail(props: { record: GenerationRecord; references: Reference[]; api: Api; config: PageConfig }) {
  const { record } = props;
  return (
    <article class="detail">
      {record.imageUrl ? (
        <figure>
          <a href={record.imageUrl} title="Open the full-size image">
            <img src={record.imageUrl} alt={`Generated image: ${record.prompt}`} />
          </a>
        </figure>
      ) : null}
      <div class="facts">
        <h1>{record.prompt}</h1>
        {record.status === "failed" ? <ErrorNotice error={storedFailure(record)} config={props.config} /> : null}
        <dl>
          <dt>Status</dt>
          <dd>{record.status}</dd>
          <dt>Model</dt>
          <dd>
            {record.provider ?? "—"} · {record.model ?? "—"}
          </dd>
          <dt>Parameters</dt>
          <dd>
            {describeParameters(record.parameters) || "defaults"}
          </dd>
          <dt>Palette</dt>
          <dd>
            <Palette colors={record.hexColors} />
          </dd>
          <dt>References</dt>
          <dd>
            <References api={props.api} references={props.references} />
          </dd>
          <dt>Took</dt>
          <dd>
            {record.latencyMs !== null ? `${(record.latencyMs / 1000).toFixed(1)} s` : "—"}
            {record.usage.inputTokens !== null ? ` · ${record.usage.inputTokens} tokens in, ${record.usage.outputTokens ?? 0} out` : ""}
          </dd>
          <dt>Started</dt>
          <dd>
            <time datetime={record.createdAt}>{new Date(record.createdAt).toLocaleString()}</time>
          </dd>
          <dt>Trace</dt>
          <dd>
            <TraceId config={props.config} id={record.traceId} bare />
          </dd>
        </dl>
        {record.builtPrompt ? (
          <details>
            <summary>The prompt sent to the model</summary>
            <pre class="prompt">{record.builtPrompt}</pre>
          </details>
        ) : null}
      </div>
    </article>
  );
}

/**
 * Runs a generation's page.
 *
 * @example
 * await startGenerationPage(config, api);
 */
export function startGenerationPage(config: PageConfig, api: Api): Promise<void> {
  const load = async () => {
    const record = await api.getGeneration(config.id ?? "");
    return { record, references: await withRecords(api, record.references) };
  };
  return showRecord("generation", config, load, ({ record, references }) => ({
    title: `${record.prompt.slice(0, 60)} · Generation`,
    view: <GenerationDetail record={record} references={references} api={api} config={config} />,
  }));
}
