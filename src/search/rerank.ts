import type { AppConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import { ModelError, type TextModel, type WordVectors } from "../ai/types.ts";
import type { ImageRow } from "../db/schema.ts";
import { GENAI_ATTR, SPAN, type Telemetry } from "../telemetry/index.ts";
import { normalizeQuery } from "./expand.ts";
import type { HydratedCandidate } from "./fuse.ts";

/** The offline reranker's features for one candidate, each in [0, 1]. */
export interface RerankFeatures {
  /** Share of query words found in caption, labels or category (a close word-vector neighbour counts partly). */
  coverage: number;
  /** Share of query words that are labels. */
  labels: number;
  /** The whole query appears as a phrase in the caption or a label. */
  phrase: number;
  /** A query word is the image's category. */
  category: number;
  /** How well the palette holds the colour filter's or the query's colour words (1 − ΔE00 / threshold, see color-words.ts); only with either. */
  color?: number;
}

/** A candidate after reranking. */
export interface RerankedCandidate extends HydratedCandidate {
  /** The fused score divided by the best fused score of the set, in [0, 1]. */
  fusedNormalized: number;
  rerank: { score: number; source: "offline" | "gemini"; features: RerankFeatures };
  /** (1 − w) · fusedNormalized + w · rerank.score. */
  score: number;
}

/** Feature weights of the offline score (a weighted arithmetic mean). */
export const FEATURE_WEIGHTS = { coverage: 0.45, labels: 0.2, phrase: 0.15, category: 0.1, color: 0.1 } as const;

/** Cosine similarity at which a neighbour starts to count, and where it counts fully (capped at 0.8). */
const SOFT_MATCH = { from: 0.45, to: 0.85, cap: 0.8 } as const;

interface QueryWords {
  words: { word: string; lemma: string }[];
  phrase: string;
}

function queryWords(wordVectors: WordVectors, original: string): QueryWords {
  const normalized = normalizeQuery(original);
  const tokens = wordVectors.tokenize(normalized);
  const content = tokens.filter((t) => !t.stopWord);
  const words = (content.length > 0 ? content : tokens).map((t) => ({ word: t.word, lemma: t.lemma }));
  return { words, phrase: words.length >= 2 ? normalized : "" };
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * The offline, transparent relevance features of one image for the ORIGINAL query.
 *
 * @example
 * offlineFeatures(wordVectors, "red car", image, undefined).coverage // 1 when both words are in the caption
 */
export function offlineFeatures(
  wordVectors: WordVectors,
  original: string | QueryWords,
  image: Pick<ImageRow, "caption" | "labels" | "category" | "hexColors">,
  color?: (hexColors: readonly string[]) => number,
): RerankFeatures {
  const q = typeof original === "string" ? queryWords(wordVectors, original) : original;
  const caption = normalizeQuery(image.caption ?? "");
  const labelText = image.labels.map(normalizeQuery);
  const category = normalizeQuery(image.category ?? "");
  const docTokens = wordVectors.tokenize([caption, ...labelText, category].join(" . "));
  const docForms = new Set(docTokens.flatMap((t) => [t.word, t.lemma]));
  const labelForms = new Set(wordVectors.tokenize(labelText.join(" . ")).flatMap((t) => [t.word, t.lemma]));
  const categoryForms = new Set(category ? wordVectors.tokenize(category).flatMap((t) => [t.word, t.lemma]) : []);
  const docVectors = [...new Set(docTokens.filter((t) => !t.stopWord).map((t) => t.lemma))]
    .map((w) => wordVectors.vector(w))
    .filter((v): v is Float32Array => v !== undefined);

  let coverage = 0;
  let labels = 0;
  let categoryHit = 0;
  for (const { word, lemma } of q.words) {
    if (docForms.has(word) || docForms.has(lemma)) coverage += 1;
    else {
      const v = wordVectors.vector(lemma) ?? wordVectors.vector(word);
      if (v) {
        let best = -1;
        for (const d of docVectors) best = Math.max(best, dot(v, d));
        coverage += Math.min(SOFT_MATCH.cap, Math.max(0, (best - SOFT_MATCH.from) / (SOFT_MATCH.to - SOFT_MATCH.from)));
      }
    }
    if (labelForms.has(word) || labelForms.has(lemma)) labels += 1;
    if (categoryForms.has(word) || categoryForms.has(lemma)) categoryHit = 1;
  }
  const n = Math.max(1, q.words.length);
  const phrase = q.phrase && (caption.includes(q.phrase) || labelText.some((l) => l.includes(q.phrase))) ? 1 : 0;
  const features: RerankFeatures = { coverage: coverage / n, labels: labels / n, phrase, category: categoryHit };
  if (color) features.color = color(image.hexColors);
  return features;
}

/**
 * The offline score: a weighted arithmetic mean of the features (colour only with a colour filter).
 *
 * @example
 * offlineScore({ coverage: 1, labels: 0, phrase: 1, category: 0 }) // (0.45 + 0.15) / 0.9
 */
export function offlineScore(f: RerankFeatures): number {
  let sum = FEATURE_WEIGHTS.coverage * f.coverage + FEATURE_WEIGHTS.labels * f.labels + FEATURE_WEIGHTS.phrase * f.phrase + FEATURE_WEIGHTS.category * f.category;
  let total = FEATURE_WEIGHTS.coverage + FEATURE_WEIGHTS.labels + FEATURE_WEIGHTS.phrase + FEATURE_WEIGHTS.category;
  if (f.color !== undefined) {
    sum += FEATURE_WEIGHTS.color * f.color;
    total += FEATURE_WEIGHTS.color;
  }
  return sum / total;
}

const GEMINI_SCHEMA = {
  type: "object",
  properties: {
    scores: {
      type: "array",
      items: {
        type: "object",
        properties: { index: { type: "integer" }, score: { type: "number", minimum: 0, maximum: 10 } },
        required: ["index", "score"],
      },
    },
  },
  required: ["scores"],
} as const;

/**
 * The prompt of the Gemini reranker: the original query and one line per candidate.
 *
 * @example
 * geminiRerankPrompt("red car", [{ image }]); // "...Query: \"red car\"\nImages:\n[0] caption: ..."
 */
export function geminiRerankPrompt(original: string, candidates: readonly Pick<HydratedCandidate, "image">[]): string {
  const lines = candidates.map(
    (c, i) => `[${i}] caption: ${JSON.stringify(c.image.caption ?? "")}; labels: ${JSON.stringify(c.image.labels.join(", "))}; category: ${JSON.stringify(c.image.category ?? "")}`,
  );
  return [
    "Score how well each image matches the search query, from 0 (unrelated) to 10 (exactly what was asked for).",
    `Query: ${JSON.stringify(original)}`,
    "Images:",
    ...lines,
    "Answer with one score per image index.",
  ].join("\n");
}

/** Dependencies of the rerank stage. */
export interface RerankDeps {
  wordVectors: WordVectors;
  textModel?: TextModel;
  telemetry: Telemetry;
  config: AppConfig;
  log?: Logger;
}

/**
 * `search.rerank`: rescores the top `topN` fused candidates against the ORIGINAL query (never the
 * expansion), offline from transparent features or, with a text model, by one Gemini call bounded
 * by `GEMINI_AUX_TIMEOUT_MS` that falls back to the offline score. The final score is the
 * arithmetic mean (1 − w) · fused / max(fused) + w · rerank, so a weak sub-score cannot bury a
 * good partial match and w really moves the order.
 *
 * @example
 * const ranked = await rerankStage(deps, { original: "red car", candidates, weight: 0.5, topN: 30 });
 */
export async function rerankStage(
  deps: RerankDeps,
  input: { original: string; candidates: readonly HydratedCandidate[]; weight: number; topN: number; color?: (hexColors: readonly string[]) => number },
): Promise<{ ranked: RerankedCandidate[]; source: "offline" | "gemini"; fallbackReason?: string }> {
  return deps.telemetry.tracedSpan(SPAN.searchRerank, { "search.rerank.weight": input.weight, "search.rerank.top_n": input.topN }, async (span) => {
    await deps.wordVectors.ready();
    const top = input.candidates.slice(0, input.topN);
    const q = queryWords(deps.wordVectors, input.original);
    const features = top.map((c) => offlineFeatures(deps.wordVectors, q, c.image, input.color));
    let scores = features.map(offlineScore);
    let source: "offline" | "gemini" = "offline";
    let fallbackReason: string | undefined;
    if (deps.textModel && top.length > 0 && input.original.trim() !== "") {
      span.setAttributes({ [GENAI_ATTR.operation]: "chat", [GENAI_ATTR.requestModel]: deps.textModel.model });
      try {
        const answer = await deps.textModel.json<{ scores?: unknown }>(geminiRerankPrompt(input.original, top), GEMINI_SCHEMA, {
          timeoutMs: deps.config.gemini.auxTimeoutMs,
        });
        if (!Array.isArray(answer.scores)) throw new ModelError("malformed", "the rerank answer has no scores");
        const gemini = new Map<number, number>();
        for (const s of answer.scores as { index?: unknown; score?: unknown }[]) {
          if (Number.isInteger(s?.index) && typeof s?.score === "number" && Number.isFinite(s.score)) {
            gemini.set(s.index as number, Math.min(1, Math.max(0, s.score / 10)));
          }
        }
        scores = scores.map((offline, i) => gemini.get(i) ?? offline);
        source = "gemini";
      } catch (error) {
        fallbackReason = error instanceof ModelError ? error.kind : "error";
        span.setAttribute("search.rerank.fallback", fallbackReason);
        deps.log?.warn("gemini rerank failed; using the offline reranker", { reason: fallbackReason });
      }
    }
    const maxFused = Math.max(...top.map((c) => c.fused), Number.MIN_VALUE);
    const ranked = top
      .map((c, i): RerankedCandidate => {
        const fusedNormalized = c.fused / maxFused;
        const rerankScore = scores[i]!;
        return {
          ...c,
          fusedNormalized,
          rerank: { score: rerankScore, source, features: features[i]! },
          score: (1 - input.weight) * fusedNormalized + input.weight * rerankScore,
        };
      })
      .sort((a, b) => b.score - a.score || b.fused - a.fused || (a.id < b.id ? -1 : 1));
    span.setAttributes({ "search.rerank.source": source, "search.rerank.candidates": ranked.length });
    return { ranked, source, fallbackReason };
  });
}
