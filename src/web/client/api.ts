/**
 * Every call the web app makes to the HTTP API, and nothing else does: a route change shows up
 * here (and, once the routes export their types for `hono/client`, in the type check).
 *
 * Calls add the session's API key, ask for one on a 401 and try once more, and turn every failure
 * into an {@link ApiFailure} carrying the status, the API's error code and message, `Retry-After`
 * and the trace id.
 */
import type { ImageRole } from "../../db/schema.ts";
import type { AspectRatio } from "../../ai/image-model.ts";
import type { generationView } from "../../http/routes/generations.ts";
import type { imageRecord } from "../../http/routes/images.ts";
import type { SearchHit } from "../../search/pipeline.ts";

export type { ImageRole };

/** An image record as the API answers it. */
export type ImageRecord = ReturnType<typeof imageRecord>;
/** A stored generation as the API answers it. */
export type GenerationRecord = ReturnType<typeof generationView>;

/** One ranked image of a search. */
export interface SearchResult {
  id: string;
  rank: number;
  score: number;
  image: ImageRecord;
  components: SearchHit["components"];
}

/** The answer of `POST /api/search`. */
export interface SearchAnswer {
  results: SearchResult[];
  traceId?: string;
}

/** The body of `POST /api/search` as the web app sends it. */
export interface SearchInput {
  query?: string;
  imageId?: string;
  limit: number;
  filters?: { category?: string; role?: ImageRole; color?: string };
}

/** A page of a cursor-paged list (`GET /api/images`, `GET /api/generations`). */
export interface ListPage<T> {
  items: T[];
  nextCursor: string | null;
}

/** The body of `POST /api/generate`. */
export interface GenerateInput {
  prompt: string;
  aspectRatio?: AspectRatio;
  category?: string;
}

/** The answer of `POST /api/generate` (201). */
export type GenerateAnswer = Pick<GenerationRecord, "id" | "status" | "provider" | "model" | "imageUrl" | "references" | "hexColors"> & {
  seed?: number;
  traceId?: string;
};

/** The text fields of `POST /api/images` (multipart). */
export interface UploadFields {
  caption?: string;
  labels?: string;
  category?: string;
  role?: string;
}

/** What an upload came to. */
export interface UploadAnswer {
  image: ImageRecord;
  /** False: the same bytes were already stored (`200`), `image` is that record. */
  created: boolean;
  traceId?: string;
}

/**
 * A call that did not succeed. `status` 0 means the service did not answer at all.
 *
 * @example
 * if (error instanceof ApiFailure && error.status === 429) wait(error.retryAfterSeconds);
 */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
    readonly traceId?: string,
    /** A failed generation's stored record (`POST /api/generate` failures). */
    readonly generationId?: string,
  ) {
    super(message);
    this.name = "ApiFailure";
  }
}

/** Where the session's key lives and how to ask the person for one. */
export interface KeySource {
  key(): string | undefined;
  /** Asks for a key ("needed": none was sent; "refused": the one sent was wrong); true when one was given. */
  ask(reason: "needed" | "refused"): Promise<boolean>;
}

/**
 * The trace id of a `traceresponse` header (`00-<trace id>-<span id>-<flags>`).
 *
 * @example
 * traceIdOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") // "4bf92f3577b34da6a3ce929d0e0e4736"
 */
export function traceIdOf(header: string | null): string | undefined {
  return /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/i.exec(header?.trim() ?? "")?.[1];
}

function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - Date.now()) / 1000)) : undefined;
}

/** The failure an error answer describes (its JSON body when it has one). */
function failureOf(status: number, bodyText: string, header: (name: string) => string | null): ApiFailure {
  let code = `http_${status}`;
  let message = "";
  let details: { generationId?: string; traceId?: string } = {};
  try {
    const body = JSON.parse(bodyText) as { error?: { code?: string; message?: string; details?: typeof details } };
    code = body.error?.code ?? code;
    message = body.error?.message ?? "";
    details = body.error?.details ?? {};
  } catch {
    // Not our JSON (a proxy's page): the status says enough.
  }
  return new ApiFailure(status, code, message, retryAfter(header("retry-after")), details.traceId ?? traceIdOf(header("traceresponse")), details.generationId);
}

const NO_ANSWER = "the service did not answer";

/**
 * The API client of the web app.
 *
 * @example
 * const api = createApi(keys);
 * const { results } = await api.search({ query: "calm sea", limit: 24 });
 */
export function createApi(keys: KeySource) {
  async function call<T>(path: string, init: RequestInit = {}, retried = false): Promise<T> {
    const headers = new Headers(init.headers);
    const key = keys.key();
    if (key) headers.set("authorization", `Bearer ${key}`);
    let response: Response;
    try {
      response = await fetch(path, { ...init, headers });
    } catch {
      throw new ApiFailure(0, "network", NO_ANSWER);
    }
    if (response.status === 401 && !retried && (await keys.ask(key ? "refused" : "needed"))) return call(path, init, true);
    if (!response.ok) throw failureOf(response.status, await response.text(), (n) => response.headers.get(n));
    return (await response.json()) as T;
  }

  const json = (body: unknown): RequestInit => ({
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

  /** `fetch` has no upload progress, so uploads go through XMLHttpRequest. */
  function sendUpload(form: FormData, onProgress: (fraction: number) => void): Promise<XMLHttpRequest> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/images");
      const key = keys.key();
      if (key) xhr.setRequestHeader("authorization", `Bearer ${key}`);
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      };
      xhr.onload = () => resolve(xhr);
      xhr.onerror = () => reject(new ApiFailure(0, "network", NO_ANSWER));
      xhr.send(form);
    });
  }

  return {
    /** `POST /api/search` (a text query and/or "more like this" an image). */
    search: (input: SearchInput) => call<SearchAnswer>("/api/search", json(input)),

    /** `GET /api/images`: newest first, optionally of one category and role. */
    listImages: (query: { limit: number; cursor?: string; category?: string; role?: string }) =>
      call<ListPage<ImageRecord>>(`/api/images?${params(query)}`),

    /** `GET /api/images/:id` */
    getImage: (id: string) => call<ImageRecord>(`/api/images/${encodeURIComponent(id)}`),

    /** `POST /api/images`, reporting upload progress (0–1). */
    async uploadImage(file: File, fields: UploadFields, onProgress: (fraction: number) => void): Promise<UploadAnswer> {
      const form = new FormData();
      form.set("file", file, file.name);
      for (const [name, value] of Object.entries(fields)) if (value) form.set(name, value);
      let xhr = await sendUpload(form, onProgress);
      if (xhr.status === 401 && (await keys.ask(keys.key() ? "refused" : "needed"))) xhr = await sendUpload(form, onProgress);
      const traceId = traceIdOf(xhr.getResponseHeader("traceresponse"));
      if (xhr.status !== 200 && xhr.status !== 201) throw failureOf(xhr.status, xhr.responseText, (n) => xhr.getResponseHeader(n));
      return { image: JSON.parse(xhr.responseText) as ImageRecord, created: xhr.status === 201, traceId };
    },

    /** `POST /api/generate`: answers when the model has (synchronous). */
    generate: (input: GenerateInput) => call<GenerateAnswer>("/api/generate", json(input)),

    /** `GET /api/generations`: newest first. */
    listGenerations: (query: { limit: number; cursor?: string }) => call<ListPage<GenerationRecord>>(`/api/generations?${params(query)}`),

    /** `GET /api/generations/:id`, failed ones included. */
    getGeneration: (id: string) => call<GenerationRecord>(`/api/generations/${encodeURIComponent(id)}`),

    /** The thumbnail of a stored image (references carry only an id). */
    thumbnailUrl: (imageId: string) => `/api/images/${encodeURIComponent(imageId)}/thumbnail`,
  };
}

/** The client `createApi` returns. */
export type Api = ReturnType<typeof createApi>;

function params(query: Record<string, string | number | undefined>): string {
  const out = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== "") out.set(name, String(value));
  return out.toString();
}
