import type { Embedder, EmbedKind, WordVectors } from "./types.ts";

/** Model name stored beside offline vectors. */
export const OFFLINE_EMBEDDING_MODEL = "wink-sg-100d";
const DIMS = 100;
/** SIF smoothing constant (Arora et al. 2017 suggest 1e-3 to 1e-4). */
const SIF_A = 1e-3;

/**
 * The word-probability estimate behind the SIF weights. The vectors ship frequency ordered (most
 * frequent first) but without counts, so p(w) comes from Zipf's law over the rank:
 * p(rank r) = 1 / ((r + 1) · H_N).
 */
function zipfProbability(rank: number, vocabulary: number): number {
  const harmonic = Math.log(vocabulary) + 0.5772156649;
  return 1 / ((rank + 1) * harmonic);
}

/** Deterministic unit vector from character trigrams (feature hashing), for texts with no known word. */
function hashedVector(text: string, dims: number): number[] {
  const out = new Array<number>(dims).fill(0);
  const padded = ` ${text.toLowerCase().trim()} `;
  for (let i = 0; i + 3 <= padded.length; i++) {
    let h = 2166136261;
    for (let j = i; j < i + 3; j++) h = Math.imul(h ^ padded.charCodeAt(j), 16777619);
    out[(h >>> 1) % dims]! += h & 1 ? 1 : -1;
  }
  const norm = Math.hypot(...out);
  if (norm === 0) {
    out[0] = 1;
    return out;
  }
  return out.map((v) => v / norm);
}

/**
 * Offline sentence embeddings: a SIF-weighted mean (weight a / (a + p(w))) of the unit word
 * vectors of each token's lemma (its surface form when the lemma is unknown), L2-normalised.
 * Unknown words are skipped; a text with no known word gets a hashed character-trigram vector,
 * so the result is always unit length, never NaN. Deterministic; `kind` does not change it. The
 * common-component removal step of SIF is left out: it needs corpus statistics we do not keep.
 *
 * @example
 * const embedder = createOfflineEmbedder(createWordVectors());
 * const [v] = await embedder.embed(["a red sports car"], "document"); // v.length === 100
 */
export function createOfflineEmbedder(wordVectors: WordVectors): Embedder & { embedSync(text: string): number[] } {
  function embedSync(text: string): number[] {
    const sum = new Float64Array(DIMS);
    let used = 0;
    const vocabulary = 341_479;
    for (const token of wordVectors.tokenize(text.normalize("NFKC"))) {
      let key = token.lemma;
      let rank = wordVectors.frequencyRank(key);
      if (rank === undefined) {
        key = token.word;
        rank = wordVectors.frequencyRank(key);
      }
      if (rank === undefined) continue;
      const vector = wordVectors.vector(key)!;
      const weight = SIF_A / (SIF_A + zipfProbability(rank, vocabulary));
      for (let d = 0; d < DIMS; d++) sum[d]! += weight * vector[d]!;
      used++;
    }
    let norm = 0;
    for (let d = 0; d < DIMS; d++) norm += sum[d]! * sum[d]!;
    norm = Math.sqrt(norm);
    if (used === 0 || norm === 0 || !Number.isFinite(norm)) return hashedVector(text, DIMS);
    return Array.from(sum, (v) => v / norm);
  }

  return {
    model: OFFLINE_EMBEDDING_MODEL,
    dimensions: DIMS,
    remote: false,
    embedSync,
    async embed(texts: string[], _kind: EmbedKind) {
      await wordVectors.ready();
      return texts.map(embedSync);
    },
  };
}
