/**
 * The real service for the telemetry benchmark: `startServer` (so `createApp` with its whole
 * middleware stack, the default request log on stdout, the offline word vectors loaded) over an
 * in-memory database holding a small synthetic corpus, traced (spans exported to the given OTLP
 * receiver) or untraced (`OTEL_SDK_DISABLED=true`).
 *
 * Usage: bun run bench/telemetry/app-server.ts <traced|untraced> <otlp traces url> [corpus size]
 * Prints `ready <port>` on stderr (stdout carries the request log); SIGTERM stops the server
 * (drain, span flush) and prints `stats {...}` on stderr.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOfflineEmbedder } from "../../src/ai/index.ts";
import { loadConfig } from "../../src/config.ts";
import { bulkInsertImages } from "../../src/db/images.ts";
import { embeddingText } from "../../src/ingest/embed.ts";
import { startServer } from "../../src/server.ts";
import { seededRandom } from "../../src/random.ts";
import { syntheticImage, syntheticRow } from "../search/corpus.ts";

const [variant, url, size = "500"] = process.argv.slice(2);
if ((variant !== "traced" && variant !== "untraced") || !url) throw new Error("usage: app-server.ts <traced|untraced> <otlp url> [corpus size]");

const config = loadConfig({
  ...process.env,
  PORT: "0",
  HOST: "127.0.0.1",
  DATABASE_URL: "memory://",
  DATA_DIR: mkdtempSync(join(tmpdir(), "bench-telemetry-app-")),
  // The benchmark is one client hammering search: no rate limit.
  RATE_LIMIT_SEARCH_PER_MINUTE: "0",
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url,
  OTEL_SDK_DISABLED: variant === "traced" ? "false" : "true",
});
const server = await startServer(config);
const search = server.deps.search!;
await search.wordVectors.ready();
const embedder = createOfflineEmbedder(search.wordVectors);
const random = seededRandom(0x2545f491);
const items = Array.from({ length: Number(size) }, (_, i) => syntheticImage(random, i)).map((b) =>
  syntheticRow(b, embedder.embedSync(embeddingText({ caption: b.caption, labels: b.labels, category: b.theme }))),
);
await bulkInsertImages(server.deps.database!.db, items);
// The corpus load's spans are not the benchmark's.
await server.deps.telemetry.flush();

console.error(`ready ${server.port}`);
process.once("SIGTERM", async () => {
  await server.stop();
  console.error(`stats ${JSON.stringify(server.deps.telemetry.stats())}`);
  process.exit(0);
});
