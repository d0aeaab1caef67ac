import type { AppConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Embedder, TextModel, WordVectors } from "../ai/types.ts";
import type { Database } from "../db/client.ts";
import { isUuid } from "../db/ids.ts";
import { getEmbedding, getImage } from "../db/images.ts";
import type { ImageRole, ImageRow } from "../db/schema.ts";
import type { CandidateFilters, CandidateImage, FulltextCandidate, VectorCandidate } from "../db/search.ts";
import { SPAN, type Telemetry } from "../telemetry/index.ts";
import { colorMatcher } from "./color.ts";
import { colorMatch, colorWordsIn, filterColor } from "./color-words.ts";
import { settlesWithin, type DegradableStage } from "./degraded.ts";
import { embedQuery } from "./embed.ts";
import { expandQuery, type ExpandedQuery } from "./expand.ts";
import { fulltextBranch } from "./fulltext.ts";
import { fuseStage, type BranchComponent, type FusionSettings } from "./fuse.ts";
import { createDocumentCache, rerankStage, type DocumentCache, type RerankFeatures } from "./rerank.ts";
import { vectorBranch } from "./vector.ts";
import { createCorpusVocabulary, type CorpusVocabulary } from "./vocabulary.ts";
import { ClientFacingError } from "../errors.ts";

/** Everything the search pipeline uses (build it with `createSearchDeps`). */
export interface SearchDeps {
  db: Database;
  embedder: Embedder;
  wordVectors: WordVectors;
  /** The corpus words query expansion may offer. */
  vocabulary: CorpusVocabulary;
  textModel?: TextModel;
  telemetry: Telemetry;
  config: AppConfig;
  log?: Logger;
  /** The reranker's readings of recent candidates. */
  documents?: DocumentCache;
}

/**
 * The search pipeline's dependencies, with the corpus vocabulary of `db` (loaded on the first
 * search, then checked every `SEARCH_VOCABULARY_REFRESH_MS`).
 *
 * @example
 * const search = createSearchDeps({ db: database, embedder: ai.embedder, wordVectors: ai.wordVectors, textModel: ai.textModel, telemetry, config, log });
 */
export function createSearchDeps(parts: Omit<SearchDeps, "vocabulary"> & { vocabulary?: CorpusVocabulary }): SearchDeps {
  const vocabulary =
    parts.vocabulary ?? createCorpusVocabulary({ db: parts.db, wordVectors: parts.wordVectors, log: parts.log, refreshMs: parts.config.search.vocabularyRefreshMs });
  return { documents: createDocumentCache(), ...parts, vocabulary };
}

/** One search, already validated by the caller (the pipeline clamps numbers again). */
export interface SearchRequest {
  query?: string;
  /** "More like this": the image's stored vector is the query, the image itself is left out. */
  imageId?: string;
  limit: number;
  filters?: { category?: string; role?: ImageRole; color?: string };
  /** `weights.color`: the colour words' fusion weight (default `SEARCH_COLOR_WORD_WEIGHT`). */
  fusion?: { k?: number; weights?: { text?: number; vector?: number; color?: number }; overfetch?: number };
  rerank?: { weight?: number };
}

/** One ranked image. */
export interface SearchHit {
  id: string;
  rank: number;
  score: number;
  image: CandidateImage;
  /** Each fused list's rank and raw score (`text`, `vector`, any extra signal by name) and the reranker's score. */
  components: {
    text?: BranchComponent;
    vector?: BranchComponent;
    /** Rank and score among the candidates whose palette holds the query's colour words. */
    color?: BranchComponent;
    rerank?: RerankComponent;
    [signal: string]: BranchComponent | RerankComponent | undefined;
  };
}

/** The reranker's view of a hit. */
export interface RerankComponent {
  score: number;
  source: "offline" | "gemini";
  features: RerankFeatures;
}

export type { DegradableStage };

/** Stage timings in milliseconds. */
export type StageMs = Record<"expand" | "embed" | "vector" | "fulltext" | "fuse" | "rerank", number>;

/** Why and how the results came out, for `explain: true`. */
export interface SearchExplain {
  query: string;
  expandedQuery: Omit<ExpandedQuery, "original">;
  /** Every word the full-text branch searched for. */
  terms: string[];
  fulltextQuery: string;
  fusion: FusionSettings & { branchK: number };
  rerank: { weight: number; topN: number; source: "offline" | "gemini" | "none"; query: string; fallbackReason?: string };
  /** Why the query has no vector (the vector branch was left out). */
  embed?: { fallbackReason: string };
  color?: { hex: string; threshold: number; mode: "post-filter over over-fetched candidates" };
  /** Colour words found in the query and how they were fused (absent when the query names no colour). */
  colorWords?: { colors: { words: string; name: string; anchors: string[] }[]; weight: number; threshold: number; boosted: number; source: string };
  candidates: { text: number; vector: number; fused: number };
  stageMs: StageMs;
}

/** The pipeline's answer. */
export interface SearchOutcome {
  results: SearchHit[];
  /** Stages that fell back to their offline path or were dropped, in pipeline order; empty when none. */
  degraded: DegradableStage[];
  explain: SearchExplain;
}

/**
 * A search the client got wrong (unknown image, no query): the HTTP layer answers `status`.
 * A `ClientFacingError`, so this layer needs no HTTP imports.
 *
 * @example
 * throw new SearchInputError(404, "image_not_found", "no image with id …");
 */
export class SearchInputError extends ClientFacingError {
  declare readonly status: 400 | 404;
  constructor(status: 400 | 404, code: string, message: string) {
    super(status, code, message);
  }
}

/** Extra candidates fetched per branch when the colour filter drops some after the fetch. */
const COLOR_OVERFETCH = 4;

const clamp = (value: number | undefined, min: number, max: number, fallback: number) =>
  typeof value === "number" && Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : fallback;

function timed<T>(stageMs: StageMs, stage: keyof StageMs, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  return fn().finally(() => {
    stageMs[stage] = Math.round((performance.now() - started) * 100) / 100;
  });
}

/**
 * Runs two steps together when one of them waits on something that works in parallel (Gemini
 * calls, Neon's pool), one after the other when both would only queue for the same engine (offline
 * models on this thread, PGlite), so each stage span measures its own work rather than its wait.
 */
async function both<A, B>(concurrent: boolean, steps: [() => Promise<A>, () => Promise<B>]): Promise<[A, B]> {
  if (concurrent) return Promise.all([steps[0](), steps[1]()]);
  const a = await steps[0]();
  return [a, await steps[1]()];
}

/**
 * Hybrid search: expand → embed → vector ‖ full text → fuse → rerank, one span per stage. A model
 * helper that fails or times out (the Gemini rewrite, embedding or rerank), or offline word vectors
 * still loading on a first start, never fails the search: the stage falls back to its offline path
 * or is dropped, and the answer names it in `degraded`.
 *
 * @example
 * const { results, degraded } = await searchImages(deps, { query: "red sports car", limit: 10 });
 */
export async function searchImages(deps: SearchDeps, request: SearchRequest): Promise<SearchOutcome> {
  const { config } = deps;
  const limit = Math.trunc(clamp(request.limit, 1, 100, 10));
  const fusion: FusionSettings = {
    k: clamp(request.fusion?.k, 1, 1000, config.search.rrfK),
    weights: {
      text: clamp(request.fusion?.weights?.text, 0, 10, config.search.textWeight),
      vector: clamp(request.fusion?.weights?.vector, 0, 10, config.search.vectorWeight),
    },
    overfetch: clamp(request.fusion?.overfetch, 1, 10, config.search.overfetch),
  };
  const rerankWeight = clamp(request.rerank?.weight, 0, 1, config.search.rerankWeight);
  const color = request.filters?.color?.toLowerCase();
  const branchK = Math.min(1000, Math.ceil(limit * fusion.overfetch) * (color ? COLOR_OVERFETCH : 1));
  const topN = Math.max(config.search.rerankTopN, limit);

  let source: ImageRow | undefined;
  if (request.imageId !== undefined) {
    if (!isUuid(request.imageId)) throw new SearchInputError(400, "invalid_image_id", "imageId must be a UUID");
    source = await getImage(deps.db.db, request.imageId);
    if (!source) throw new SearchInputError(404, "image_not_found", `no image with id ${request.imageId}`);
  }
  const query = request.query?.trim() ?? "";
  if (query === "" && !source) throw new SearchInputError(400, "invalid_request", "query must not be empty (or give an imageId)");
  const textQuery = query !== "" ? query : [source!.caption ?? "", ...source!.labels].join(" ");
  const filters: CandidateFilters = { category: request.filters?.category, role: request.filters?.role, excludeId: source?.id };

  // The offline models need the word vectors; on a first start they may still be loading (a child
  // process builds their cache): wait a little, then search without them rather than stall.
  const vectorsReady = deps.wordVectors.loaded || (await settlesWithin(deps.wordVectors.ready(), config.search.vectorsWaitMs));
  const stageMs: StageMs = { expand: 0, embed: 0, vector: 0, fulltext: 0, fuse: 0, rerank: 0 };
  const stored = source && (() => getEmbedding(deps.db.db, source.id, deps.embedder.model).then((e) => e?.vector));
  const [expanded, embedded] = await both(deps.textModel !== undefined || deps.embedder.remote, [
    () => timed(stageMs, "expand", () => expandQuery(deps, textQuery, vectorsReady)),
    () =>
      timed(stageMs, "embed", () =>
        embedQuery(deps, textQuery, { stored, usable: vectorsReady || deps.embedder.remote, timeoutMs: config.gemini.auxTimeoutMs }),
      ),
  ]);

  const vector = embedded.vector;
  const words = [...expanded.terms, ...expanded.lemmas, ...expanded.synonyms];
  const [vectorHits, text] = await both(deps.db.concurrent, [
    () =>
      vector
        ? timed(stageMs, "vector", () =>
            vectorBranch(deps, { model: deps.embedder.model, dimensions: deps.embedder.dimensions, vector, k: branchK, efSearch: config.search.efSearch, filters }),
          )
        : Promise.resolve([] as VectorCandidate[]),
    () => timed(stageMs, "fulltext", () => fulltextBranch(deps, { original: expanded.terms, expanded: [...expanded.lemmas, ...expanded.synonyms], k: branchK, filters })),
  ]);

  const keep = color ? colorMatcher(color, config.search.colorThreshold) : undefined;
  const queryColors = query !== "" ? colorWordsIn(query) : [];
  const colorWordWeight = clamp(request.fusion?.weights?.color, 0, 10, config.search.colorWordWeight);
  const colorWords = queryColors.length > 0 && colorWordWeight > 0 ? colorMatch(queryColors, config.search.colorThreshold) : undefined;
  const signals = colorWords ? [colorWords.signal(colorWordWeight)] : undefined;
  const fused = await timed(stageMs, "fuse", () =>
    fuseStage(deps, { text: text.hits, vector: vectorHits, settings: fusion, keep, signals, limit: topN, queryWords: expanded.terms.length }),
  );
  const reranked = await timed(stageMs, "rerank", () =>
    rerankStage(deps, {
      original: textQuery,
      candidates: fused,
      weight: rerankWeight,
      topN,
      // The `color` feature scores the filter's colour, else the query's colour words; colour words
      // count as covered by the palette either way.
      color: color ? { score: colorMatch([filterColor(color)], config.search.colorThreshold).score, words: colorWords?.words } : colorWords,
      vectorsReady,
    }),
  );

  const degraded: DegradableStage[] = [];
  if (expanded.fallbackReason) degraded.push(SPAN.searchExpand);
  if (embedded.fallbackReason) degraded.push(SPAN.searchEmbed);
  if (reranked.fallbackReason) degraded.push(SPAN.searchRerank);
  const results: SearchHit[] = reranked.ranked.slice(0, limit).map((c, i) => ({
    id: c.id,
    rank: i + 1,
    score: c.score,
    image: c.image,
    components: c.rerank ? { ...c.components, rerank: c.rerank } : c.components,
  }));
  const { original: _original, ...expandedQuery } = expanded;
  return {
    results,
    degraded,
    explain: {
      query: textQuery,
      expandedQuery,
      terms: words,
      fulltextQuery: text.tsInput,
      fusion: { ...fusion, branchK },
      rerank: { weight: rerankWeight, topN, source: reranked.source, query: textQuery, fallbackReason: reranked.fallbackReason },
      ...(embedded.fallbackReason ? { embed: { fallbackReason: embedded.fallbackReason } } : {}),
      color: color ? { hex: color, threshold: config.search.colorThreshold, mode: "post-filter over over-fetched candidates" } : undefined,
      colorWords:
        queryColors.length > 0
          ? {
              colors: queryColors.map((c) => ({ words: c.words, name: c.name, anchors: c.anchors.map((a) => `${a.keyword} ${a.hex}`) })),
              weight: colorWordWeight,
              threshold: config.search.colorThreshold,
              boosted: fused.filter((f) => f.components.color).length,
              source: "CSS Color 4 named colours, CIEDE2000 to the stored palette",
            }
          : undefined,
      candidates: { text: text.hits.length, vector: vectorHits.length, fused: fused.length },
      stageMs,
    },
  };
}

export type { FulltextCandidate, VectorCandidate };
