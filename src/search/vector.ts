import type { Database } from "../db/client.ts";
import { vectorCandidates, type CandidateFilters, type VectorCandidate } from "../db/search.ts";
import { SPAN, type Telemetry } from "../telemetry/index.ts";

/** One vector-branch request. */
export interface VectorBranchInput {
  model: string;
  dimensions: number;
  vector: number[];
  k: number;
  efSearch: number;
  filters: CandidateFilters;
}

/**
 * `search.vector`: cosine top-k over the model's HNSW index, filters inside the query (iterative
 * scan), `ef_search` at least k.
 *
 * @example
 * const hits = await vectorBranch({ db, telemetry }, { model, dimensions: 100, vector, k: 30, efSearch: 80, filters: {} });
 */
export async function vectorBranch(deps: { db: Database; telemetry: Telemetry }, input: VectorBranchInput): Promise<VectorCandidate[]> {
  const efSearch = Math.max(input.efSearch, input.k);
  return deps.telemetry.tracedSpan(SPAN.searchVector, { "search.k": input.k, "search.ef_search": efSearch, "search.model": input.model }, async (span) => {
    const hits = await vectorCandidates(deps.db.db, { ...input, efSearch });
    span.setAttribute("search.hits", hits.length);
    return hits;
  });
}
