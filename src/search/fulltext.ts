import type { Database } from "../db/client.ts";
import { fulltextCandidates, type CandidateFilters, type FulltextCandidate } from "../db/search.ts";
import { SPAN, type Telemetry } from "../telemetry/index.ts";
import { normalizeQuery } from "./expand.ts";

/** Words `websearch_to_tsquery` reads as operators rather than as words. */
const OPERATOR_WORDS = new Set(["or", "and", "not"]);

/**
 * The `websearch_to_tsquery` input for a set of words: each reduced to letters and digits and
 * OR'ed, so tsquery or SQL syntax in user text (`'`, `&`, `|`, `!`, `:*`, `-`, quotes) is only
 * ever searched as plain words. Empty when no word is left.
 *
 * @example
 * fulltextInput(["red & car", "automobile", "it's"]) // "red or car or automobile or it or s"
 */
export function fulltextInput(words: readonly string[]): string {
  const unique = new Set<string>();
  for (const w of words) for (const part of normalizeQuery(w).split(" ")) if (part && !OPERATOR_WORDS.has(part)) unique.add(part);
  return [...unique].join(" or ");
}

/**
 * `search.fulltext`: `websearch_to_tsquery('english')` over the weighted tsvector (caption A,
 * labels B, category C), ranked by `ts_rank_cd`; the original words and the expansion OR'ed.
 *
 * @example
 * const hits = await fulltextBranch({ db, telemetry }, { words: ["red", "car", "automobile"], k: 30, filters: {} });
 */
export async function fulltextBranch(
  deps: { db: Database; telemetry: Telemetry },
  input: { words: readonly string[]; k: number; filters: CandidateFilters },
): Promise<{ hits: FulltextCandidate[]; tsInput: string }> {
  const tsInput = fulltextInput(input.words);
  return deps.telemetry.tracedSpan(SPAN.searchFulltext, { "search.k": input.k, "search.fulltext.words": tsInput === "" ? 0 : tsInput.split(" or ").length }, async (span) => {
    const hits = tsInput === "" ? [] : await fulltextCandidates(deps.db.db, { query: tsInput, k: input.k, filters: input.filters });
    span.setAttribute("search.hits", hits.length);
    return { hits, tsInput };
  });
}
