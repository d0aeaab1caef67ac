/**
 * `bun run backfill` as its own process on an embedded data directory: `--check` counts what is
 * missing (exit 1), a run fills embeddings and hypernyms (labels need a labeler: without one, an
 * image without text is counted but left as it is), and `--check` then exits 0. The refusal beside
 * a running service is in `data-safety.test.ts`; labels from a labeler that was down, in
 * `hostile-pipelines.test.ts`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { openDatabase } from "../src/db/client.ts";
import { createOfflineEmbedder, createWordVectors } from "../src/ai/index.ts";
import { bulkInsertImages, getEmbedding } from "../src/db/images.ts";
import { silentLogger } from "../src/log.ts";
import { noopTelemetry } from "../src/telemetry/index.ts";
import { runCli } from "./harness/service.ts";

describe("bun run backfill, as a process", () => {
  let dataDir: string;
  const run = (...args: string[]) => runCli(["src/cli/backfill.ts", ...args], { DATA_DIR: dataDir, LOG_LEVEL: "error" });
  /** With the info log, which names each `VACUUM ANALYZE` the CLI runs as it closes. */
  const runLogged = (...args: string[]) => runCli(["src/cli/backfill.ts", ...args], { DATA_DIR: dataDir, LOG_LEVEL: "info" });
  const vacuumed = (r: { stdout: string; stderr: string }) => `${r.stdout}${r.stderr}`.includes("database maintenance: vacuum analyze");
  const counts = (text: number, embeddings: number, hypernyms: number) =>
    `images without caption or labels: ${text}${text > 0 ? " (no labeler configured, GEMINI_API_KEY unset: left as they are)" : ""}\n` +
    `images without a wink-sg-100d embedding: ${embeddings}\n` +
    `images without hypernyms: ${hypernyms}\n`;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "backfill-cli-"));
    const database = await openDatabase({ dataDir, telemetry: noopTelemetry(), log: silentLogger, databaseUrl: undefined });
    await bulkInsertImages(
      database.db,
      ["Espresso in a white cup", "A heron in the reeds", "A velvet sofa", null].map((caption, i) => ({
        image: { storageKey: `x/${i}.png`, mimeType: "image/png", width: 1, height: 1, byteSize: 1, sha256: `cli-${i}`, caption },
        embeddings: [],
      })),
    );
    await database.close();
  }, 60_000);
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  test("--check counts what is missing and exits 1; the backfill fills embeddings and hypernyms; --check then exits 0", async () => {
    const checked = await runLogged("--check");
    expect(checked.code).toBe(1);
    expect(checked.stdout).toContain(counts(1, 3, 4));
    // Counting writes nothing, so it does not vacuum (~1 s at 100k images); filling does.
    expect(vacuumed(checked)).toBe(false);
    const filled = await runLogged("--batch", "3");
    expect(vacuumed(filled)).toBe(true);
    filled.stdout = filled.stdout.replace(/^\{.*\n/gm, "");
    expect(filled.code).toBe(0);
    expect(filled.stdout.startsWith(counts(1, 3, 4))).toBe(true);
    expect(filled.stdout.slice(counts(1, 3, 4).length)).toMatch(/^labelled 0, embedded 3 \(wink-sg-100d\), expanded 4 \(hypernyms\) in \d+ ms; still missing 0\n$/);
    expect(filled.stderr).toContain("embeddings: 3/3 images");
    expect(filled.stderr).toContain("hypernyms: 3/4 images");
    expect(filled.stderr).toContain("hypernyms: 4/4 images");
    // The image without text stays as it is (no labeler), and is no reason to fail.
    expect(await run("--check")).toMatchObject({ code: 0, stdout: counts(1, 0, 0) });
    expect(await run()).toMatchObject({ code: 0, stdout: counts(1, 0, 0) });
    const database = await openDatabase({ dataDir, telemetry: noopTelemetry(), log: silentLogger, databaseUrl: undefined });
    try {
      const rows = (await database.db.execute(
        sql`select caption, hypernyms, (select count(*)::int from image_embeddings e where e.image_id = images.id and e.model = 'wink-sg-100d') as embeddings from images order by sha256`,
      )) as unknown as { rows: { caption: string | null; hypernyms: string[]; embeddings: number }[] };
      expect(rows.rows.find((r) => r.caption?.startsWith("Espresso"))!.hypernyms).toContain("beverage");
      expect(rows.rows.find((r) => r.caption === null)!.hypernyms).toEqual([]);
      expect(rows.rows.map((r) => r.embeddings)).toEqual([1, 1, 1, 0]);
      // One embedder call for the page: each image got the vector of its own text.
      const embedder = createOfflineEmbedder(createWordVectors());
      const captioned = (await database.db.execute(sql`select id, caption from images where caption is not null order by id`)) as unknown as { rows: { id: string; caption: string }[] };
      const expected = await embedder.embed(captioned.rows.map((r) => r.caption), "document");
      const stored = await Promise.all(captioned.rows.map((r) => getEmbedding(database.db, r.id, embedder.model)));
      expect(stored.map((e) => e!.vector.map((v) => v.toFixed(5)))).toEqual(expected.map((v) => v.map((x) => x.toFixed(5))));
    } finally {
      await database.close();
    }
  }, 120_000);

  test("a bad --batch or an unknown option is refused before anything is opened", async () => {
    expect(await run("--batch", "0")).toMatchObject({ code: 2, stderr: "--batch must be a whole number from 1 to 5000\n" });
    const unknown = await run("--hypernyms-only");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("usage: bun run backfill [--check] [--batch N]");
  });
});
