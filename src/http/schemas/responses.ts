/**
 * What the routes answer: one zod schema per JSON answer, the source of both the routes' return
 * types (a field added to or dropped from a record view without changing its schema fails the
 * type check) and the OpenAPI document's response schemas. Objects are plain `z.object`, never
 * `.strict()`: the HTTP contract says fields may be added, so the document lists the required
 * fields and leaves the others open.
 */
import { z } from "zod";
import { GENERATION_STATUSES, IMAGE_ROLES } from "../../db/schema.ts";
import { DEGRADABLE_STAGES } from "../../search/degraded.ts";
import { UPLOAD_FIELDS } from "../../ingest/store.ts";

const hexColor = z.string().regex(/^#[0-9a-f]{6}$/).describe("`#rrggbb`");
const palette = z.array(hexColor).max(5).describe("up to 5 colours, most dominant first");
const timestamp = z.iso.datetime();
/** How image URLs read when every read needs a key (`src/http/signed-urls.ts`). */
const SIGNED = "; with `API_KEYS` and `PUBLIC_READS=false`, signed (`?expires=…&signature=…`) so it opens without a key for one to two hours";
/** Where a model-backed stage's answer came from. */
const modelSource = z.enum(["offline", "gemini"]);

/**
 * Every error answer: `{"error": {"code", "message", "details"?}}`.
 *
 * @example
 * ErrorBody.parse({ error: { code: "not_found", message: "no image with id 42" } });
 */
export const ErrorBody = z.object({
  error: z.object({
    code: z.string().describe("stable and machine-readable, e.g. `invalid_request`, `not_found`, `rate_limited`"),
    message: z.string().describe("what went wrong, for a person; at most 300 characters"),
    details: z.record(z.string(), z.unknown()).optional().describe("ids to follow up with, e.g. a failed generation's `generationId`"),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/**
 * `GET /health`.
 *
 * @example
 * c.json({ status: "ok" } satisfies Liveness);
 */
export const Liveness = z.object({ status: z.literal("ok") });
export type Liveness = z.infer<typeof Liveness>;

/**
 * `GET /health/ready`: `ready` with 200, any other state with 503.
 *
 * @example
 * c.json({ status: "draining" } satisfies Readiness, 503);
 */
export const Readiness = z.object({ status: z.enum(["ready", "draining", "starting", "database_unavailable"]) });
export type Readiness = z.infer<typeof Readiness>;

/**
 * A stored image, as `POST /api/images`, `GET /api/images/:id`, list pages and search hits show it.
 *
 * @example
 * export function imageRecord(row: ImageRow): ImageRecord { ... }
 */
export const ImageRecord = z.object({
  id: z.uuid(),
  width: z.int().positive(),
  height: z.int().positive(),
  mimeType: z.string(),
  byteSize: z.int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  hexColors: palette,
  labels: z.array(z.string()),
  caption: z.string().nullable(),
  category: z.string().nullable().describe("a slug, e.g. `natural-light`"),
  role: z.enum(IMAGE_ROLES),
  originalName: z.string().nullable(),
  url: z.string().describe(`the stored bytes (\`/api/images/{id}/file\`)${SIGNED}`),
  thumbnailUrl: z.string().describe(`a WebP thumbnail (\`/api/images/{id}/thumbnail\`)${SIGNED}`),
  createdAt: timestamp,
});
export type ImageRecord = z.infer<typeof ImageRecord>;

/**
 * The answer of `POST /api/images`: the record, and whether these bytes were stored already
 * (then the stored record is unchanged and `notApplied` names the submitted fields it kept).
 *
 * @example
 * const answer: UploadAnswer = { ...imageRecord(row), duplicate: true, notApplied: ["caption"] };
 */
export const UploadAnswer = ImageRecord.extend({
  duplicate: z.boolean(),
  notApplied: z.array(z.enum(UPLOAD_FIELDS)).optional().describe("duplicates only: submitted fields whose values differ from the stored ones"),
  degraded: z.array(z.string()).optional().describe("stages whose model failed or timed out (`ingest.label`, `ingest.embed`); the image is stored without their output, `bun run backfill` adds it later"),
});
export type UploadAnswer = z.infer<typeof UploadAnswer>;

/**
 * A cursor page of `item`: pass `nextCursor` back as `cursor`; null on the last page.
 *
 * @example
 * const ImagePage = page(ImageRecord);
 */
export function page<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

/**
 * `GET /api/images`.
 *
 * @example
 * c.json({ items: rows.map(imageRecord), nextCursor } satisfies ImagePage);
 */
export const ImagePage = page(ImageRecord);
export type ImagePage = z.infer<typeof ImagePage>;

/** The most categories `GET /api/categories` lists. */
export const MAX_CATEGORIES = 500;

/**
 * `GET /api/categories`: the categories in use, by name, with how many images each holds.
 *
 * @example
 * c.json({ items: await listCategories(db) } satisfies CategoryList);
 */
export const CategoryList = z.object({
  items: z
    .array(z.object({ category: z.string().describe("a slug, as `GET /api/images?category=` takes it"), count: z.int().positive() }))
    .describe(`by name; at most ${MAX_CATEGORIES}`),
});
export type CategoryList = z.infer<typeof CategoryList>;

const BranchComponent = z.object({
  rank: z.int().min(1).describe("1-based rank within the branch"),
  score: z.number().describe("text: `ts_rank`; vector: cosine similarity; color: how well the palette holds the query's colour words (0..1)"),
});

/**
 * One ranked image with each branch's evidence (why it ranked).
 *
 * @example
 * SearchHit.parse(answer.results[0]);
 */
export const SearchHit = z.object({
  id: z.uuid(),
  rank: z.int().min(1),
  score: z.number(),
  image: ImageRecord,
  components: z.object({
    text: BranchComponent.optional(),
    vector: BranchComponent.optional(),
    color: BranchComponent.optional().describe("rank among the candidates whose palette holds the colours the query names"),
    rerank: z
      .object({
        score: z.number(),
        source: modelSource,
        features: z.object({
          coverage: z.number(),
          labels: z.number(),
          phrase: z.number(),
          category: z.number(),
          color: z.number().optional(),
        }),
      })
      .optional(),
  }),
});
export type SearchHit = z.infer<typeof SearchHit>;

/**
 * `POST /api/search` and `GET /api/search`.
 *
 * @example
 * c.json({ results, traceId } satisfies SearchAnswer);
 */
export const SearchAnswer = z.object({
  results: z.array(SearchHit),
  degraded: z
    .array(z.enum(DEGRADABLE_STAGES))
    .describe("stages whose model helper failed, timed out or was not loaded yet, so they fell back to their offline path or were left out; `[]` when none"),
  traceId: z.string().optional().describe("the request's trace id; absent when tracing is off (`OTEL_SDK_DISABLED=true`)"),
  explain: z
    .object({
      query: z.string(),
      terms: z.array(z.string()).describe("every word the full-text branch searched for"),
      fulltextQuery: z.string(),
      expandedQuery: z.object({
        normalized: z.string(),
        terms: z.array(z.string()),
        lemmas: z.array(z.string()),
        synonyms: z.array(z.string()),
        source: modelSource,
        fallbackReason: z.string().optional(),
      }),
      fusion: z.object({ k: z.number(), weights: z.object({ text: z.number(), vector: z.number() }), overfetch: z.number(), branchK: z.number() }),
      rerank: z.object({
        weight: z.number(),
        topN: z.number(),
        source: z.enum([...modelSource.options, "none"]).describe("`none`: left out (the offline word vectors were still loading)"),
        query: z.string(),
        fallbackReason: z.string().optional(),
      }),
      embed: z.object({ fallbackReason: z.string() }).optional().describe("why the query has no vector (the vector branch was left out)"),
      color: z.object({ hex: z.string(), threshold: z.number(), mode: z.string() }).optional(),
      colorWords: z
        .object({
          colors: z.array(z.object({ words: z.string(), name: z.string(), anchors: z.array(z.string()).describe("`keyword #rrggbb`: the CSS colours the word is anchored at") })),
          weight: z.number(),
          threshold: z.number(),
          boosted: z.int().describe("candidates whose palette holds the colours"),
          source: z.string(),
        })
        .optional()
        .describe("the colours the query names, matched against stored palettes as a fusion signal"),
      candidates: z.object({ text: z.int(), vector: z.int(), fused: z.int() }),
      stageMs: z.record(z.string(), z.number()).describe("milliseconds per stage"),
    })
    .optional()
    .describe("with `explain: true`: how the query was read and each stage's cost"),
});
export type SearchAnswer = z.infer<typeof SearchAnswer>;

/**
 * A stored generation, failed ones included (`status: "failed"` with `error`).
 *
 * @example
 * export function generationView(row: GenerationRow): GenerationRecord { ... }
 */
export const GenerationRecord = z.object({
  id: z.uuid(),
  status: z.enum(GENERATION_STATUSES),
  prompt: z.string(),
  builtPrompt: z.string().nullable().describe("the sectioned prompt sent to the model"),
  parameters: z.object({ aspectRatio: z.string().optional(), category: z.string().optional(), seed: z.int().optional() }),
  provider: z.string().describe("`gemini` or `offline`"),
  model: z.string(),
  imageUrl: z.string().nullable().describe(`\`/api/generations/{id}/image\` once succeeded${SIGNED}`),
  references: z.array(z.object({ id: z.uuid(), role: z.enum(IMAGE_ROLES) })).describe("the reference images injected into the prompt"),
  hexColors: palette,
  error: z.object({ kind: z.string().nullable(), message: z.string().nullable() }).nullable().describe("set when failed"),
  latencyMs: z.int().nullable(),
  usage: z.object({ inputTokens: z.int().nullable(), outputTokens: z.int().nullable() }),
  traceId: z.string().nullable(),
  createdAt: timestamp,
  completedAt: timestamp.nullable(),
});
export type GenerationRecord = z.infer<typeof GenerationRecord>;

/**
 * `GET /api/generations`, newest first.
 *
 * @example
 * c.json({ items: rows.map(generationView), nextCursor } satisfies GenerationPage);
 */
export const GenerationPage = page(GenerationRecord);
export type GenerationPage = z.infer<typeof GenerationPage>;

/**
 * `POST /api/generate` (201): the new generation, in short.
 *
 * @example
 * c.json({ ...fields } satisfies GenerateAnswer, 201);
 */
export const GenerateAnswer = GenerationRecord.pick({
  id: true,
  status: true,
  provider: true,
  model: true,
  imageUrl: true,
  references: true,
  hexColors: true,
  traceId: true,
}).extend({ seed: z.int().optional().describe("pass it back as `seed` to render the same image again") });
export type GenerateAnswer = z.infer<typeof GenerateAnswer>;
