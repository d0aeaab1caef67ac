/**
 * The service under the search benchmark, in its own process so its CPU time is its own: the
 * real `startServer` on a copied data dir (embedded PGlite on disk, offline models), with spans
 * kept in memory. Prints `listening <port>` as soon as it serves, then `ready <port>` once the word
 * vectors are loaded and one search answered.
 * Answers the parent over IPC: `{ stages: traceId }` → each search stage's milliseconds for that
 * trace; `{ reset: true }` drops the recorded spans; `{ rss: true }` → resident set size in MB.
 *
 * Run by bench/search.ts: bun run bench/search/server.ts <data dir>
 */
import { loadConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/log.ts";
import { startServer } from "../../src/server.ts";
import { createTestTelemetry, SEARCH_STAGES } from "../../src/telemetry/index.ts";

const dataDir = process.argv[2];
if (!dataDir) throw new Error("usage: server.ts <data dir>");
const { telemetry, recorder } = createTestTelemetry();
const config = loadConfig({ ...process.env, PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, LOG_LEVEL: process.env.LOG_LEVEL ?? "silent" });
const server = await startServer(config, { telemetry, log: silentLogger });
console.log(`listening ${server.port}`);
await server.deps.search!.wordVectors.ready();
const warm = await fetch(`${server.url}/api/search`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"query":"warm up"}' });
if (warm.status !== 200) throw new Error(`warm-up search answered ${warm.status}: ${await warm.text()}`);
recorder.reset();

const spanMs = (s: { duration: [number, number] }) => s.duration[0] * 1000 + s.duration[1] / 1e6;
process.on("message", (message: { id: number; stages?: string; reset?: boolean; rss?: boolean }) => {
  let answer: unknown = null;
  if (message.stages) {
    answer = Object.fromEntries(
      recorder
        .spans(message.stages)
        .filter((s) => (SEARCH_STAGES as readonly string[]).includes(s.name))
        .map((s) => [s.name.replace("search.", ""), spanMs(s)]),
    );
    recorder.reset();
  } else if (message.reset) recorder.reset();
  else if (message.rss) answer = Math.round(process.memoryUsage.rss() / 1024 / 1024);
  process.send!({ id: message.id, answer });
});
process.once("SIGTERM", () => server.stop().then(() => process.exit(0)));
console.log(`ready ${server.port}`);
