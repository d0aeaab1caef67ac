CREATE TABLE "generations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"prompt" text NOT NULL,
	"built_prompt" text,
	"parameters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"error_kind" text,
	"error_message" text,
	"output_key" text,
	"hex_colors" text[] DEFAULT '{}'::text[] NOT NULL,
	"references" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"latency_ms" integer,
	"input_tokens" integer,
	"output_tokens" integer,
	"trace_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp (3) with time zone,
	CONSTRAINT "generations_status_check" CHECK ("generations"."status" in ('running', 'succeeded', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "image_embeddings" (
	"image_id" uuid NOT NULL,
	"model" text NOT NULL,
	"dimensions" integer NOT NULL,
	"embedding" vector NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "image_embeddings_pkey" PRIMARY KEY("image_id","model"),
	CONSTRAINT "image_embeddings_dimensions_check" CHECK (vector_dims("image_embeddings"."embedding") = "image_embeddings"."dimensions")
);
--> statement-breakpoint
CREATE TABLE "images" (
	"id" uuid PRIMARY KEY NOT NULL,
	"storage_key" text NOT NULL,
	"original_name" text,
	"mime_type" text NOT NULL,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"byte_size" integer NOT NULL,
	"sha256" text NOT NULL,
	"caption" text,
	"labels" text[] DEFAULT '{}'::text[] NOT NULL,
	"category" text,
	"role" text DEFAULT 'corpus' NOT NULL,
	"hex_colors" text[] DEFAULT '{}'::text[] NOT NULL,
	"search_tsv" "tsvector" GENERATED ALWAYS AS (setweight(to_tsvector('english'::regconfig, coalesce(caption, '')), 'A') || setweight(to_tsvector('english'::regconfig, labels_text(labels)), 'B') || setweight(to_tsvector('english'::regconfig, coalesce(category, '')), 'C')) STORED,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "images_role_check" CHECK ("images"."role" in ('corpus', 'tone-ref', 'angle-ref')),
	CONSTRAINT "images_size_check" CHECK ("images"."width" > 0 and "images"."height" > 0 and "images"."byte_size" >= 0)
);
--> statement-breakpoint
ALTER TABLE "image_embeddings" ADD CONSTRAINT "image_embeddings_image_id_images_id_fk" FOREIGN KEY ("image_id") REFERENCES "public"."images"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "generations_created_at_id_idx" ON "generations" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "generations_status_idx" ON "generations" USING btree ("status");--> statement-breakpoint
CREATE INDEX "image_embeddings_wink_sg_100d_hnsw" ON "image_embeddings" USING hnsw ((embedding::vector(100)) vector_cosine_ops) WITH (m=16,ef_construction=64) WHERE model = 'wink-sg-100d';--> statement-breakpoint
CREATE INDEX "image_embeddings_gemini_embedding_001_hnsw" ON "image_embeddings" USING hnsw ((embedding::vector(768)) vector_cosine_ops) WITH (m=16,ef_construction=64) WHERE model = 'gemini-embedding-001';--> statement-breakpoint
CREATE UNIQUE INDEX "images_sha256_key" ON "images" USING btree ("sha256");--> statement-breakpoint
CREATE INDEX "images_created_at_id_idx" ON "images" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "images_category_idx" ON "images" USING btree ("category");--> statement-breakpoint
CREATE INDEX "images_role_created_at_idx" ON "images" USING btree ("role","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "images_search_tsv_idx" ON "images" USING gin ("search_tsv");