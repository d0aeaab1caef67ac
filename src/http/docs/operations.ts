/**
 * The API as the OpenAPI document describes it: every operation with the zod schemas that
 * validate its request (imported from `../schemas/`, the ones the routes use) and describe its
 * answers (`../schemas/responses.ts`, the routes' return types), and each error status with the
 * codes it carries. Which operations need an API key is not written here: `needsKey` decides it
 * (`document.ts`). A test checks that this list and the registered routes are the same set.
 */
import { z } from "zod";
import { GENERATION_FAILURE_STATUS } from "../../generation/errors.ts";
import { READINESS_ROUTE } from "../routes/health.ts";
import { IdParam } from "../schemas/common.ts";
import { GenerateBody, GenerationListQuery } from "../schemas/generations.ts";
import { ImageListQuery, UploadFields } from "../schemas/images.ts";
import {
  CategoryList,
  ErrorBody,
  GenerateAnswer,
  GenerationPage,
  GenerationRecord,
  ImagePage,
  ImageRecord,
  Liveness,
  UploadAnswer,
  Readiness,
  SearchAnswer,
  SearchHit,
} from "../schemas/responses.ts";
import { SearchBody, SearchQuery } from "../schemas/search.ts";

/** Statuses an error answer (`ErrorBody`) can have. */
export type ErrorStatus = 400 | 401 | 404 | 413 | 415 | 422 | 429 | 502 | 503 | 504 | 507;

/** Response headers the document names (`components.headers`). */
export type HeaderName = "Location" | "Retry-After" | "ETag" | "Cache-Control" | "WWW-Authenticate";

/** One answer that is not an error. */
export interface Answer {
  description: string;
  /** The JSON body; a schema listed in {@link SCHEMAS}. */
  json?: z.ZodType;
  /** A body that is not JSON (image bytes): its media type. */
  media?: string;
  headers?: readonly HeaderName[];
}

/** One route (method and Hono path pattern) as documented. */
export interface Operation {
  method: "get" | "post";
  /** As registered in Hono (`/api/images/:id`). */
  path: string;
  operationId: string;
  tag: "health" | "images" | "search" | "generations";
  summary: string;
  description?: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: { media: "application/json" | "multipart/form-data"; schema: z.ZodType };
  answers: Record<number, Answer>;
  /** Error statuses with the `error.code` values each carries (auth errors are added by `needsKey`). */
  errors: Partial<Record<ErrorStatus, readonly string[]>>;
  /** Counted by a per-minute rate limit (429 and the `RateLimit-*` headers). */
  rateLimited?: "search" | "generate";
}

/**
 * The multipart upload: the validated text fields plus the file part, which the route reads
 * itself (the ingest pipeline checks its type, size and pixels).
 */
const ImageUpload = UploadFields.extend({
  file: z.file().meta({ contentMediaType: "image/*", description: "JPEG, PNG, WebP, AVIF or GIF, at most `MAX_UPLOAD_BYTES`" }),
});

/**
 * The named schemas of `components.schemas`; operations refer to them by `$ref`.
 *
 * @example
 * SCHEMAS.ImageRecord === ImageRecord // true
 */
export const SCHEMAS = {
  Error: ErrorBody,
  Liveness,
  Readiness,
  ImageUpload,
  ImageRecord,
  UploadAnswer,
  ImagePage,
  CategoryList,
  SearchRequest: SearchBody,
  SearchHit,
  SearchAnswer,
  GenerateRequest: GenerateBody,
  GenerateAnswer,
  GenerationRecord,
  GenerationPage,
} satisfies Record<string, z.ZodType>;

/** Each failure kind of a generation under the status the route answers it with. */
function generationFailures(): Partial<Record<ErrorStatus, string[]>> {
  const byStatus: Partial<Record<ErrorStatus, string[]>> = {};
  for (const [kind, status] of Object.entries(GENERATION_FAILURE_STATUS)) {
    // 499 `cancelled`: the client went away; nobody reads that answer.
    if (kind !== "cancelled") (byStatus[status as ErrorStatus] ??= []).push(kind);
  }
  return byStatus;
}

const JSON_BODY_ERRORS = { 400: ["invalid_request", "missing_body", "malformed_json"], 413: ["payload_too_large"], 415: ["unsupported_media_type"] } as const;
const DATABASE = ["database_unavailable"] as const;

const blob = (media: string): Record<number, Answer> => ({
  200: { description: "The bytes.", media, headers: ["ETag", "Cache-Control"] },
  302: { description: "Redirect to a short-lived presigned URL (S3 blob store).", headers: ["Location"] },
  304: { description: "Not modified (`If-None-Match` matched the ETag).", headers: ["ETag"] },
});

const failures = generationFailures();

/**
 * Every operation the service answers under `/health` and `/api`.
 *
 * @example
 * OPERATIONS.find((o) => o.operationId === "searchImages")!.path // "/api/search"
 */
export const OPERATIONS: readonly Operation[] = [
  {
    method: "get",
    path: "/health",
    operationId: "liveness",
    tag: "health",
    summary: "Liveness",
    description: "200 while the process answers, whatever its dependencies do. Restart on failure.",
    answers: { 200: { description: "The process answers.", json: Liveness } },
    errors: {},
  },
  {
    method: "get",
    path: READINESS_ROUTE,
    operationId: "readiness",
    tag: "health",
    summary: "Readiness",
    description: "200 when the database answers within 2 s and the service is not draining; take the instance out of rotation on 503.",
    answers: {
      200: { description: "Ready for traffic.", json: Readiness },
      503: { description: "Not ready: `starting`, `draining` (after SIGTERM) or `database_unavailable`.", json: Readiness },
    },
    errors: {},
  },
  {
    method: "post",
    path: "/api/images",
    operationId: "uploadImage",
    tag: "images",
    summary: "Upload an image",
    description:
      "Decodes the image, extracts its palette, labels and embeds it, stores the bytes and the record. " +
      "The same bytes are stored once: a second upload answers 200 with the stored record.",
    body: { media: "multipart/form-data", schema: ImageUpload },
    answers: {
      201: { description: "Stored (`duplicate: false`).", json: UploadAnswer, headers: ["Location"] },
      200: { description: "These bytes were already stored: the stored record, unchanged (`duplicate: true`, `notApplied`).", json: UploadAnswer },
    },
    errors: {
      400: ["invalid_request", "missing_file", "malformed_multipart", "empty_file"],
      413: ["payload_too_large"],
      415: ["unsupported_media_type", "unsupported_image_type"],
      422: ["invalid_image", "too_many_pixels"],
      503: ["overloaded", "storage_unavailable", ...DATABASE],
      507: ["storage_full"],
    },
  },
  {
    method: "get",
    path: "/api/images",
    operationId: "listImages",
    tag: "images",
    summary: "List images",
    description: "Newest first, a cursor page at a time; unknown query parameters are refused.",
    query: ImageListQuery,
    answers: { 200: { description: "A page of images.", json: ImagePage } },
    errors: { 400: ["invalid_request", "invalid_cursor"], 503: DATABASE },
  },
  {
    method: "get",
    path: "/api/images/:id",
    operationId: "getImage",
    tag: "images",
    summary: "One image's record",
    params: IdParam,
    answers: { 200: { description: "The record.", json: ImageRecord } },
    errors: { 400: ["invalid_id"], 404: ["not_found"], 503: DATABASE },
  },
  {
    method: "get",
    path: "/api/images/:id/file",
    operationId: "getImageFile",
    tag: "images",
    summary: "The stored bytes",
    params: IdParam,
    answers: blob("image/*"),
    errors: { 400: ["invalid_id"], 404: ["not_found"], 503: ["storage_unavailable", ...DATABASE] },
  },
  {
    method: "get",
    path: "/api/images/:id/thumbnail",
    operationId: "getImageThumbnail",
    tag: "images",
    summary: "A WebP thumbnail",
    params: IdParam,
    answers: blob("image/webp"),
    errors: { 400: ["invalid_id"], 404: ["not_found"], 503: ["storage_unavailable", ...DATABASE] },
  },
  {
    method: "get",
    path: "/api/categories",
    operationId: "listCategories",
    tag: "images",
    summary: "Categories in use",
    description: "Every category some image has, by name, with how many images hold it (the same read policy as listing images).",
    answers: { 200: { description: "The categories and their counts.", json: CategoryList } },
    errors: { 503: DATABASE },
  },
  {
    method: "post",
    path: "/api/search",
    operationId: "searchImages",
    tag: "search",
    summary: "Hybrid search",
    description:
      "Full text and vector similarity fused by Reciprocal Rank Fusion, then reranked. Each result carries every " +
      "branch's rank and score (`components`). `imageId` searches for images like a stored one.",
    body: { media: "application/json", schema: SearchBody },
    answers: { 200: { description: "Ranked images.", json: SearchAnswer } },
    errors: { ...JSON_BODY_ERRORS, 404: ["image_not_found"], 429: ["rate_limited"], 503: DATABASE },
    rateLimited: "search",
  },
  {
    method: "get",
    path: "/api/search",
    operationId: "searchImagesByQueryString",
    tag: "search",
    summary: "Hybrid search from a query string",
    description: "The same search as `POST /api/search`, for links: `?q=calm+sea&limit=5`.",
    query: SearchQuery,
    answers: { 200: { description: "Ranked images.", json: SearchAnswer } },
    errors: { 400: ["invalid_request"], 429: ["rate_limited"], 503: DATABASE },
    rateLimited: "search",
  },
  {
    method: "post",
    path: "/api/generate",
    operationId: "generateImage",
    tag: "generations",
    summary: "Generate an image",
    description:
      "Classifies the prompt, injects tone references from the stored pools, calls the image model and stores the " +
      "result. Every attempt is stored; a failed one answers its error with `details.generationId` to look it up.",
    body: { media: "application/json", schema: GenerateBody },
    answers: { 201: { description: "Generated and stored.", json: GenerateAnswer, headers: ["Location"] } },
    errors: {
      ...JSON_BODY_ERRORS,
      ...failures,
      429: ["rate_limited"],
      503: [...(failures[503] ?? []), "overloaded", "storage_unavailable", ...DATABASE],
      507: ["storage_full"],
    },
    rateLimited: "generate",
  },
  {
    method: "get",
    path: "/api/generations",
    operationId: "listGenerations",
    tag: "generations",
    summary: "List generations",
    description: "Newest first, failed ones included.",
    query: GenerationListQuery,
    answers: { 200: { description: "A page of generations.", json: GenerationPage } },
    errors: { 400: ["invalid_request", "invalid_cursor"], 503: DATABASE },
  },
  {
    method: "get",
    path: "/api/generations/:id",
    operationId: "getGeneration",
    tag: "generations",
    summary: "One generation",
    description: "The stored record; a failed generation carries its `error`. An id that is not a UUID is a 404.",
    answers: { 200: { description: "The record.", json: GenerationRecord } },
    errors: { 404: ["not_found"], 503: DATABASE },
  },
  {
    method: "get",
    path: "/api/generations/:id/image",
    operationId: "getGenerationImage",
    tag: "generations",
    summary: "The generated image",
    answers: blob("image/*"),
    errors: { 404: ["not_found", "no_image"], 503: ["storage_unavailable", ...DATABASE] },
  },
];
