/**
 * The small interfaces every model provider sits behind. Each has a real implementation (Gemini)
 * and an embedded default that needs no network or account (word vectors, rules).
 */

/** What an embedding is for: stored documents and search queries may be embedded differently. */
export type EmbedKind = "document" | "query";

/**
 * Turns texts into L2-normalised vectors of a fixed size. Stored vectors and query vectors must
 * come from the same `model`.
 *
 * @example
 * const [vector] = await embedder.embed(["a red sports car"], "query");
 */
export interface Embedder {
  /** Stored beside each vector (`image_embeddings.model`), e.g. `wink-sg-100d`. */
  readonly model: string;
  readonly dimensions: number;
  /**
   * True when a call waits on the network (Gemini): worth running beside other work. False when
   * it computes on this thread (offline), where running it "beside" other work only queues.
   */
  readonly remote: boolean;
  /**
   * One vector per text, same order; each of length `dimensions` and unit length (or all zeros for
   * a text with no known word). `timeoutMs` overrides the embedder's own deadline for this call.
   */
  embed(texts: string[], kind: EmbedKind, options?: { timeoutMs?: number }): Promise<number[][]>;
}

/** A neighbour of a word in the embedding space. */
export interface SimilarWord {
  word: string;
  /** Cosine similarity in [-1, 1]. */
  similarity: number;
}

/** One word token: its lowercase form, its lemma, whether it is a stopword, and its part of speech. */
export interface WordToken {
  readonly word: string;
  readonly lemma: string;
  readonly stopWord: boolean;
  /** Universal part-of-speech tag (`NOUN`, `ADJ`, `PROPN`, …) in its sentence; `X` for a word analysed alone that the tagger split. */
  readonly pos: string;
}

/**
 * A set of words whose nearest neighbours can be looked up (an exact scan of their packed
 * vectors): e.g. the words of the corpus, so expansion only offers words that can match.
 *
 * @example
 * const index = wordVectors.index(["sofa", "couch", "beach"]);
 * index.similar("settee", 2, 0.6); // [{ word: "sofa", similarity: 0.8 }, ...]
 */
export interface WordIndex {
  /** How many of the given words have a vector (the others are left out). */
  readonly size: number;
  /** Up to `k` words of the set nearest to `word` (cosine ≥ `minSimilarity`), the word itself excluded. */
  similar(word: string, k: number, minSimilarity: number): SimilarWord[];
}

/**
 * Offline word vectors (wink `sg-100d`): look-ups, lemmas and nearest neighbours.
 *
 * @example
 * const vectors = await wordVectors.ready();
 * wordVectors.similar("automobile", 3, 0.6); // [{word: "car", similarity: 0.78}, ...]
 */
export interface WordVectors {
  readonly dimensions: number;
  /** Loads the vectors (lazy; the first call pays the load). Resolves once loaded. */
  ready(): Promise<void>;
  /** True once loaded; `vector`/`similar`/`frequencyRank` need it. */
  readonly loaded: boolean;
  /** The raw vector of a lowercase word, or undefined when it is not in the vocabulary. */
  vector(word: string): Float32Array | undefined;
  /** 0-based frequency rank of a word in the vocabulary (0 = most frequent), or undefined. */
  frequencyRank(word: string): number | undefined;
  /** Up to `k` nearest words (cosine) among the most frequent words, with similarity ≥ `minSimilarity`, the word itself excluded. */
  similar(word: string, k: number, minSimilarity: number): SimilarWord[];
  /** A neighbour index over these words (those without a vector are left out). */
  index(words: Iterable<string>): WordIndex;
  /** Lowercase word tokens, their lemmas and universal part-of-speech tags (`NOUN`, `ADJ`, …), in order (no punctuation or symbols). The result is shared: do not change it. */
  tokenize(text: string): readonly WordToken[];
  /** One lowercase word alone: its lemma and stopword flag (remembered, so a corpus's words are analysed once). */
  analyse(word: string): WordToken;
}

/**
 * Why a model call failed: one list for every model (text, embeddings, labels, images). Search
 * and ingest fall back on any of them; generation stores the kind with the failed record and
 * answers each with its own status (`src/generation/errors.ts`).
 *
 * - `timeout`: no answer within the deadline; `cancelled`: the caller went away first
 * - `rate_limited`: 429 or quota (`retryAfterSeconds` when the model said)
 * - `unavailable`: a 5xx, or the model could not be reached
 * - `malformed`: an answer that is not what was asked (bad JSON, wrong dimensions)
 * - `safety_blocked`: the model refused the content; `no_image`: an image model sent none
 * - `auth`: the key was refused; `invalid_request`: any other 4xx, or a request that cannot be sent
 *
 * @example
 * MODEL_ERROR_KINDS.includes(row.errorKind as ModelErrorKind);
 */
export const MODEL_ERROR_KINDS = [
  "timeout",
  "cancelled",
  "rate_limited",
  "unavailable",
  "malformed",
  "safety_blocked",
  "no_image",
  "auth",
  "invalid_request",
] as const;
export type ModelErrorKind = (typeof MODEL_ERROR_KINDS)[number];

/** What is known about a failed call besides its kind. */
export interface ModelErrorDetails {
  /** The HTTP status the model's API answered. */
  status?: number;
  /** For `rate_limited`: how long the model asked to wait. */
  retryAfterSeconds?: number;
  /** Calls made, retries included. */
  attempts?: number;
  inputTokens?: number;
  outputTokens?: number;
}

/**
 * A failed model call with its kind; never carries the API key.
 *
 * @example
 * if (error instanceof ModelError && error.kind === "timeout") useOfflineFallback();
 * throw new ModelError("safety_blocked", "the prompt was blocked (SAFETY)", { attempts: 1 });
 */
export class ModelError extends Error {
  constructor(
    readonly kind: ModelErrorKind,
    message: string,
    readonly details: ModelErrorDetails = {},
  ) {
    super(message);
    this.name = "ModelError";
  }
}

/** Options for one text-model call. */
export interface TextCallOptions {
  /** Abort and throw `ModelError("timeout")` after this long. */
  timeoutMs?: number;
  /** Abort from outside (the client went away): throws `ModelError("cancelled")`. */
  signal?: AbortSignal;
  /** A short system instruction. */
  system?: string;
}

/**
 * A text model answering JSON that matches a JSON schema (Gemini `responseJsonSchema`). Its calls
 * wait on the network, so a pipeline runs them beside other work.
 *
 * @example
 * const out = await textModel.json<{ terms: string[] }>("Rewrite: red car", schema, { timeoutMs: 2000 });
 */
export interface TextModel {
  readonly model: string;
  json<T>(prompt: string, responseSchema: Record<string, unknown>, options?: TextCallOptions): Promise<T>;
}

/** An image to describe. */
export interface LabelInput {
  bytes: Uint8Array;
  mimeType: string;
}

/** What a labeler says about an image. */
export interface ImageLabels {
  caption: string;
  labels: string[];
  category: string;
}

/**
 * Describes an image: caption, labels and a category.
 *
 * @example
 * const { caption, labels, category } = await labeler.label({ bytes, mimeType: "image/png" });
 */
export interface Labeler {
  readonly model: string;
  label(input: LabelInput, options?: TextCallOptions): Promise<ImageLabels>;
}

/** Which family of providers `createAiProviders` chose. */
export type AiProviderKind = "gemini" | "offline";
