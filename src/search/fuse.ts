import type { Database } from "../db/client.ts";
import { getImagesByIds } from "../db/images.ts";
import type { ImageRow } from "../db/schema.ts";
import { palettesByIds, type FulltextCandidate, type VectorCandidate } from "../db/search.ts";
import { SPAN, type Telemetry } from "../telemetry/index.ts";

/** Reciprocal Rank Fusion settings (per request, within bounds, or from settings). */
export interface FusionSettings {
  /** RRF constant: larger flattens the rank curve. */
  k: number;
  weights: { text: number; vector: number };
  /** Each branch fetches `limit × overfetch` candidates. */
  overfetch: number;
}

/** One branch's view of a candidate: its 1-based rank and raw score. */
export interface BranchComponent {
  rank: number;
  /** Text: `ts_rank_cd`; vector: cosine similarity (1 − distance). */
  score: number;
}

/** A candidate after fusion. */
export interface FusedCandidate {
  id: string;
  /** Σ weight / (k + rank) over the branches (and signals) that found it. */
  fused: number;
  /** `color`: the candidate's rank and score among those whose palette holds the query's colour words. */
  components: { text?: BranchComponent; vector?: BranchComponent; color?: BranchComponent };
}

/** A fused signal scored from each candidate's stored palette (the query's colour words). */
export interface PaletteSignal {
  weight: number;
  /** In [0, 1]; candidates scoring 0 are not in the signal's ranked list. */
  score(hexColors: readonly string[]): number;
}

/** A fused candidate with its stored record. */
export interface HydratedCandidate extends FusedCandidate {
  image: ImageRow;
}

/**
 * Weighted Reciprocal Rank Fusion: score = Σ w_b / (k + rank_b). Ties go to the better single
 * rank, then to the id, so the order is deterministic.
 *
 * @example
 * reciprocalRankFusion([{ id: "a", rank: 0.3 }], [{ id: "a", distance: 0.1 }, { id: "b", distance: 0.2 }], { k: 60, weights: { text: 1, vector: 1 }, overfetch: 3 });
 * // [{ id: "a", fused: 2/61, ... }, { id: "b", fused: 1/62, ... }]
 */
export function reciprocalRankFusion(text: readonly FulltextCandidate[], vector: readonly VectorCandidate[], settings: FusionSettings): FusedCandidate[] {
  const byId = new Map<string, FusedCandidate & { best: number }>();
  const entry = (id: string) => {
    let e = byId.get(id);
    if (!e) {
      e = { id, fused: 0, components: {}, best: Infinity };
      byId.set(id, e);
    }
    return e;
  };
  text.forEach((hit, i) => {
    const e = entry(hit.id);
    if (e.components.text) return;
    e.components.text = { rank: i + 1, score: hit.rank };
    e.fused += settings.weights.text / (settings.k + i + 1);
    e.best = Math.min(e.best, i + 1);
  });
  vector.forEach((hit, i) => {
    const e = entry(hit.id);
    if (e.components.vector) return;
    e.components.vector = { rank: i + 1, score: 1 - hit.distance };
    e.fused += settings.weights.vector / (settings.k + i + 1);
    e.best = Math.min(e.best, i + 1);
  });
  return [...byId.values()]
    .sort((a, b) => b.fused - a.fused || a.best - b.best || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map(({ best: _best, ...rest }) => rest);
}

/**
 * Fuses a palette signal into fused candidates as one more ranked list: the candidates with a
 * score above 0, best first, each gaining weight / (k + rank); re-sorted (stable, so ties keep
 * the branches' order).
 *
 * @example
 * const boosted = fusePaletteSignal(fused, palettes, { weight: 1, score: (p) => (p.includes("#ffff00") ? 1 : 0) }, 60);
 */
export function fusePaletteSignal(
  fused: readonly FusedCandidate[],
  palettes: ReadonlyMap<string, readonly string[]>,
  signal: PaletteSignal,
  k: number,
): FusedCandidate[] {
  const scored = fused
    .map((f) => ({ f, score: signal.score(palettes.get(f.id) ?? []) }))
    .filter((s) => s.score > 0)
    .sort((a, b) => b.score - a.score);
  const ranks = new Map(scored.map((s, i) => [s.f.id, { rank: i + 1, score: s.score }]));
  return fused
    .map((f) => {
      const color = ranks.get(f.id);
      return color ? { ...f, fused: f.fused + signal.weight / (k + color.rank), components: { ...f.components, color } } : f;
    })
    .sort((a, b) => b.fused - a.fused);
}

/**
 * `search.fuse`: fuses both branches, loads the records of the best fused candidates, and applies
 * `keep` (the colour filter, which runs here over the over-fetched candidates because palettes
 * are compared in CIEDE2000, not in SQL) to their palettes alone, so only the survivors that
 * reach the reranker are loaded in full.
 *
 * @example
 * const fused = await fuseStage({ db, telemetry }, { text, vector, settings, keep: undefined });
 */
export async function fuseStage(
  deps: { db: Database; telemetry: Telemetry },
  input: {
    text: readonly FulltextCandidate[];
    vector: readonly VectorCandidate[];
    settings: FusionSettings;
    /** A palette filter: applied to every fused candidate before any record is loaded. */
    keep?: (hexColors: readonly string[]) => boolean;
    /** A palette signal (colour words) fused before `keep`, from the same palette read. */
    palette?: PaletteSignal;
    /** Load records for only the best this many (after `keep`; default: all). */
    hydrate?: number;
  },
): Promise<HydratedCandidate[]> {
  return deps.telemetry.tracedSpan(
    SPAN.searchFuse,
    { "search.rrf_k": input.settings.k, "search.weight.text": input.settings.weights.text, "search.weight.vector": input.settings.weights.vector },
    async (span) => {
      let all = reciprocalRankFusion(input.text, input.vector, input.settings);
      let kept = all;
      if ((input.keep || input.palette) && all.length > 0) {
        const palettes = new Map((await palettesByIds(deps.db.db, all.map((f) => f.id))).map((p) => [p.id, p.hexColors]));
        if (input.palette) {
          all = fusePaletteSignal(all, palettes, input.palette, input.settings.k);
          span.setAttributes({ "search.weight.color": input.palette.weight, "search.color.boosted": all.filter((f) => f.components.color).length });
        }
        const keep = input.keep;
        kept = keep ? all.filter((f) => keep(palettes.get(f.id) ?? [])) : all;
      }
      const fused = input.hydrate === undefined ? kept : kept.slice(0, input.hydrate);
      const rows = fused.length === 0 ? [] : await getImagesByIds(deps.db.db, fused.map((f) => f.id));
      const byId = new Map(rows.map((r) => [r.id, r]));
      const out: HydratedCandidate[] = [];
      for (const f of fused) {
        const image = byId.get(f.id);
        if (image) out.push({ ...f, image });
      }
      span.setAttributes({ "search.fused": all.length, "search.kept": out.length });
      return out;
    },
  );
}
