import { sql } from "drizzle-orm";
import {
  check,
  customType,
  index,
  integer,
  jsonb,
  pgSequence,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/**
 * A pgvector `vector` column without a fixed dimension, so models of different sizes share one
 * table; each model's HNSW index casts to its own size (`embedding::vector(N)`). Drizzle's built-in
 * `vector` always writes `vector(N)`, hence this custom type.
 *
 * @example
 * embedding: vector("embedding").notNull()
 */
export const vector = customType<{ data: number[]; driverData: string }>({
  dataType: () => "vector",
  toDriver: (value) => `[${value.join(",")}]`,
  fromDriver: (value) => (typeof value === "string" ? (JSON.parse(value) as number[]) : (value as number[])),
});

/**
 * A Postgres `tsvector`, read back as its text form.
 *
 * @example
 * searchTsv: tsvector("search_tsv")
 */
export const tsvector = customType<{ data: string; driverData: string }>({
  dataType: () => "tsvector",
});

/**
 * The pools an image belongs to: search corpus, or the references generation draws from.
 *
 * @example
 * z.enum(IMAGE_ROLES).default("corpus")
 */
export const IMAGE_ROLES = ["corpus", "tone-ref", "angle-ref"] as const;
export type ImageRole = (typeof IMAGE_ROLES)[number];

/**
 * Lifecycle of a generation row; a failed generation is kept with its error.
 *
 * @example
 * GENERATION_STATUSES.includes(row.status)
 */
export const GENERATION_STATUSES = ["running", "succeeded", "failed"] as const;
export type GenerationStatus = (typeof GENERATION_STATUSES)[number];

/**
 * Embedding models that have their own HNSW index. Other models still work (exact scan).
 * `m = 16, ef_construction = 64` (pgvector's defaults): on 100k clustered 100-d vectors they give
 * mean recall@20 0.99 at `ef_search` 80, also with a filter keeping 5% of rows (bench/db-vectors.ts).
 * A denser graph (m = 24/32, ef_construction = 128) would lift the rare worst-case query but costs
 * roughly 1.5–2x build time and memory in PGlite's single-threaded build (~180 s for 100k rows
 * already), for a gain this corpus size does not need; raise `ef_search` first.
 *
 * @example
 * const indexed = INDEXED_EMBEDDINGS.some((e) => e.model === embedder.model);
 */
export const INDEXED_EMBEDDINGS = [
  { model: "wink-sg-100d", dimensions: 100, index: "image_embeddings_wink_sg_100d_hnsw" },
  { model: "gemini-embedding-001", dimensions: 768, index: "image_embeddings_gemini_embedding_001_hnsw" },
] as const;

/** HNSW graph degree and build candidate list of every embedding index (see INDEXED_EMBEDDINGS). */
export const HNSW_M = 16;
/** See HNSW_M. */
export const HNSW_EF_CONSTRUCTION = 64;

/**
 * Reference images: the bytes live in the blob store under `storageKey`; the same bytes are
 * stored once (`sha256` unique). `searchTsv` is generated: caption (A), labels (B), category (C),
 * WordNet hypernyms (D, which `ts_rank` weighs 0.1 against the caption's 1.0). `labels_text()`
 * is an IMMUTABLE wrapper over `array_to_string` created by the first migration (a generated
 * column may only call immutable functions); it reads a null array as ''.
 *
 * @example
 * const rows = await db.select().from(images).where(eq(images.category, "portrait"));
 */
export const images = pgTable(
  "images",
  {
    id: uuid("id").primaryKey().$defaultFn(() => Bun.randomUUIDv7()),
    storageKey: text("storage_key").notNull(),
    originalName: text("original_name"),
    mimeType: text("mime_type").notNull(),
    width: integer("width").notNull(),
    height: integer("height").notNull(),
    byteSize: integer("byte_size").notNull(),
    sha256: text("sha256").notNull(),
    caption: text("caption"),
    labels: text("labels").array().notNull().default(sql`'{}'::text[]`),
    category: text("category"),
    role: text("role").$type<ImageRole>().notNull().default("corpus"),
    /** `#rrggbb`, most dominant first. */
    hexColors: text("hex_colors").array().notNull().default(sql`'{}'::text[]`),
    /** WordNet hypernyms of the caption's and labels' nouns (src/ingest/hypernyms.ts); null until expanded. */
    hypernyms: text("hypernyms").array(),
    searchTsv: tsvector("search_tsv").generatedAlwaysAs(
      sql`setweight(to_tsvector('english'::regconfig, coalesce(caption, '')), 'A') || setweight(to_tsvector('english'::regconfig, labels_text(labels)), 'B') || setweight(to_tsvector('english'::regconfig, coalesce(category, '')), 'C') || setweight(to_tsvector('english'::regconfig, labels_text(hypernyms)), 'D')`,
    ),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 })
      .notNull()
      .defaultNow()
      .$defaultFn(() => new Date()),
  },
  (t) => [
    uniqueIndex("images_sha256_key").on(t.sha256),
    // The listing order (`newestFirst` in cursor.ts): DESC is NULLS FIRST in Postgres, and an
    // index with other nulls placement cannot serve it (the table would be sorted instead).
    index("images_created_at_id_idx").on(t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index("images_category_created_at_idx").on(t.category, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index("images_role_created_at_idx").on(t.role, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index("images_role_category_created_at_idx").on(t.role, t.category, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index("images_search_tsv_idx").using("gin", t.searchTsv),
    check("images_role_check", sql`${t.role} in ('corpus', 'tone-ref', 'angle-ref')`),
    check("images_size_check", sql`${t.width} > 0 and ${t.height} > 0 and ${t.byteSize} >= 0`),
  ],
);

/**
 * One embedding per (image, model): an offline 100-d model and a 768-d Gemini model side by side.
 * The primary key (image_id, model) also serves the foreign key on image_id.
 *
 * @example
 * await db.insert(imageEmbeddings).values({ imageId, model: "wink-sg-100d", dimensions: 100, embedding });
 */
export const imageEmbeddings = pgTable(
  "image_embeddings",
  {
    imageId: uuid("image_id")
      .notNull()
      .references(() => images.id, { onDelete: "cascade" }),
    model: text("model").notNull(),
    dimensions: integer("dimensions").notNull(),
    embedding: vector("embedding").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 })
      .notNull()
      .defaultNow()
      .$defaultFn(() => new Date()),
  },
  (t) => [
    primaryKey({ name: "image_embeddings_pkey", columns: [t.imageId, t.model] }),
    check("image_embeddings_dimensions_check", sql`vector_dims(${t.embedding}) = ${t.dimensions}`),
    ...INDEXED_EMBEDDINGS.map((e) =>
      index(e.index)
        .using("hnsw", sql.raw(`(embedding::vector(${e.dimensions})) vector_cosine_ops`))
        .with({ m: HNSW_M, ef_construction: HNSW_EF_CONSTRUCTION })
        .where(sql.raw(`model = '${e.model}'`)),
    ),
  ],
);

/**
 * The words of the searchable text of all images (caption, labels, category, split by the
 * `simple` text-search configuration: lowercase, not stemmed) and how many images hold each.
 * Triggers on `images` keep it (`search_vocabulary_*` in the migrations), whoever writes: query
 * expansion offers only these words, since a synonym no caption holds can match nothing.
 *
 * @example
 * const words = await db.select({ word: searchVocabulary.word }).from(searchVocabulary);
 */
export const searchVocabulary = pgTable("search_vocabulary", {
  word: text("word").primaryKey(),
  documents: integer("documents").notNull(),
});

/**
 * Moves on every change of `search_vocabulary`, so a service notices another process's writes
 * with one cheap read (`select last_value from search_vocabulary_version`).
 *
 * @example
 * await db.execute(sql`select last_value from ${sql.identifier("search_vocabulary_version")}`);
 */
export const searchVocabularyVersion = pgSequence("search_vocabulary_version");

/** A reference image a generation used, with the pool it came from. */
export interface GenerationReference {
  id: string;
  role: ImageRole;
}

/** What the caller asked for, besides the prompt. */
export interface GenerationParameters {
  aspectRatio?: string;
  category?: string;
  seed?: number;
  [key: string]: unknown;
}

/**
 * Generation attempts, failed ones included (status `failed` with `errorKind`/`errorMessage`).
 *
 * @example
 * const [row] = await db.select().from(generations).where(eq(generations.id, id));
 */
export const generations = pgTable(
  "generations",
  {
    id: uuid("id").primaryKey().$defaultFn(() => Bun.randomUUIDv7()),
    prompt: text("prompt").notNull(),
    builtPrompt: text("built_prompt"),
    parameters: jsonb("parameters").$type<GenerationParameters>().notNull().default({}),
    provider: text("provider").notNull(),
    model: text("model").notNull(),
    status: text("status").$type<GenerationStatus>().notNull().default("running"),
    errorKind: text("error_kind"),
    errorMessage: text("error_message"),
    outputKey: text("output_key"),
    hexColors: text("hex_colors").array().notNull().default(sql`'{}'::text[]`),
    references: jsonb("references").$type<GenerationReference[]>().notNull().default([]),
    latencyMs: integer("latency_ms"),
    inputTokens: integer("input_tokens"),
    outputTokens: integer("output_tokens"),
    traceId: text("trace_id"),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 })
      .notNull()
      .defaultNow()
      .$defaultFn(() => new Date()),
    completedAt: timestamp("completed_at", { withTimezone: true, precision: 3 }),
  },
  (t) => [
    index("generations_created_at_id_idx").on(t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index("generations_status_idx").on(t.status),
    check("generations_status_check", sql`${t.status} in ('running', 'succeeded', 'failed')`),
  ],
);

/** An image as the data functions return it (without the generated `search_tsv`). */
export type ImageRow = Omit<typeof images.$inferSelect, "searchTsv">;
export type NewImage = Omit<typeof images.$inferInsert, "searchTsv">;
export type EmbeddingRow = typeof imageEmbeddings.$inferSelect;
export type GenerationRow = typeof generations.$inferSelect;
export type NewGeneration = typeof generations.$inferInsert;
