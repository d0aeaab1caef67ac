import type { Database } from "../db/client.ts";
import { fulltextCandidates, RANKED_ROWS_CAP, type CandidateFilters, type FulltextCandidate } from "../db/search.ts";
import { SPAN, type Telemetry } from "../telemetry/index.ts";
import { normalizeQuery } from "./expand.ts";

/** Words `websearch_to_tsquery` reads as operators rather than as words. */
const OPERATOR_WORDS = new Set(["or", "and", "not"]);

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

/**
 * `search.fulltext`: `websearch_to_tsquery('english')` over the weighted, GIN-indexed tsvector,
 * ranked with `ts_rank` against the original words OR'ed with the expansion, in bounded tiers of
 * one statement: first rows holding every original word; then, only if those are fewer than `k`,
 * rows holding any original or expanded word — those with an original word first (tier 2), then
 * those matched by the expansion alone (tier 3, which fusion weighs less). Each tier ranks at most
 * `max(RANKED_ROWS_CAP, 5·k)` matching rows, which keeps a common word over 100k images cheap.
 * The candidates come with their records.
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
    const hits = await fulltextCandidates(deps.db.db, { query: allOriginal, widen: tsInput, rankBy: tsInput, prefer: fulltextInput(input.original), k: input.k, cap, filters: input.filters });
    // The second tier is searched when the first has fewer than k rows and the expansion adds words.
    const tiers = hits.filter((h) => h.tier === 1).length >= input.k || tsInput === allOriginal ? 1 : 2;
    span.setAttributes({ "search.hits": hits.length, "search.fulltext.tiers": tiers });
    return { hits, tsInput };
  });
}
