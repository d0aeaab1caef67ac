/**
 * The server-rendered bodies of the pages: every form and its labelled fields, filled from the URL
 * and the settings; the browser script (src/web/client/) fills in what comes from the API.
 */
import { ASPECT_RATIOS } from "../../ai/image-model.ts";
import { IMAGE_ROLES } from "../../db/schema.ts";
import { MAX_CAPTION_LENGTH } from "../../ingest/label.ts";
import { MAX_CATEGORY_LENGTH } from "../../http/schemas/common.ts";
import { MAX_PROMPT_LENGTH } from "../../http/schemas/generations.ts";
import { MAX_QUERY_LENGTH } from "../../http/schemas/search.ts";
import { formatBytes } from "../shared/format.ts";
import type { SearchState } from "../shared/search-state.ts";
import { CategoryList } from "./layout.tsx";

function RoleSelect(props: { id: string; selected: string; any?: string }) {
  return (
    <select id={props.id} name="role">
      {props.any ? <option value="">{props.any}</option> : null}
      {IMAGE_ROLES.map((role) => (
        <option value={role} selected={role === props.selected}>
          {role}
        </option>
      ))}
    </select>
  );
}

/**
 * The search form, filled from the URL's state; the script adds the categories in use (with their
 * counts) from `GET /api/categories`.
 *
 * @example
 * <SearchBody state={readSearchState(url.searchParams)} />
 */
export function SearchBody(props: { state: SearchState }) {
  const { state } = props;
  return (
    <>
      <h1 class="visually-hidden">Search images</h1>
      <form id="search-form" role="search" method="get" action="/">
        <div class="searchbar">
          <label for="q" class="visually-hidden">
            Search images
          </label>
          <input id="q" name="q" type="search" value={state.q} maxlength={MAX_QUERY_LENGTH} autocomplete="off" placeholder="Describe what you look for: calm sea at dusk" />
          <button type="submit">Search</button>
        </div>
        {state.like ? <input type="hidden" name="like" value={state.like} /> : null}
        {state.color ? <input type="hidden" name="color" value={state.color.slice(1)} /> : null}
        <fieldset>
          <legend>Filters</legend>
          <div class="fields">
            <div class="field">
              <label for="category">Category</label>
              <select id="category" name="category">
                <option value="">Any category</option>
                {state.category ? <option value={state.category} selected>{state.category}</option> : null}
              </select>
            </div>
            <div class="field">
              <label for="role">Role</label>
              <RoleSelect id="role" selected={state.role} any="Any role" />
            </div>
            <div class="field">
              <label for="color">Colour</label>
              <div class="color-field">
                <input type="color" id="color" value={state.color || "#808080"} aria-describedby="color-hint" />
                <output id="color-value" for="color">
                  {state.color || "any"}
                </output>
                <button type="button" id="color-clear" class="secondary" hidden={!state.color}>
                  Clear colour
                </button>
              </div>
              <p class="hint" id="color-hint">
                Or pick a palette chip of any result.
              </p>
            </div>
          </div>
        </fieldset>
      </form>
      <div id="results" />
    </>
  );
}

/**
 * The upload form: the drop zone and the defaults each added file starts with.
 *
 * @example
 * <UploadBody maxUploadBytes={20971520} />
 */
export function UploadBody(props: { maxUploadBytes: number }) {
  return (
    <>
      <h1>Upload images</h1>
      <form id="upload-form">
        <div id="dropzone" class="dropzone">
          <p>
            <strong>Drop images anywhere on this page</strong>
          </p>
          <label for="files">or choose files</label>
          <input id="files" type="file" multiple accept="image/jpeg,image/png,image/webp,image/avif,image/gif" />
          <p class="hint">JPEG, PNG, WebP, AVIF or GIF, up to {formatBytes(props.maxUploadBytes)} each. The same file twice is stored once.</p>
        </div>
        <fieldset>
          <legend>Defaults for the files you add</legend>
          <div class="fields">
            <div class="field">
              <label for="caption">Caption</label>
              <input id="caption" name="caption" type="text" maxlength={MAX_CAPTION_LENGTH} placeholder="written for you when empty" />
            </div>
            <div class="field">
              <label for="labels">Labels</label>
              <input id="labels" name="labels" type="text" placeholder="comma, separated" />
            </div>
            <div class="field">
              <label for="upload-category">Category</label>
              <input id="upload-category" name="category" type="text" list="categories" maxlength={MAX_CATEGORY_LENGTH} />
            </div>
            <div class="field">
              <label for="upload-role">Role</label>
              <RoleSelect id="upload-role" selected="corpus" />
            </div>
          </div>
          <p class="hint">Each file can be changed in the list below before it is uploaded. Tone and angle references are the pools generation draws from.</p>
        </fieldset>
        <h2>Files</h2>
        <div id="queue" />
        <div class="actions-row">
          <button type="submit">Upload</button>
          <button type="button" id="clear-done" class="secondary">
            Clear finished
          </button>
        </div>
      </form>
      <CategoryList />
    </>
  );
}

/**
 * The generate form, the run's progress and result, and the history.
 *
 * @example
 * <GenerateBody />
 */
export function GenerateBody() {
  return (
    <>
      <h1>Generate an image</h1>
      <form id="generate-form">
        <div class="field">
          <label for="prompt">Prompt</label>
          <textarea id="prompt" name="prompt" required maxlength={MAX_PROMPT_LENGTH} placeholder="a lighthouse on a cliff at dawn" />
        </div>
        <div class="fields">
          <div class="field">
            <label for="aspectRatio">Aspect ratio</label>
            <select id="aspectRatio" name="aspectRatio">
              {ASPECT_RATIOS.map((ratio) => (
                <option value={ratio} selected={ratio === "1:1"}>
                  {ratio}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="gen-category">Category</label>
            <input id="gen-category" name="category" type="text" list="categories" maxlength={64} aria-describedby="gen-category-hint" />
            <p class="hint" id="gen-category-hint">
              Tone references come from this category's pool; empty: read from the prompt.
            </p>
          </div>
        </div>
        <div class="actions-row">
          <button type="submit">Generate</button>
        </div>
      </form>
      <div id="run" />
      <section aria-labelledby="history-title">
        <h2 id="history-title">History</h2>
        <div id="history" />
      </section>
      <CategoryList />
    </>
  );
}

/**
 * A detail page's body: the script fills `#<id>` from the API.
 *
 * @example
 * <DetailBody id="image" />
 */
export function DetailBody(props: { id: "image" | "generation" }) {
  return (
    <div id={props.id}>
      <p class="status" role="status">
        <span class="spinner" aria-hidden="true" /> Loading…
      </p>
    </div>
  );
}
