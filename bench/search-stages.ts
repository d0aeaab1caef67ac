/**
 * `search.fuse` and `search.rerank` alone, for 30 candidates (target ≤ 0.5 ms each): candidates are
 * real records of the demo corpus and of synthetic captions, text and vector branches of 30 each
 * overlapping by half, offline reranker, queries varied (no two alike). Prints the median and p95
 * of each stage's wall time, with and without a colour filter, and with a colour word in every
 * query (the palette signal in fusion, the palette coverage in rerank) (per-thread CPU counters do
 * not resolve sub-millisecond spans; on a shared machine read the median).
 *
 * Run: bun run bench/search-stages.ts   (--runs 2000)
 */
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { createWordVectors } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import type { ImageRow } from "../src/db/schema.ts";
import { DEMO_IMAGES } from "../src/ingest/demo/corpus.ts";
import { colorMatcher } from "../src/search/color.ts";
import { colorMatch, colorWordsIn, filterColor } from "../src/search/color-words.ts";
import { fuseStage } from "../src/search/fuse.ts";
import { createDocumentCache, rerankStage, type DocumentCache } from "../src/search/rerank.ts";
import { noopTelemetry } from "../src/telemetry/index.ts";
import { seededRandom } from "../src/random.ts";
import { commonWords, demoQueries, syntheticImage } from "./search/corpus.ts";

const { values: args } = parseArgs({ options: { runs: { type: "string", default: "2000" } } });
const RUNS = Number(args.runs);
const CANDIDATES = 30;

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;

const random = seededRandom(0x57a9e5);
let n = 0;
function record(caption: string, labels: string[], category: string, hexColors: string[]): ImageRow {
  n++;
  return {
    id: `01a2322b-0000-7000-8000-${String(n).padStart(12, "0")}`,
    storageKey: `bench/${n}.png`,
    originalName: null,
    mimeType: "image/png",
    width: 640,
    height: 480,
    byteSize: 50_000,
    sha256: `bench-${n}`,
    caption,
    labels,
    category,
    role: "corpus",
    hexColors,
    hypernyms: null,
    createdAt: new Date(),
  };
}
const pool: ImageRow[] = [
  ...DEMO_IMAGES.map((d) => record(d.caption, d.labels, d.category, ["#e8572a", "#2f5f86", "#ffd166"])),
  ...Array.from({ length: 2000 }, (_, i) => {
    const s = syntheticImage(random, i);
    return record(s.caption, s.labels, s.theme, s.hexColors);
  }),
];

const wordVectors = createWordVectors();
await wordVectors.ready();
const config = loadConfig({ LOG_LEVEL: "silent" });
const telemetry = noopTelemetry();
const queries = demoQueries(random, RUNS + 200, await commonWords()).map((q) => q.body.query);
const settings = { k: 60, weights: { text: 1, vector: 1 }, overfetch: 3 };

function candidates() {
  const picked = Array.from({ length: CANDIDATES + CANDIDATES / 2 }, () => pool[Math.floor(random() * pool.length)]!);
  const text = picked.slice(0, CANDIDATES).map((image, i) => ({ id: image.id, rank: 1 / (i + 1), tier: (i < 10 ? 1 : 2) as 1 | 2, image }));
  const vector = picked.slice(CANDIDATES / 2).map((image, i) => ({ id: image.id, distance: 0.1 + i / 100, image }));
  return { text, vector };
}

const COLOR_WORDS = ["red", "blue", "yellow", "green", "light blue", "dark green", "orange", "grey"];

async function run(color: string | undefined, documents: DocumentCache | undefined, colorWords = false) {
  const fuse: number[] = [];
  const rerank: number[] = [];
  const keep = color ? colorMatcher(color, 40) : undefined;
  for (let i = 0; i < RUNS + 200; i++) {
    const { text, vector } = candidates();
    const query = colorWords ? `${COLOR_WORDS[i % COLOR_WORDS.length]} ${queries[i]!}` : queries[i]!;
    let t = performance.now();
    // As the pipeline does it: the query's colours found and matched once per search.
    const words = colorWords ? colorMatch(colorWordsIn(query), 20) : undefined;
    const fused = await fuseStage({ telemetry }, { text, vector, settings, keep, signals: words ? [words.signal(1)] : undefined, limit: CANDIDATES, queryWords: 2 });
    const fuseMs = performance.now() - t;
    t = performance.now();
    await rerankStage({ wordVectors, telemetry, config, documents }, { original: query, candidates: fused, weight: 0.5, topN: CANDIDATES, color: color ? colorMatch([filterColor(color)], 40) : words });
    const rerankMs = performance.now() - t;
    if (i < 200) continue; // warm-up: JIT, word memos
    fuse.push(fuseMs);
    rerank.push(rerankMs);
  }
  const line = (name: string, ms: number[]) => console.log(`  ${name.padEnd(14)} p50 ${percentile(ms, 50).toFixed(3)} ms  p95 ${percentile(ms, 95).toFixed(3)} ms  (target ≤ 0.5 ms)`);
  console.log(
    `${color ? `with a colour filter (${color}, threshold 40)` : "no colour filter"}${colorWords ? ", a colour word in every query (palette signal and coverage, threshold 20)" : ""}, ${documents ? "candidates' readings remembered (the service: most candidates were seen before)" : "every candidate read afresh"}:`,
  );
  line("search.fuse", fuse);
  line("search.rerank", rerank);
}

console.log(`fuse and rerank for ${CANDIDATES} candidates, ${RUNS} runs after 200 warm-up, distinct queries; bun ${Bun.version}; load ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
await run(undefined, undefined);
await run(undefined, createDocumentCache());
await run("#2f5f86", createDocumentCache());
await run(undefined, createDocumentCache(), true);
