/**
 * Builds the OpenAPI 3.1 document from {@link OPERATIONS}: zod 4's own `z.toJSONSchema` turns the
 * request and response schemas into `components.schemas`, and `needsKey` (the auth policy)
 * decides which operations carry the bearer requirement. Only operations registered on the app
 * are listed, so an app mounted without, say, generation does not advertise it.
 */
import { z } from "zod";
import { needsKey } from "../auth.ts";
import { SIGNED_URL_WINDOW_SECONDS, signable } from "../signed-urls.ts";
import { OPERATIONS, SCHEMAS, type Answer, type ErrorStatus, type HeaderName, type Operation } from "./operations.ts";

/** A JSON object of the document (kept loose: the tests validate the whole against the OpenAPI 3.1 schema). */
type Json = Record<string, unknown>;

/** What the document depends on besides the routes. */
export interface DocumentOptions {
  /** The service's version (`info.version`). */
  version: string;
  /** True when `API_KEYS` is set: operations `needsKey` picks carry the bearer requirement. */
  apiKeys: boolean;
  publicReads: boolean;
}

/** A route as Hono lists it in `app.routes`. */
export interface RegisteredRoute {
  method: string;
  path: string;
}

const SECURITY_SCHEME = "apiKey";
const SIGNED_URL_SCHEME = "signedUrl";

/** The query of a signed image URL (`signed-urls.ts`), as the records hand it out. */
const SIGNED_URL_PARAMETERS: Json[] = [
  { name: "expires", in: "query", required: false, description: "With `signature`: when the signed URL stops working (Unix seconds).", schema: { type: "integer" } },
  { name: "signature", in: "query", required: false, description: "With `expires`: opens these bytes without a key.", schema: { type: "string" } },
];

const STATUS_TEXT: Record<ErrorStatus, string> = {
  400: "The request is malformed or fails validation; the message names the field and what is wrong.",
  401: "No valid API key (`WWW-Authenticate` says why).",
  404: "Nothing by that id.",
  413: "The body is larger than its limit; refused before it is read when `Content-Length` is declared.",
  415: "The body is not of a type this route takes.",
  422: "Understood but refused.",
  429: "Past the per-minute rate limit; retry after `Retry-After` seconds.",
  502: "The image model answered with an error or without an image; the attempt is stored as failed.",
  503: "A dependency is unavailable or the generation queue is full; nothing was stored. Retry (after `Retry-After` when given).",
  504: "The image model did not answer in time; the attempt is stored as failed.",
  507: "The blob store is full; nothing was stored.",
};

const HEADERS: Record<HeaderName | "RateLimit-Limit" | "RateLimit-Remaining" | "RateLimit-Reset" | "RateLimit-Policy", Json> = {
  Location: { description: "Where the new resource (or the redirect target) is.", schema: { type: "string" } },
  "Retry-After": { description: "Seconds to wait before retrying.", schema: { type: "integer", minimum: 0 } },
  ETag: { description: "The bytes' entity tag, for `If-None-Match`.", schema: { type: "string" } },
  "Cache-Control": { description: "Stored bytes never change under their URL.", schema: { type: "string" } },
  "WWW-Authenticate": { description: 'The RFC 6750 challenge, e.g. `Bearer realm="hybrid-image-search", error="invalid_token"`.', schema: { type: "string" } },
  "RateLimit-Limit": { description: "Requests allowed in the window (IETF draft-6 header).", schema: { type: "integer" } },
  "RateLimit-Remaining": { description: "Requests left in the window.", schema: { type: "integer" } },
  "RateLimit-Reset": { description: "Seconds until the window resets.", schema: { type: "integer" } },
  "RateLimit-Policy": { description: "The limit and its window, e.g. `600;w=60`.", schema: { type: "string" } },
};
const RATE_LIMIT_HEADERS = ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"] as const;

const DESCRIPTION = `Hybrid image search (Postgres full text + pgvector, fused and reranked) and image generation
with reference injection.

**Errors** are \`{"error": {"code", "message", "details"?}}\` (schema \`Error\`): a 4xx for anything
the client did wrong, each operation listing its statuses and codes. A method a path does not take
is a 405 with \`Allow\`; an unknown path a 404; an unexpected fault a 500 \`internal_error\` that shows no detail.

**Keys**: with \`API_KEYS\` set, writes, search and generation need \`Authorization: Bearer <key>\`
(a malformed header is a 400 \`invalid_authorization\`); with \`PUBLIC_READS=false\` the reads too.
The operations that need a key on this instance carry the \`${SECURITY_SCHEME}\` requirement. When every read needs
a key, the image URLs in records are signed (\`?expires=…&signature=…\`, the \`${SIGNED_URL_SCHEME}\` alternative)
so that a browser's \`<img>\` can show them: each opens one image's bytes without a key for one to two hours.

**Traces**: every response carries a \`traceresponse\` header (W3C Trace Context level 2) and an incoming
\`traceparent\` continues the caller's trace.`;

/** `/api/images/:id` → `/api/images/{id}` */
const openApiPath = (path: string) => path.replace(/:(\w+)/g, "{$1}");

/**
 * Zod's JSON Schema for a schema (its input side: what a client sends, and what a route's answer
 * is before any parse), without the per-schema `$schema`/`$id` (the document's dialect covers them),
 * the regular expressions zod adds beside `format: uuid|date-time` and the ±2^53 bounds of every
 * `z.int()`, which say the same things less readably.
 */
const JSON_SCHEMA_OPTIONS = {
  io: "input",
  target: "draft-2020-12",
  override: (ctx: { zodSchema: z.core.$ZodType; jsonSchema: z.core.JSONSchema.BaseSchema }) => {
    const json = ctx.jsonSchema;
    if (json.format === "uuid" || json.format === "date-time") delete json.pattern;
    if (json.minimum === Number.MIN_SAFE_INTEGER) delete json.minimum;
    if (json.maximum === Number.MAX_SAFE_INTEGER) delete json.maximum;
    if (ctx.zodSchema._zod.def.type === "file") delete json.contentEncoding;
  },
} as const;

function clean(schema: z.core.JSONSchema.BaseSchema): Json {
  const { $schema: _dialect, $id: _id, ...rest } = schema;
  return rest;
}

/** One schema, inline (parameters). */
const jsonSchemaOf = (schema: z.ZodType) => clean(z.toJSONSchema(schema, JSON_SCHEMA_OPTIONS));

/** The properties of an object schema as OpenAPI parameters. */
function parameters(where: "path" | "query", schema: z.ZodObject): Json[] {
  const json = jsonSchemaOf(schema) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return { name, in: where, required: where === "path" || (json.required ?? []).includes(name), ...(description ? { description } : {}), schema: rest };
  });
}

/**
 * The OpenAPI 3.1 document of the operations registered in `routes`.
 *
 * @example
 * const doc = buildDocument(app.routes, { version: "0.1.0", apiKeys: false, publicReads: true });
 * Object.keys(doc.paths) // ["/health", "/health/ready", "/api/images", ...]
 */
export function buildDocument(routes: readonly RegisteredRoute[], options: DocumentOptions): Json & { paths: Record<string, Record<string, Json>> } {
  const registered = new Set(routes.map((r) => `${r.method.toLowerCase()} ${r.path}`));
  const operations = OPERATIONS.filter((o) => registered.has(`${o.method} ${o.path}`));

  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(SCHEMAS)) registry.add(schema, { id });
  const components = z.toJSONSchema(registry, { ...JSON_SCHEMA_OPTIONS, uri: (id) => `#/components/schemas/${id}` });
  const schemas = Object.fromEntries(Object.entries(components.schemas).map(([id, schema]) => [id, clean(schema)]));
  const ref = (schema: z.ZodType): Json => {
    const id = registry.get(schema)?.id;
    if (!id) throw new Error("an operation's body schema must be listed in SCHEMAS");
    return { $ref: `#/components/schemas/${id}` };
  };
  const headers = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, { $ref: `#/components/headers/${n}` }]));

  const answer = (a: Answer, extraHeaders: readonly string[]): Json => {
    const names = [...(a.headers ?? []), ...extraHeaders];
    return {
      description: a.description,
      ...(names.length > 0 ? { headers: headers(names) } : {}),
      ...(a.json ? { content: { "application/json": { schema: ref(a.json) } } } : a.media ? { content: { [a.media]: {} } } : {}),
    };
  };
  const error = (status: ErrorStatus, codes: readonly string[], extraHeaders: readonly string[]): Json => ({
    description: `${STATUS_TEXT[status]} Codes: ${codes.map((c) => `\`${c}\``).join(", ")}.`,
    ...(extraHeaders.length > 0 ? { headers: headers(extraHeaders) } : {}),
    content: { "application/json": { schema: ref(SCHEMAS.Error) } },
  });

  const operation = (o: Operation): Json => {
    const keyed = options.apiKeys && needsKey(o.method.toUpperCase(), o.path, { publicReads: options.publicReads });
    // Image bytes that need a key also open with a signed URL (`signsImageUrls`: keys and private reads).
    const signed = keyed && !options.publicReads && signable(o.path);
    const errors: Partial<Record<ErrorStatus, readonly string[]>> = { ...o.errors };
    if (keyed) {
      errors[400] = [...(errors[400] ?? []), "invalid_authorization"];
      errors[401] = ["unauthorized"];
    }
    const limitHeaders = o.rateLimited ? RATE_LIMIT_HEADERS : [];
    const responses: Json = {};
    for (const [status, a] of Object.entries(o.answers)) responses[status] = answer(a, limitHeaders);
    for (const [status, codes] of Object.entries(errors) as [string, readonly string[]][]) {
      const s = Number(status) as ErrorStatus;
      const extra = s === 401 ? ["WWW-Authenticate"] : s === 429 ? ["Retry-After", ...limitHeaders] : s === 503 ? ["Retry-After"] : [];
      responses[status] = error(s, codes, extra);
    }
    responses.default = { description: "An unexpected fault (500 `internal_error`).", content: { "application/json": { schema: ref(SCHEMAS.Error) } } };
    // A path parameter the route does not validate (the generation id: not a UUID is a 404) is a plain string.
    const pathParams = o.params
      ? parameters("path", o.params)
      : [...o.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    const params = [...pathParams, ...(o.query ? parameters("query", o.query) : []), ...(signed ? SIGNED_URL_PARAMETERS : [])];
    return {
      operationId: o.operationId,
      tags: [o.tag],
      summary: o.summary,
      ...(o.description ? { description: o.description } : {}),
      ...(keyed ? { security: [{ [SECURITY_SCHEME]: [] }, ...(signed ? [{ [SIGNED_URL_SCHEME]: [] }] : [])] } : {}),
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(o.body ? { requestBody: { required: true, content: { [o.body.media]: { schema: ref(o.body.schema) } } } } : {}),
      responses,
    };
  };

  const paths: Record<string, Record<string, Json>> = {};
  for (const o of operations) {
    (paths[openApiPath(o.path)] ??= {})[o.method] = operation(o);
  }

  return {
    openapi: "3.1.0",
    info: { title: "Hybrid Image Search", version: options.version, description: DESCRIPTION },
    tags: [
      { name: "search", description: "Hybrid search over the stored images." },
      { name: "images", description: "Upload, list and fetch images." },
      { name: "generations", description: "Generate images with injected references; every attempt is kept." },
      { name: "health", description: "Probes for supervisors and load balancers." },
    ],
    paths,
    components: {
      schemas,
      headers: HEADERS,
      securitySchemes: {
        [SECURITY_SCHEME]: { type: "http", scheme: "bearer", description: "One of the keys in `API_KEYS`." },
        ...(options.apiKeys && !options.publicReads
          ? {
              [SIGNED_URL_SCHEME]: {
                type: "apiKey",
                in: "query",
                name: "signature",
                description: `The \`signature\` (with its \`expires\`) of an image URL taken from a record; such a URL lives ${SIGNED_URL_WINDOW_SECONDS / 3600} to ${(2 * SIGNED_URL_WINDOW_SECONDS) / 3600} hours.`,
              },
            }
          : {}),
      },
    },
  };
}
