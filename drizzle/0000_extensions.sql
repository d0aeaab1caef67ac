-- pgvector, and the IMMUTABLE helper the generated search_tsv column needs
-- (array_to_string is only STABLE, which a generated column does not accept).
CREATE EXTENSION IF NOT EXISTS vector;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION labels_text(labels text[]) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN coalesce(array_to_string(labels, ' '), '');
