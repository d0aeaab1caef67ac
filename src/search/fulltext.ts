import { and, eq, ne, sql, type SQL } from "drizzle-orm";
import type { Database, Db } from "../db/client.ts";
import { guard } from "../db/errors.ts";
import { isUuid } from "../db/ids.ts";
import { images } from "../db/schema.ts";
import type { CandidateFilters, FulltextCandidate } from "../db/search.ts";
import { SPAN, type Telemetry } from "../telemetry/index.ts";
import { normalizeQuery } from "./expand.ts";

/** Words `websearch_to_tsquery` reads as operators rather than as words. */
const OPERATOR_WORDS = new Set(["or", "and", "not"]);

/**
 * At most this many matching rows are ranked per tier (and at least 5 per wanted candidate):
 * `ts_rank_cd` reads every ranked row's tsvector, so a common word over 100k images would
 * otherwise rank thousands of rows per query.
 */
export const RANKED_ROWS_CAP = 200;

function words(input: readonly string[]): string[] {
  const unique = new Set<string>();
  for (const w of input) for (const part of normalizeQuery(w).split(" ")) if (part && !OPERATOR_WORDS.has(part)) unique.add(part);
  return [...unique];
}

/**
 * The `websearch_to_tsquery` input for a set of words: each reduced to letters and digits and
 * OR'ed, so tsquery or SQL syntax in user text (`'`, `&`, `|`, `!`, `:*`, `-`, quotes) is only
 * ever searched as plain words. Empty when no word is left.
 *
 * @example
 * fulltextInput(["red & car", "automobile", "it's"]) // "red or car or automobile or it or s"
 */
export function fulltextInput(input: readonly string[]): string {
  return words(input).join(" or ");
}

/** The same words AND'ed (web-search default): rows holding every word. */
function allWordsInput(input: readonly string[]): string {
  return words(input).join(" ");
}

function filterConditions(filters: CandidateFilters): SQL[] {
  const where: SQL[] = [];
  if (filters.category) where.push(eq(images.category, filters.category));
  if (filters.role) where.push(eq(images.role, filters.role));
  if (isUuid(filters.excludeId)) where.push(ne(images.id, filters.excludeId));
  return where;
}

/**
 * Ranks at most `cap` rows matching `match` by `ts_rank_cd` against `rankBy` (weighted tsvector:
 * caption A, labels B, category C), best first.
 */
async function rankedMatches(db: Db, match: string, rankBy: string, filters: CandidateFilters, k: number, cap: number, skip: ReadonlySet<string>) {
  const where = and(sql`search_tsv @@ websearch_to_tsquery('english', ${match})`, ...filterConditions(filters));
  const result = await guard(() =>
    db.execute<{ id: string; rank: number }>(sql`
      with matches as (select ${images.id} as id, ${images.searchTsv} as tsv from ${images} where ${where} limit ${cap})
      select id, ts_rank_cd(tsv, websearch_to_tsquery('english', ${rankBy})) as rank
      from matches order by rank desc, id limit ${k + skip.size}`),
  );
  const rows = (result as unknown as { rows: { id: string; rank: number }[] }).rows.map((r) => ({ id: r.id, rank: Number(r.rank) }));
  return rows.filter((r) => !skip.has(r.id)).slice(0, k);
}

/**
 * `search.fulltext`: `websearch_to_tsquery('english')` over the weighted, GIN-indexed tsvector,
 * ranked with `ts_rank_cd` against the original words OR'ed with the expansion. In two bounded
 * tiers: first rows holding every original word; then, only if those are fewer than `k`, rows
 * holding any original or expanded word. Each tier ranks at most `max(RANKED_ROWS_CAP, 5·k)`
 * matching rows (taken in index order), which keeps a common word over 100k images cheap. Both
 * tiers run in one transaction with `SET LOCAL enable_seqscan = off`: under that `LIMIT` the
 * planner otherwise picks a sequential scan that reads all 100k rows when the words are rare.
 *
 * @example
 * const { hits } = await fulltextBranch({ db, telemetry }, { original: ["red", "car"], expanded: ["automobile"], k: 30, filters: {} });
 */
export async function fulltextBranch(
  deps: { db: Database; telemetry: Telemetry },
  input: { original: readonly string[]; expanded: readonly string[]; k: number; filters: CandidateFilters },
): Promise<{ hits: FulltextCandidate[]; tsInput: string }> {
  const tsInput = fulltextInput([...input.original, ...input.expanded]);
  const allOriginal = allWordsInput(input.original);
  const cap = Math.max(RANKED_ROWS_CAP, 5 * input.k);
  return deps.telemetry.tracedSpan(SPAN.searchFulltext, { "search.k": input.k, "search.fulltext.words": tsInput === "" ? 0 : tsInput.split(" or ").length, "search.fulltext.cap": cap }, async (span) => {
    if (tsInput === "") return { hits: [], tsInput };
    const { hits, tiers } = await guard(() =>
      deps.db.db.transaction(async (tx) => {
        const db = tx as unknown as Db;
        await db.execute(sql`select set_config('enable_seqscan', 'off', true)`);
        const found: FulltextCandidate[] = allOriginal === "" ? [] : await rankedMatches(db, allOriginal, tsInput, input.filters, input.k, cap, new Set());
        if (found.length >= input.k || tsInput === allOriginal) return { hits: found, tiers: 1 };
        const seen = new Set(found.map((h) => h.id));
        found.push(...(await rankedMatches(db, tsInput, tsInput, input.filters, input.k - found.length, cap, seen)));
        return { hits: found, tiers: 2 };
      }),
    );
    span.setAttributes({ "search.hits": hits.length, "search.fulltext.tiers": tiers });
    return { hits, tsInput };
  });
}
