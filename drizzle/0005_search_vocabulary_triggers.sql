-- search_vocabulary is kept by statement-level triggers on images (one set-based upsert per
-- statement, so a bulk insert of 1,000 rows costs one aggregate, not 1,000 upserts), whichever
-- process writes. Words are upserted in sorted order so concurrent writers lock rows in the same
-- order and cannot deadlock.
CREATE OR REPLACE FUNCTION image_search_words(caption text, labels text[], category text) RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN tsvector_to_array(to_tsvector('simple'::regconfig, coalesce(caption, '') || ' ' || labels_text(labels) || ' ' || coalesce(category, '')));
--> statement-breakpoint
CREATE OR REPLACE FUNCTION search_vocabulary_sync() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  words text[];
  counts int[];
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM search_vocabulary;
    PERFORM nextval('search_vocabulary_version');
    RETURN NULL;
  END IF;
  -- Each branch names only the transition tables its event has (plpgsql plans a statement when it first runs).
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(w ORDER BY w), array_agg(n ORDER BY w) INTO words, counts
      FROM (SELECT w, count(*)::int AS n FROM new_rows, unnest(image_search_words(new_rows.caption, new_rows.labels, new_rows.category)) AS w GROUP BY w) d;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(w ORDER BY w), array_agg(n ORDER BY w) INTO words, counts
      FROM (SELECT w, -count(*)::int AS n FROM old_rows, unnest(image_search_words(old_rows.caption, old_rows.labels, old_rows.category)) AS w GROUP BY w) d;
  ELSE
    SELECT array_agg(w ORDER BY w), array_agg(n ORDER BY w) INTO words, counts
      FROM (
        SELECT w, sum(n)::int AS n FROM (
          SELECT w, 1 AS n FROM new_rows, unnest(image_search_words(new_rows.caption, new_rows.labels, new_rows.category)) AS w
          UNION ALL
          SELECT w, -1 AS n FROM old_rows, unnest(image_search_words(old_rows.caption, old_rows.labels, old_rows.category)) AS w
        ) changes GROUP BY w HAVING sum(n) <> 0
      ) d;
  END IF;
  IF words IS NULL THEN
    RETURN NULL;
  END IF;
  INSERT INTO search_vocabulary AS v (word, documents)
    SELECT w, n FROM unnest(words, counts) AS c(w, n) ORDER BY w
    ON CONFLICT (word) DO UPDATE SET documents = v.documents + excluded.documents;
  DELETE FROM search_vocabulary WHERE word = ANY (words) AND documents <= 0;
  PERFORM nextval('search_vocabulary_version');
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER images_search_vocabulary_insert AFTER INSERT ON images REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_vocabulary_sync();
--> statement-breakpoint
CREATE TRIGGER images_search_vocabulary_update AFTER UPDATE ON images REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_vocabulary_sync();
--> statement-breakpoint
CREATE TRIGGER images_search_vocabulary_delete AFTER DELETE ON images REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION search_vocabulary_sync();
--> statement-breakpoint
CREATE TRIGGER images_search_vocabulary_truncate AFTER TRUNCATE ON images FOR EACH STATEMENT EXECUTE FUNCTION search_vocabulary_sync();
--> statement-breakpoint
-- The images stored before this migration.
INSERT INTO search_vocabulary (word, documents)
  SELECT w, count(*)::int FROM images, unnest(image_search_words(caption, labels, category)) AS w GROUP BY w
  ON CONFLICT (word) DO NOTHING;
--> statement-breakpoint
SELECT nextval('search_vocabulary_version');
