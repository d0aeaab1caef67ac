import { sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { guard } from "./errors.ts";
import { searchVocabulary, searchVocabularyVersion } from "./schema.ts";

/** The corpus vocabulary at one version; `words` only when the version differs from the one the caller has. */
export interface VocabularySnapshot {
  version: string;
  words?: string[];
}

/**
 * The vocabulary's version and, when it is not `known`, its words — one statement, so checking
 * for another process's writes costs one round trip and reading the words nothing more.
 *
 * @example
 * const { version, words } = await vocabularySnapshot(db, lastVersion); // words: undefined when unchanged
 */
export async function vocabularySnapshot(db: Db, known?: string): Promise<VocabularySnapshot> {
  const version = sql`(select last_value::text from ${sql.identifier(searchVocabularyVersion.seqName!)})`;
  const result = await guard(() =>
    db.execute(sql`
      select ${version} as version,
             case when ${version} is distinct from ${known ?? null}::text then (select coalesce(array_agg(${searchVocabulary.word}), '{}') from ${searchVocabulary}) end as words`),
  );
  const row = (result as unknown as { rows: { version: string; words: string[] | null }[] }).rows[0]!;
  return { version: String(row.version), words: row.words ?? undefined };
}
