import type { SimilarWord, WordIndex, WordVectors } from "../ai/types.ts";
import type { Database } from "../db/client.ts";
import { vocabularySnapshot } from "../db/vocabulary.ts";
import type { Logger } from "../log.ts";

/** Words a neighbour may be: lowercase letters, hyphens inside (the expansion adds plain words only). */
const NEIGHBOUR_WORD = /^[a-z][a-z-]*[a-z]$/;

/**
 * The words of the corpus (captions, labels, categories) as a neighbour index: query expansion
 * offers only words some image holds, and scans a few thousand vectors instead of the 40,000
 * most frequent English words. The database keeps the vocabulary (triggers on `images`, so every
 * writer counts); this copy checks its version at most every `refreshMs` — in the background,
 * so a search never waits for it after the first load.
 */
export interface CorpusVocabulary {
  /** Corpus words nearest to `word`; empty before the first load. */
  similar(word: string, k: number, minSimilarity: number): SimilarWord[];
  /** Loads the words on first use; later calls start a background version check when the copy is older than `refreshMs`. */
  current(): Promise<void>;
  /** Checks the version now and reloads the words if they changed. */
  refresh(): Promise<void>;
  /** Corpus words that have a vector. */
  readonly size: number;
}

/** Options for {@link createCorpusVocabulary}. */
export interface CorpusVocabularyDeps {
  db: Database;
  wordVectors: WordVectors;
  log?: Logger;
  /** How old the copy may get before a search starts a version check (default 1000 ms; 0: every search checks, and waits). */
  refreshMs?: number;
}

/**
 * Builds the corpus vocabulary of one database (loaded lazily, on the first search).
 *
 * @example
 * const vocabulary = createCorpusVocabulary({ db: database, wordVectors });
 * await vocabulary.current();
 * vocabulary.similar("couch", 2, 0.7); // [{ word: "sofa", similarity: 0.83 }]
 */
export function createCorpusVocabulary(deps: CorpusVocabularyDeps): CorpusVocabulary {
  const refreshMs = deps.refreshMs ?? 1000;
  let version: string | undefined;
  let index: WordIndex | undefined;
  let checkedAt = 0;
  let checking: Promise<void> | undefined;

  function refresh(): Promise<void> {
    checking ??= (async () => {
      try {
        const started = performance.now();
        const snapshot = await vocabularySnapshot(deps.db.db, index ? version : undefined);
        if (snapshot.words) {
          await deps.wordVectors.ready();
          index = deps.wordVectors.index(snapshot.words.filter((w) => NEIGHBOUR_WORD.test(w)));
          deps.log?.debug("corpus vocabulary loaded", { words: snapshot.words.length, with_vectors: index.size, ms: Math.round(performance.now() - started) });
        }
        version = snapshot.version;
        checkedAt = performance.now();
      } finally {
        checking = undefined;
      }
    })();
    return checking;
  }

  return {
    similar: (word, k, minSimilarity) => index?.similar(word, k, minSimilarity) ?? [],
    get size() {
      return index?.size ?? 0;
    },
    refresh,
    async current() {
      if (!index || refreshMs === 0) return refresh();
      if (performance.now() - checkedAt >= refreshMs && !checking) {
        refresh().catch((error: unknown) => deps.log?.warn("corpus vocabulary check failed; using the last copy", { error: (error as Error).message }));
      }
    },
  };
}
