import type { AppConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import { ModelError, type TextModel, type WordVectors } from "../ai/types.ts";
import type { ImageRow } from "../db/schema.ts";
import { GENAI_ATTR, SPAN, type Telemetry } from "../telemetry/index.ts";
import { markDegraded } from "./degraded.ts";
import { normalizeQuery } from "./expand.ts";
import type { FusedCandidate } from "./fuse.ts";

/** The offline reranker's features for one candidate, each in [0, 1]. */
export interface RerankFeatures {
  /** Share of query words found in caption, labels or category (a close word-vector neighbour counts partly; a colour word, as much as the palette holds it). */
  coverage: number;
  /** Share of query words that are labels. */
  labels: number;
  /** The whole query appears as a phrase in the caption or a label. */
  phrase: number;
  /** A query word is the image's category. */
  category: number;
  /** How well the palette holds the colour filter's colour or the query's colour words (1 − ΔE00 / threshold, see color-words.ts); only with either. */
  color?: number;
}

/**
 * The colours the reranker scores palettes against (built by `colorMatch` in color-words.ts, from
 * the colour filter or the query's colour words).
 */
export interface RerankColor {
  /** How well a palette holds the colours, in [0, 1]: the `color` feature. */
  score(palette: readonly string[]): number;
  /**
   * Query words that name a colour → how close a palette comes to that colour, in [0, 1]. Such a
   * word is covered by the palette as much as by the text: captions rarely name the colours their
   * palette shows, and a colour word counted as missing pulled down the very images the colour
   * signal had found.
   */
  words?: ReadonlyMap<string, (palette: readonly string[]) => number>;
}

/** A candidate after reranking. */
export interface RerankedCandidate extends FusedCandidate {
  /** The fused score divided by the best fused score of the set, in [0, 1]. */
  fusedNormalized: number;
  /** Absent when the stage was dropped (see rerankStage). */
  rerank?: { score: number; source: "offline" | "gemini"; features: RerankFeatures };
  /** (1 − w) · fusedNormalized + w · rerank.score. */
  score: number;
}

/** Feature weights of the offline score (a weighted arithmetic mean). */
export const FEATURE_WEIGHTS = { coverage: 0.45, labels: 0.2, phrase: 0.15, category: 0.1, color: 0.1 } as const;

/** Cosine similarity at which a neighbour starts to count, and where it counts fully (capped at 0.8). */
const SOFT_MATCH = { from: 0.45, to: 0.85, cap: 0.8 } as const;

/** The query's content words, their vectors, and each one's similarity to document lemmas (remembered for the request). */
interface QueryWords {
  words: { word: string; lemma: string; vector: Float32Array | undefined; similar: Map<string, number> }[];
  phrase: string;
}

function queryWords(wordVectors: WordVectors, original: string): QueryWords {
  const normalized = normalizeQuery(original);
  const tokens = wordVectors.tokenize(normalized);
  const content = tokens.filter((t) => !t.stopWord);
  const words = (content.length > 0 ? content : tokens).map((t) => ({
    word: t.word,
    lemma: t.lemma,
    vector: wordVectors.vector(t.lemma) ?? wordVectors.vector(t.word),
    similar: new Map<string, number>(),
  }));
  return { words, phrase: words.length >= 2 ? normalized : "" };
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** The words of one image as the reranker reads them. */
interface DocumentWords {
  caption: string;
  labelText: string[];
  forms: Set<string>;
  labelForms: Set<string>;
  categoryForms: Set<string>;
  /** Lemmas of the content words (soft matches are measured against these). */
  lemmas: string[];
}

/**
 * The words of an image's caption, labels and category with their lemmas, each word analysed
 * alone (`WordVectors.analyse` remembers every word it saw, so a corpus's words are analysed
 * once, not once per candidate per search).
 */
function documentWords(wordVectors: WordVectors, image: Pick<ImageRow, "caption" | "labels" | "category">): DocumentWords {
  const caption = normalizeQuery(image.caption ?? "");
  const labelText = image.labels.map(normalizeQuery);
  const forms = new Set<string>();
  const labelForms = new Set<string>();
  const categoryForms = new Set<string>();
  const lemmas = new Set<string>();
  const add = (text: string, also?: Set<string>) => {
    for (const word of text.split(" ")) {
      if (word === "") continue;
      const token = wordVectors.analyse(word);
      forms.add(token.word).add(token.lemma);
      also?.add(token.word).add(token.lemma);
      if (!token.stopWord) lemmas.add(token.lemma);
    }
  };
  add(caption);
  for (const label of labelText) add(label, labelForms);
  add(normalizeQuery(image.category ?? ""), categoryForms);
  return { caption, labelText, forms, labelForms, categoryForms, lemmas: [...lemmas] };
}

/**
 * Remembers the reranker's reading of recently seen images (by id, checked against their text), so
 * an image that is a candidate again is not re-read: most searches of a service see the same
 * images again and again.
 *
 * @example
 * const documents = createDocumentCache(4096);
 * await rerankStage({ ...deps, documents }, input);
 */
export function createDocumentCache(size = 4096) {
  const entries = new Map<string, { key: string; words: DocumentWords }>();
  return {
    get(wordVectors: WordVectors, image: Pick<ImageRow, "id" | "caption" | "labels" | "category">): DocumentWords {
      const key = `${image.caption ?? ""}\u0000${image.labels.join("\u0001")}\u0000${image.category ?? ""}`;
      const hit = entries.get(image.id);
      if (hit && hit.key === key) return hit.words;
      const words = documentWords(wordVectors, image);
      if (entries.size >= size) entries.delete(entries.keys().next().value!);
      entries.set(image.id, { key, words });
      return words;
    },
  };
}

/** The reranker's document cache type. */
export type DocumentCache = ReturnType<typeof createDocumentCache>;

/**
 * The offline, transparent relevance features of one image for the ORIGINAL query. `doc` is the
 * image's reading when the caller remembered it (the document cache); otherwise it is read here.
 *
 * @example
 * offlineFeatures(wordVectors, "red car", image, undefined).coverage // 1 when both words are in the caption
 */
export function offlineFeatures(
  wordVectors: WordVectors,
  original: string | QueryWords,
  image: Pick<ImageRow, "caption" | "labels" | "category" | "hexColors">,
  color?: RerankColor,
  doc: DocumentWords = documentWords(wordVectors, image),
): RerankFeatures {
  const q = typeof original === "string" ? queryWords(wordVectors, original) : original;
  let coverage = 0;
  let labels = 0;
  let categoryHit = 0;
  for (const w of q.words) {
    const palette = color?.words?.get(w.word) ?? color?.words?.get(w.lemma);
    const byPalette = palette ? palette(image.hexColors) : 0;
    if (doc.forms.has(w.word) || doc.forms.has(w.lemma) || byPalette >= 1) coverage += 1;
    else if (w.vector) {
      let best = -1;
      for (const lemma of doc.lemmas) {
        let similarity = w.similar.get(lemma);
        if (similarity === undefined) {
          const v = wordVectors.vector(lemma);
          similarity = v ? dot(w.vector, v) : -1;
          w.similar.set(lemma, similarity);
        }
        if (similarity > best) best = similarity;
      }
      coverage += Math.max(byPalette, Math.min(SOFT_MATCH.cap, Math.max(0, (best - SOFT_MATCH.from) / (SOFT_MATCH.to - SOFT_MATCH.from))));
    } else coverage += byPalette;
    if (doc.labelForms.has(w.word) || doc.labelForms.has(w.lemma)) labels += 1;
    if (doc.categoryForms.has(w.word) || doc.categoryForms.has(w.lemma)) categoryHit = 1;
  }
  const n = Math.max(1, q.words.length);
  const phrase = q.phrase && (doc.caption.includes(q.phrase) || doc.labelText.some((l) => l.includes(q.phrase))) ? 1 : 0;
  const features: RerankFeatures = { coverage: coverage / n, labels: labels / n, phrase, category: categoryHit };
  if (color) features.color = color.score(image.hexColors);
  return features;
}

/**
 * The offline score: a weighted arithmetic mean of the features (colour only with a colour filter or colour words).
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
export function geminiRerankPrompt(original: string, candidates: readonly Pick<FusedCandidate, "image">[]): string {
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
  /** Remembered readings of recent candidates (optional; see createDocumentCache). */
  documents?: DocumentCache;
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
 * good partial match and w really moves the order. With `vectorsReady` false (the word vectors
 * are still loading on a first start) the stage is dropped: the fused order stands, and the span
 * says so.
 *
 * @example
 * const ranked = await rerankStage(deps, { original: "red car", candidates, weight: 0.5, topN: 30 });
 */
export async function rerankStage(
  deps: RerankDeps,
  input: { original: string; candidates: readonly FusedCandidate[]; weight: number; topN: number; color?: RerankColor; vectorsReady?: boolean },
): Promise<{ ranked: RerankedCandidate[]; source: "offline" | "gemini" | "none"; fallbackReason?: string }> {
  return deps.telemetry.tracedSpan(SPAN.searchRerank, { "search.rerank.weight": input.weight, "search.rerank.top_n": input.topN }, async (span) => {
    const top = input.candidates.slice(0, input.topN);
    const maxFused = Math.max(...top.map((c) => c.fused), Number.MIN_VALUE);
    if (input.vectorsReady === false) {
      markDegraded(span, "vectors_loading");
      const ranked = top.map((c): RerankedCandidate => ({ ...c, fusedNormalized: c.fused / maxFused, score: c.fused / maxFused }));
      return { ranked, source: "none", fallbackReason: "vectors_loading" };
    }
    const q = queryWords(deps.wordVectors, input.original);
    const features = top.map((c) => offlineFeatures(deps.wordVectors, q, c.image, input.color, deps.documents?.get(deps.wordVectors, c.image)));
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
        markDegraded(span, fallbackReason);
        deps.log?.warn("gemini rerank failed; using the offline reranker", { reason: fallbackReason });
      }
    }
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
      // Stable: equal scores keep the fused order (fusion breaks its own ties), not the ids' order.
      .sort((a, b) => b.score - a.score || b.fused - a.fused);
    span.setAttributes({ "search.rerank.source": source, "search.rerank.candidates": ranked.length });
    return { ranked, source, fallbackReason };
  });
}
