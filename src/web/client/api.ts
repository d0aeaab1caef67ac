/**
 * Every call the web app makes to the HTTP API, and nothing else does. Calls go through Hono's
 * typed client (`hono/client` over the service's `AppType`), so a route whose path, request or
 * answer changes breaks `bun run typecheck` here, not the page; only types cross from the server
 * (no zod, no database code in the bundle).
 *
 * Calls add the session's API key, ask for one on a 401 and try once more, and turn every failure
 * into an {@link ApiFailure} carrying the status, the API's error code and message, `Retry-After`
 * and the trace id.
 */
import { hc, type ClientResponse, type InferRequestType, type InferResponseType } from "hono/client";
import type { AppType } from "../../http/app.ts";
import type { ImageRecord as StoredImage } from "../../http/schemas/responses.ts";

type Client = ReturnType<typeof hc<AppType>>;
type Routes = Client["api"];

/** An image record as the API answers it. */
export type ImageRecord = InferResponseType<Routes["images"][":id"]["$get"], 200>;
/** The reference pools an image can belong to. */
export type ImageRole = ImageRecord["role"];
/** A stored generation as the API answers it. */
export type GenerationRecord = InferResponseType<Routes["generations"][":id"]["$get"], 200>;
/** The answer of `POST /api/search`. */
export type SearchAnswer = InferResponseType<Routes["search"]["$post"], 200>;
/** One ranked image of a search. */
export type SearchResult = SearchAnswer["results"][number];
/** The body of `POST /api/search`. */
export type SearchInput = InferRequestType<Routes["search"]["$post"]>["json"];
/** The body of `POST /api/generate`. */
export type GenerateInput = InferRequestType<Routes["generate"]["$post"]>["json"];
/** The answer of `POST /api/generate` (201). */
export type GenerateAnswer = InferResponseType<Routes["generate"]["$post"], 201>;
/** A category in use and how many images hold it (`GET /api/categories`). */
export type CategoryCount = InferResponseType<Routes["categories"]["$get"], 200>["items"][number];

/** The text fields of `POST /api/images` (multipart). */
export interface UploadFields {
  caption?: string;
  labels?: string;
  category?: string;
  role?: string;
}

/** What an upload came to. */
export interface UploadAnswer {
  /** `POST /api/images` answers an image record (typed by its response schema: uploads go through XMLHttpRequest, not the typed client). */
  image: StoredImage;
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
  const bearer = (): Record<string, string> => {
    const key = keys.key();
    return key ? { authorization: `Bearer ${key}` } : {};
  };
  const api = hc<AppType>("/", { headers: bearer }).api;

  /** One typed call: asks for a key on a 401 and sends it again once; a failure becomes an ApiFailure. */
  async function call<T>(send: () => Promise<ClientResponse<T, number, "json">>): Promise<T> {
    const attempt = async () => {
      try {
        return await send();
      } catch {
        throw new ApiFailure(0, "network", NO_ANSWER);
      }
    };
    let response = await attempt();
    if (response.status === 401 && (await keys.ask(keys.key() ? "refused" : "needed"))) response = await attempt();
    if (!response.ok) throw failureOf(response.status, await response.text(), (n) => response.headers.get(n));
    return response.json() as Promise<T>;
  }

  /** `fetch` has no upload progress, so uploads go through XMLHttpRequest. */
  function sendUpload(form: FormData, onProgress: (fraction: number) => void): Promise<XMLHttpRequest> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", api.images.$path());
      for (const [name, value] of Object.entries(bearer())) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      };
      xhr.onload = () => resolve(xhr);
      xhr.onerror = () => reject(new ApiFailure(0, "network", NO_ANSWER));
      xhr.send(form);
    });
  }

  const param = (id: string) => ({ param: { id: encodeURIComponent(id) } });

  return {
    /** `POST /api/search` (a text query and/or "more like this" an image). */
    search: (input: SearchInput) => call(() => api.search.$post({ json: input })),

    /** `GET /api/images`: newest first, optionally of one category and role. */
    listImages: (query: { limit: number; cursor?: string; category?: string; role?: ImageRole }) =>
      call(() => api.images.$get({ query: { ...query, limit: String(query.limit) } })),

    /** `GET /api/images/:id` */
    getImage: (id: string) => call(() => api.images[":id"].$get(param(id))),

    /** `GET /api/categories`: the categories in use, with their counts. */
    listCategories: () => call(() => api.categories.$get()),

    /** `POST /api/images`, reporting upload progress (0–1). */
    async uploadImage(file: File, fields: UploadFields, onProgress: (fraction: number) => void): Promise<UploadAnswer> {
      const form = new FormData();
      form.set("file", file, file.name);
      for (const [name, value] of Object.entries(fields)) if (value) form.set(name, value);
      let xhr = await sendUpload(form, onProgress);
      if (xhr.status === 401 && (await keys.ask(keys.key() ? "refused" : "needed"))) xhr = await sendUpload(form, onProgress);
      const traceId = traceIdOf(xhr.getResponseHeader("traceresponse"));
      if (xhr.status !== 200 && xhr.status !== 201) throw failureOf(xhr.status, xhr.responseText, (n) => xhr.getResponseHeader(n));
      return { image: JSON.parse(xhr.responseText) as StoredImage, created: xhr.status === 201, traceId };
    },

    /** `POST /api/generate`: answers when the model has (synchronous). */
    generate: (input: GenerateInput) => call(() => api.generate.$post({ json: input })),

    /** `GET /api/generations`: newest first. */
    listGenerations: (query: { limit: number; cursor?: string }) =>
      call(() => api.generations.$get({ query: { ...query, limit: String(query.limit) } })),

    /** `GET /api/generations/:id`, failed ones included. */
    getGeneration: (id: string) => call(() => api.generations[":id"].$get(param(id))),

    /**
     * The thumbnail of a stored image whose record could not be read (references carry only an id);
     * records carry their own `thumbnailUrl`, signed when reads need a key, so prefer that.
     */
    thumbnailUrl: (imageId: string) => api.images[":id"].thumbnail.$path(param(imageId)),
  };
}

/** The client `createApi` returns. */
export type Api = ReturnType<typeof createApi>;
