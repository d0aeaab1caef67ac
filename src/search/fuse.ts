import type { CandidateImage, FulltextCandidate, VectorCandidate } from "../db/search.ts";
import { SPAN, type Telemetry } from "../telemetry/index.ts";

/** Reciprocal Rank Fusion settings (per request, within bounds, or from settings). */
export interface FusionSettings {
  /** RRF constant: larger flattens the rank curve. */
  k: number;
  weights: { text: number; vector: number };
  /** Each branch fetches `limit × overfetch` candidates. */
  overfetch: number;
}

/** One list's view of a candidate: its 1-based rank and raw score. */
export interface BranchComponent {
  rank: number;
  /** Text: `ts_rank`; vector: cosine similarity (1 − distance); a signal: its own score. */
  score: number;
}

/** Each fused list's view of a candidate, by list name (`text`, `vector`, and any extra signal). */
export type FusionComponents = { text?: BranchComponent; vector?: BranchComponent } & { [list: string]: BranchComponent | undefined };

/** One ranked list Reciprocal Rank Fusion adds up: a retrieval branch or a signal over the candidates. */
export interface RankedList {
  /** Its key in `components`. */
  name: string;
  weight: number;
  /** Best first; `weight` scales the list's weight for one hit (default 1). */
  hits: readonly { id: string; score: number; weight?: number }[];
}

/**
 * How much a full-text hit that matched only words the expansion added (tier 3) counts, as a share
 * of one query word: such a row holds none of the user's own words, so it weighs
 * EXPANSION_ONLY_WEIGHT / (number of query words) of a real match. Without this, a synonym of one
 * word of a long query ("little" → "small" in "little boy or girl outdoors") pulled unrelated
 * images above the vector branch's best (measured on the demo evaluation: nDCG@10 0.43 instead of
 * 1 for that query).
 */
export const EXPANSION_ONLY_WEIGHT = 0.5;

function textWeight(hit: FulltextCandidate, queryWords: number): number {
  return hit.tier === 3 ? EXPANSION_ONLY_WEIGHT / Math.max(1, queryWords) : 1;
}

/**
 * An extra fusion signal: ranks the retrieved candidates by something of their own (for example
 * how well a palette matches a colour word in the query: `colorMatch(...).signal(weight)`), and is
 * fused like a branch with its own weight. Candidates it leaves out get nothing from it. The span
 * says `search.weight.<name>` and how many it ranked, `search.<name>.boosted`.
 *
 * @example
 * const warm: CandidateSignal = { name: "warmth", weight: 0.5, rank: (images) => images.map((i) => ({ id: i.id, score: warmth(i.hexColors) })).sort((a, b) => b.score - a.score) };
 */
export interface CandidateSignal {
  name: string;
  weight: number;
  rank(candidates: readonly CandidateImage[]): { id: string; score: number }[];
}

/** A candidate after fusion, with its stored record (loaded by the branch that found it). */
export interface FusedCandidate {
  id: string;
  /** Σ weight / (k + rank) over the lists that ranked it. */
  fused: number;
  components: FusionComponents;
  image: CandidateImage;
}


/**
 * Weighted Reciprocal Rank Fusion: score = Σ w / (k + rank) over the lists. Ties (two lists that
 * disagree symmetrically give equal sums: ranks 1 and 2 against 2 and 1) go to the better single
 * rank, then to the larger sum of the candidate's scores each relative to its list's best
 * (w · score / best), then to the id, so the order is deterministic and does not depend on the
 * order the images were stored in.
 *
 * @example
 * reciprocalRankFusion([{ name: "text", weight: 1, hits: [{ id: "a", score: 0.3 }] }, { name: "vector", weight: 1, hits: [{ id: "a", score: 0.9 }, { id: "b", score: 0.8 }] }], 60);
 * // [{ id: "a", fused: 2/61, ... }, { id: "b", fused: 1/62, ... }]
 */
export function reciprocalRankFusion(lists: readonly RankedList[], k: number): { id: string; fused: number; components: FusionComponents }[] {
  const byId = new Map<string, { id: string; fused: number; components: FusionComponents; best: number; share: number }>();
  for (const list of lists) {
    let top = 0;
    for (const hit of list.hits) if (hit.score > top) top = hit.score;
    for (let i = 0; i < list.hits.length; i++) {
      const hit = list.hits[i]!;
      let entry = byId.get(hit.id);
      if (!entry) byId.set(hit.id, (entry = { id: hit.id, fused: 0, components: {}, best: Infinity, share: 0 }));
      if (entry.components[list.name]) continue;
      entry.components[list.name] = { rank: i + 1, score: hit.score };
      const weight = list.weight * (hit.weight ?? 1);
      entry.fused += weight / (k + i + 1);
      if (top > 0) entry.share += (weight * Math.max(0, hit.score)) / top;
      if (i + 1 < entry.best) entry.best = i + 1;
    }
  }
  const out = [...byId.values()].sort((a, b) => b.fused - a.fused || a.best - b.best || b.share - a.share || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return out.map(({ id, fused, components }) => ({ id, fused, components }));
}

/**
 * `search.fuse`: fuses the branches (text ranked by `ts_rank`, vector by distance) and any
 * extra `signals` over their candidates, drops the candidates `keep` rejects (the colour filter,
 * which runs here over the over-fetched candidates because palettes are compared in CIEDE2000,
 * not in SQL), and keeps the best `limit`. Pure computation over the records the branches
 * loaded: no database call.
 *
 * @example
 * const fused = await fuseStage({ telemetry }, { text, vector, settings, limit: 30 });
 */
export async function fuseStage(
  deps: { telemetry: Telemetry },
  input: {
    text: readonly FulltextCandidate[];
    vector: readonly VectorCandidate[];
    settings: FusionSettings;
    /** A palette filter, applied to every fused candidate. */
    keep?: (hexColors: readonly string[]) => boolean;
    /** Extra ranked signals over the candidates (see CandidateSignal). */
    signals?: readonly CandidateSignal[];
    /** Keep only the best this many (after `keep`; default: all). */
    limit?: number;
    /** How many words the query has (weighs partial full-text matches; default 1). */
    queryWords?: number;
  },
): Promise<FusedCandidate[]> {
  const { settings } = input;
  return deps.telemetry.tracedSpan(
    SPAN.searchFuse,
    { "search.rrf_k": settings.k, "search.weight.text": settings.weights.text, "search.weight.vector": settings.weights.vector },
    async (span) => {
      const images = new Map<string, CandidateImage>();
      for (const hit of input.text) images.set(hit.id, hit.image);
      for (const hit of input.vector) images.set(hit.id, hit.image);
      const lists: RankedList[] = [
        { name: "text", weight: settings.weights.text, hits: input.text.map((h) => ({ id: h.id, score: h.rank, weight: textWeight(h, input.queryWords ?? 1) })) },
        { name: "vector", weight: settings.weights.vector, hits: input.vector.map((h) => ({ id: h.id, score: 1 - h.distance })) },
      ];
      for (const signal of input.signals ?? []) {
        const hits = signal.rank([...images.values()]);
        lists.push({ name: signal.name, weight: signal.weight, hits });
        span.setAttributes({ [`search.weight.${signal.name}`]: signal.weight, [`search.${signal.name}.boosted`]: hits.length });
      }
      const out: FusedCandidate[] = [];
      const limit = input.limit ?? Infinity;
      for (const f of reciprocalRankFusion(lists, settings.k)) {
        if (out.length >= limit) break;
        const image = images.get(f.id);
        if (!image || (input.keep && !input.keep(image.hexColors))) continue;
        out.push({ ...f, image });
      }
      span.setAttributes({ "search.fused": images.size, "search.kept": out.length });
      return out;
    },
  );
}
