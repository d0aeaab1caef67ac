/**
 * The service under the search benchmark, in its own process so its CPU time is its own: the
 * real `startServer` on a copied data dir (embedded PGlite on disk, offline models), with spans
 * kept in memory. Prints `listening <port>` as soon as it serves, then `ready <port>` once the word
 * vectors are loaded and one search answered.
 * Answers the parent over IPC (see ServiceAnswers): `{ stages: traceId }` → each search stage's
 * milliseconds for that trace and what its spans noted; `{ reset: true }` drops the recorded
 * spans; `{ rss: true }` → resident set size in MB; `{ sizes: true }` → the corpus's row count and
 * index sizes.
 *
 * Run by bench/search.ts: bun run bench/search/server.ts <data dir>
 */
import { sql } from "drizzle-orm";
import { loadConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { startServer } from "../../src/server.ts";
import { createTestTelemetry, PROCESS_ATTR, SEARCH_STAGES, SPAN } from "../../src/telemetry/index.ts";

/** What the service answers to each IPC question. */
export interface ServiceAnswers {
  stages: {
    stages: Record<string, number>;
    /** The stage spans' CPU readings summed (`process.cpu_user_ms` + `process.cpu_system_ms`): what the search stages cost, without HTTP and JSON. */
    stagesCpuMs: number;
    /** Full-text tiers searched (2: the first had fewer than k rows); candidates the colour words ranked. */
    notes: { tiers: number; colorBoosted: number };
  };
  rss: number;
  sizes: { images: number; expanded: number; tableBytes: number; tsvIndexBytes: number };
}

const dataDir = process.argv[2];
if (!dataDir) throw new Error("usage: server.ts <data dir>");
const { telemetry, recorder } = createTestTelemetry();
// The per-client search limit (600 a minute by default) is off unless SERVER_ENV sets it: the
// benchmark measures the engine, from one client address.
const config = loadConfig({
  RATE_LIMIT_SEARCH_PER_MINUTE: "0",
  ...process.env,
  PORT: "0",
  HOST: "127.0.0.1",
  DATA_DIR: dataDir,
  LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
});
const server = await startServer(config, { telemetry, log: silentLogger });
console.log(`listening ${server.port}`);
await server.deps.search!.wordVectors.ready();
const warm = await fetch(`${server.url}/api/search`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"query":"warm up"}' });
if (warm.status !== 200) throw new Error(`warm-up search answered ${warm.status}: ${await warm.text()}`);
recorder.reset();

const spanMs = (s: { duration: [number, number] }) => s.duration[0] * 1000 + s.duration[1] / 1e6;
process.on("message", async (message: { id: number; stages?: string; reset?: boolean; rss?: boolean; sizes?: boolean }) => {
  let answer: unknown = null;
  if (message.stages) {
    const spans = recorder.spans(message.stages);
    const attribute = (name: string, key: string) => Number(spans.find((s) => s.name === name)?.attributes[key] ?? 0);
    const stageSpans = spans.filter((s) => (SEARCH_STAGES as readonly string[]).includes(s.name));
    answer = {
      stages: Object.fromEntries(stageSpans.map((s) => [s.name.replace("search.", ""), spanMs(s)])),
      stagesCpuMs: stageSpans.reduce((sum, s) => sum + Number(s.attributes[PROCESS_ATTR.cpuUserMs] ?? 0) + Number(s.attributes[PROCESS_ATTR.cpuSystemMs] ?? 0), 0),
      notes: { tiers: attribute(SPAN.searchFulltext, "search.fulltext.tiers"), colorBoosted: attribute(SPAN.searchFuse, "search.color.boosted") },
    } satisfies ServiceAnswers["stages"];
    recorder.reset();
  } else if (message.reset) recorder.reset();
  else if (message.rss) answer = Math.round(process.memoryUsage.rss() / 1024 / 1024);
  else if (message.sizes) {
    const result = await server.deps.database!.db.execute(
      sql`select count(*)::int as images, count(*) filter (where hypernyms is not null)::int as expanded, pg_total_relation_size('images')::bigint as table_bytes, pg_relation_size('images_search_tsv_idx')::bigint as tsv_bytes from images`,
    );
    const row = (result as unknown as { rows: Record<string, unknown>[] }).rows[0]!;
    answer = { images: Number(row.images), expanded: Number(row.expanded), tableBytes: Number(row.table_bytes), tsvIndexBytes: Number(row.tsv_bytes) } satisfies ServiceAnswers["sizes"];
  }
  process.send!({ id: message.id, answer });
});
process.once("SIGTERM", () => server.stop().then(() => process.exit(0)));
console.log(`ready ${server.port}`);
