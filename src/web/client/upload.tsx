/**
 * The upload page: files dropped on the page (or chosen) join a queue, each with its own caption,
 * labels, category and role (prefilled from the form's defaults); "Upload" sends them two at a
 * time with per-file progress and shows each outcome: stored, already stored (a duplicate), or
 * the service's reason for refusing it.
 */
import { render, useSyncExternalStore } from "hono/jsx/dom";
import type { PageConfig } from "../shared/page-config.ts";
import { ApiFailure, type Api, type UploadAnswer, type UploadFields } from "./api.ts";
import { formatBytes } from "../shared/format.ts";
import { fillCategories } from "./categories.ts";
import { createStore, ErrorNotice, TraceId, type Store } from "./components.tsx";
import { explain, type Explained } from "./errors.ts";

/** Uploads in flight at once: enough to overlap one upload's network time with another's decode. */
const CONCURRENCY = 2;

interface Item {
  key: number;
  file: File;
  preview: string;
  fields: Required<UploadFields>;
  status: "ready" | "uploading" | "stored" | "duplicate" | "failed";
  progress: number;
  answer?: UploadAnswer;
  error?: Explained;
}

type Queue = { items: Item[]; running: boolean };

/** Stored, or already stored: what "Clear finished" takes away. */
const finished = (item: Item) => item.status === "stored" || item.status === "duplicate";

/** What a row's fields offer, read from the server-rendered defaults (the server's own values and limits). */
interface RowChoices {
  roles: string[];
  captionMaxLength: number;
}

function Row(props: { item: Item; config: PageConfig; choices: RowChoices; update: (patch: Partial<Item>) => void; remove: () => void }) {
  const { item } = props;
  const id = `file-${item.key}`;
  const editable = item.status === "ready" || item.status === "failed";
  const setField = (name: keyof UploadFields) => (event: Event) =>
    props.update({ fields: { ...item.fields, [name]: (event.target as HTMLInputElement).value } });
  return (
    <li class={`queue-item ${item.status}`} aria-labelledby={`${id}-name`}>
      <img
        class="preview"
        src={item.preview}
        alt=""
        width="72"
        height="72"
        onError={(event: Event) => ((event.target as HTMLImageElement).style.visibility = "hidden")}
      />
      <div class="queue-main">
        <p class="file-name">
          <strong id={`${id}-name`}>{item.file.name}</strong> <span class="muted">{formatBytes(item.file.size)}</span>
        </p>
        <div class="row-fields">
          <label>
            Caption
            <input type="text" value={item.fields.caption} onInput={setField("caption")} disabled={!editable} maxlength={props.choices.captionMaxLength} />
          </label>
          <label>
            Labels
            <input type="text" value={item.fields.labels} onInput={setField("labels")} disabled={!editable} placeholder="comma, separated" />
          </label>
          <label>
            Category
            <input type="text" value={item.fields.category} onInput={setField("category")} disabled={!editable} list="categories" />
          </label>
          <label>
            Role
            <select onChange={setField("role")} disabled={!editable}>
              {props.choices.roles.map((role) => (
                <option value={role} selected={role === item.fields.role}>
                  {role}
                </option>
              ))}
            </select>
          </label>
        </div>
        <div class="outcome" aria-live="polite">
          {item.status === "uploading" ? (
            <label class="progress">
              Uploading {Math.round(item.progress * 100)} %
              <progress max={1} value={item.progress} />
            </label>
          ) : null}
          {item.status === "stored" && item.answer ? (
            <p class="ok">
              Stored · <a href={`/images/${item.answer.image.id}`}>view it</a> · <TraceId config={props.config} id={item.answer.traceId} />
            </p>
          ) : null}
          {item.status === "duplicate" && item.answer ? (
            <p class="dup">
              Already stored: the same file is <a href={`/images/${item.answer.image.id}`}>{item.answer.image.caption ?? "this image"}</a>; nothing new
              was stored · <TraceId config={props.config} id={item.answer.traceId} />
            </p>
          ) : null}
          {item.status === "failed" && item.error ? <ErrorNotice error={item.error} config={props.config} /> : null}
        </div>
      </div>
      {editable ? (
        <button type="button" class="secondary remove" onClick={props.remove} aria-label={`Remove ${item.file.name}`}>
          Remove
        </button>
      ) : null}
    </li>
  );
}

function QueueView(props: { store: Store<Queue>; config: PageConfig; choices: RowChoices }) {
  const queue = useSyncExternalStore(props.store.subscribe, props.store.get);
  const update = (key: number) => (patch: Partial<Item>) =>
    props.store.set((q) => ({ ...q, items: q.items.map((i) => (i.key === key ? { ...i, ...patch } : i)) }));
  const remove = (key: number) => () =>
    props.store.set((q) => {
      const gone = q.items.find((i) => i.key === key);
      if (gone) URL.revokeObjectURL(gone.preview);
      return { ...q, items: q.items.filter((i) => i.key !== key) };
    });
  if (queue.items.length === 0) return <p class="muted">No files yet.</p>;
  const done = queue.items.filter(finished).length;
  const failed = queue.items.filter((i) => i.status === "failed").length;
  return (
    <>
      <p class="status" role="status">
        {queue.items.length} file{queue.items.length === 1 ? "" : "s"}: {done} done, {failed} refused
        {queue.running ? " · uploading…" : ""}
      </p>
      <ul class="queue">
        {queue.items.map((item) => (
          <Row key={item.key} item={item} config={props.config} choices={props.choices} update={update(item.key)} remove={remove(item.key)} />
        ))}
      </ul>
    </>
  );
}

/**
 * Runs the upload page.
 *
 * @example
 * startUploadPage(config, api);
 */
export function startUploadPage(config: PageConfig, api: Api): void {
  const form = document.getElementById("upload-form") as HTMLFormElement;
  const input = document.getElementById("files") as HTMLInputElement;
  const zone = document.getElementById("dropzone")!;
  const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;
  const choices: RowChoices = {
    roles: [...(field("role") as HTMLSelectElement).options].map((o) => o.value),
    captionMaxLength: (field("caption") as HTMLInputElement).maxLength,
  };
  const store = createStore<Queue>({ items: [], running: false });
  let nextKey = 1;

  function add(files: Iterable<File>) {
    const defaults = { caption: field("caption").value, labels: field("labels").value, category: field("category").value, role: field("role").value };
    const added: Item[] = [...files].map((file) => ({
      key: nextKey++,
      file,
      preview: URL.createObjectURL(file),
      fields: { ...defaults },
      status: "ready",
      progress: 0,
    }));
    store.set((q) => ({ ...q, items: [...q.items, ...added] }));
  }

  const patch = (key: number, change: Partial<Item>) =>
    store.set((q) => ({ ...q, items: q.items.map((i) => (i.key === key ? { ...i, ...change } : i)) }));

  async function uploadOne(item: Item) {
    patch(item.key, { status: "uploading", progress: 0, error: undefined });
    if (item.file.size > config.maxUploadBytes) {
      const message = `the file is ${formatBytes(item.file.size)}; the limit is ${formatBytes(config.maxUploadBytes)}`;
      // Refused here as the service would refuse it (413), without sending the bytes.
      patch(item.key, { status: "failed", error: explain(new ApiFailure(413, "payload_too_large", message)) });
      return;
    }
    try {
      const answer = await api.uploadImage(item.file, item.fields, (progress) => patch(item.key, { progress }));
      patch(item.key, { status: answer.created ? "stored" : "duplicate", progress: 1, answer });
    } catch (error) {
      patch(item.key, { status: "failed", error: explain(error) });
    }
  }

  async function uploadAll() {
    if (store.get().running) return;
    store.set((q) => ({ ...q, running: true }));
    const waiting = store.get().items.filter((i) => i.status === "ready" || i.status === "failed");
    const workers = Array.from({ length: CONCURRENCY }, async () => {
      for (let item = waiting.shift(); item; item = waiting.shift()) {
        const latest = store.get().items.find((i) => i.key === item!.key);
        if (latest) await uploadOne(latest);
      }
    });
    await Promise.all(workers);
    store.set((q) => ({ ...q, running: false }));
    // A new category typed for these files is now one to suggest.
    await fillCategories(api, document);
  }

  input.addEventListener("change", () => {
    if (input.files) add(input.files);
    input.value = "";
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void uploadAll();
  });
  document.getElementById("clear-done")?.addEventListener("click", () =>
    store.set((q) => {
      // As `remove` does: a preview's blob: URL holds the file's bytes until it is revoked.
      for (const item of q.items.filter(finished)) URL.revokeObjectURL(item.preview);
      return { ...q, items: q.items.filter((i) => !finished(i)) };
    }),
  );
  // The whole page takes drops, so a near miss does not open the file in the tab.
  for (const type of ["dragenter", "dragover"]) {
    document.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    document.addEventListener(type, (event) => {
      event.preventDefault();
      if (type === "drop" || (event as DragEvent).relatedTarget === null) zone.classList.remove("dragging");
    });
  }
  document.addEventListener("drop", (event) => {
    const files = [...((event as DragEvent).dataTransfer?.files ?? [])];
    if (files.length > 0) add(files);
  });

  render(<QueueView store={store} config={config} choices={choices} />, document.getElementById("queue")!);
}
