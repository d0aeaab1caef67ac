import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createOfflineEmbedder, createWordVectors } from "../src/ai/index.ts";
import { loadConfig } from "../src/config.ts";
import { openDatabase, type Database } from "../src/db/client.ts";
import type { ImageRow } from "../src/db/schema.ts";
import { createTestDatabase } from "../src/db/testing.ts";
import { silentLogger } from "../src/log.ts";
import { createSearchDeps, searchImages, type SearchDeps } from "../src/search/pipeline.ts";
import { createTestTelemetry } from "../src/telemetry/index.ts";
import { startNeonBridge, type NeonBridge } from "./harness/neon-bridge.ts";
import { insertFixture } from "./search-fixture.ts";

const config = loadConfig({ LOG_LEVEL: "silent" });
const wordVectors = createWordVectors();
const embedder = createOfflineEmbedder(wordVectors);
const { telemetry, recorder } = createTestTelemetry();
let bridge: NeonBridge;
let neon: Database;
let pglite: Database;
let rows: Map<string, ImageRow>;

beforeAll(async () => {
  bridge = await startNeonBridge();
  neon = await openDatabase({ databaseUrl: bridge.url, neon: bridge.neon, maxConnections: 1, connectTimeoutMs: 5_000, dataDir: "/unused", telemetry, log: silentLogger });
  rows = await insertFixture(neon, embedder);
  pglite = await createTestDatabase(telemetry);
  await insertFixture(pglite, embedder);
}, 60_000);
afterAll(async () => {
  await neon?.close();
  await pglite?.close();
  await bridge?.stop();
});

/** Start and end (ms) of a stage span of a trace. */
function window(traceId: string, name: string): [number, number] {
  const span = recorder.spans(traceId).find((s) => s.name === name)!;
  const ms = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
  return [ms(span.startTime), ms(span.endTime)];
}

async function traced(deps: SearchDeps, query: string) {
  const parent = telemetry.startSpan("test.search");
  const outcome = await telemetry.withSpan(parent, () => searchImages(deps, { query, limit: 5 }));
  parent.end();
  return { outcome, traceId: parent.spanContext().traceId };
}

describe("search over the Neon driver", () => {
  test("answers like PGlite, each branch one statement, and the two branches run at the same time", async () => {
    const deps = createSearchDeps({ db: neon, embedder, wordVectors, telemetry, config });
    await deps.vocabulary.refresh(); // loaded once; later searches check it at most once a second
    const { outcome, traceId } = await traced(deps, "red sports car");
    expect(outcome.results[0]!.id).toBe(rows.get("red-car")!.id);
    expect(outcome.degraded).toEqual([]);
    const [vectorStart, vectorEnd] = window(traceId, "search.vector");
    const [textStart, textEnd] = window(traceId, "search.fulltext");
    // Both statements were issued before either answered (Neon: a pool, `database.concurrent`).
    expect(Math.max(vectorStart, textStart)).toBeLessThan(Math.min(vectorEnd, textEnd));
    const statements = recorder.spans(traceId).filter((s) => s.attributes["db.system.name"] === "postgresql");
    expect(statements.map((s) => s.name).sort()).toEqual(["SELECT image_embeddings", "SELECT images"]);
  });

  test("on PGlite (one engine) the branches run one after the other, so each span measures its own work", async () => {
    const deps = createSearchDeps({ db: pglite, embedder, wordVectors, telemetry, config });
    const { traceId } = await traced(deps, "red sports car");
    const [, vectorEnd] = window(traceId, "search.vector");
    const [textStart] = window(traceId, "search.fulltext");
    expect(textStart).toBeGreaterThanOrEqual(vectorEnd);
  });
});
