import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { folderItems, readSidecar } from "../src/cli/ingest.ts";
import { demoItems } from "../src/cli/seed.ts";
import { listImages } from "../src/db/images.ts";
import { httpSink, pipelineSink, progressLine, runBulk, summarize, type BulkProgress } from "../src/ingest/bulk.ts";
import { DEMO_CATEGORIES, DEMO_IMAGES } from "../src/ingest/demo/corpus.ts";
import { createLocalBlobStore } from "../src/storage/index.ts";
import { SPAN } from "../src/telemetry/index.ts";
import { bands, scene, TEXT_BYTES } from "./ingest-fixtures.ts";
import { openSuite, stored, type SuiteContext } from "./ingest-suite.shared.ts";

setDefaultTimeout(30_000);

let dir: string;
let photos: string;
let suite: Awaited<ReturnType<typeof openSuite>>;
let ctx: SuiteContext;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ingest-cli-"));
  suite = await openSuite({ store: await createLocalBlobStore(join(dir, "data")), cleanup: async () => {} });
  ctx = suite.ctx;
  photos = join(dir, "photos");
  await Bun.write(join(photos, "harbour.jpg"), await scene(9001, "jpeg"));
  await writeFile(join(photos, "harbour.json"), JSON.stringify({ caption: "Fishing boats in a harbour", labels: ["boats", "harbour"], category: "Landscape" }));
  await Bun.write(join(photos, "bands.png"), await bands([{ hex: "#228833", share: 0.7 }, { hex: "#eeeeee", share: 0.3 }]));
  await writeFile(join(photos, "bands.txt"), "  Green and white stripes \n");
  await Bun.write(join(photos, "plain.webp"), await scene(9002, "webp"));
  await Bun.write(join(photos, "broken.jpg"), TEXT_BYTES);
  await Bun.write(join(photos, "bad-sidecar.gif"), await scene(9003, "gif"));
  await writeFile(join(photos, "bad-sidecar.json"), "{ not json");
  await writeFile(join(photos, "notes.md"), "not an image file name");
  await Bun.write(join(photos, "nested", "deep.jpg"), await scene(9004, "jpeg"));
}, 60_000);

afterAll(async () => {
  await suite.close();
  await rm(dir, { recursive: true, force: true });
});

describe("bulk ingest CLI", () => {
  test("sidecars: name.json gives caption, labels and category; name.txt gives the caption", async () => {
    expect(await readSidecar(join(photos, "harbour.jpg"))).toEqual({ caption: "Fishing boats in a harbour", labels: ["boats", "harbour"], category: "Landscape" });
    expect(await readSidecar(join(photos, "bands.png"))).toEqual({ caption: "Green and white stripes" });
    expect(await readSidecar(join(photos, "plain.webp"))).toEqual({});
    await expect(readSidecar(join(photos, "bad-sidecar.gif"))).rejects.toThrow("bad-sidecar.json is not valid JSON");
  });

  test("a folder is ingested a few at a time, what is stored is skipped, failures are reported with reasons", async () => {
    const items = await folderItems(photos, { role: "tone-ref", category: "natural" });
    expect(items.map((i) => i.name)).toEqual(["bad-sidecar.gif", "bands.png", "broken.jpg", "harbour.jpg", "plain.webp"]);
    const progress: BulkProgress[] = [];
    const first = await runBulk(items, pipelineSink(ctx.deps), { concurrency: 3, onProgress: (p) => progress.push(p) });
    expect(first.map((o) => o.status)).toEqual(["failed", "ingested", "failed", "ingested", "ingested"]);
    expect(first[0]!.reason).toContain("not valid JSON");
    expect(first[2]!.reason).toContain("not a JPEG, PNG, WebP, AVIF or GIF");
    expect(progress.at(-1)).toMatchObject({ done: 5, total: 5, ingested: 3, failed: 2, skipped: 0 });
    expect(summarize(first)).toStartWith("ingested 3, skipped 0 (already stored), failed 2\n  failed: bad-sidecar.gif:");

    const harbour = await ctx.deps.db.query.images.findFirst({ where: (t, { eq }) => eq(t.id, first[3]!.id!) });
    expect(harbour).toMatchObject({ caption: "Fishing boats in a harbour", labels: ["boats", "harbour"], category: "landscape", role: "tone-ref", originalName: "harbour.jpg" });
    expect(await ctx.rawStore.list("refs/tone/landscape/")).toEqual([`refs/tone/landscape/${harbour!.id}.jpg`]);
    const stripes = await ctx.deps.db.query.images.findFirst({ where: (t, { eq }) => eq(t.id, first[1]!.id!) });
    expect(stripes).toMatchObject({ caption: "Green and white stripes", category: "natural" });

    const before = await stored(ctx);
    const again = await runBulk(items, pipelineSink(ctx.deps), { concurrency: 2 });
    expect(again.map((o) => o.status)).toEqual(["failed", "skipped", "failed", "skipped", "skipped"]);
    expect(again[3]!.id).toBe(first[3]!.id);
    expect(again.every((o) => o.notApplied === undefined)).toBe(true);
    expect(await stored(ctx)).toEqual(before);

    // A sidecar edited after the first run: the stored record stays, and the summary says so.
    await writeFile(join(photos, "harbour.json"), JSON.stringify({ caption: "Boats at dusk", labels: ["harbour", "boats"], category: "Seascape" }));
    const edited = await runBulk(items.filter((i) => i.name === "harbour.jpg"), pipelineSink(ctx.deps), { concurrency: 1 });
    expect(edited[0]).toMatchObject({ status: "skipped", id: first[3]!.id, notApplied: ["caption", "category"] });
    expect(summarize(edited)).toContain(`skipped: harbour.jpg: already stored as ${first[3]!.id}; not applied (the stored values were kept): caption, category`);
    await writeFile(join(photos, "harbour.json"), JSON.stringify({ caption: "Fishing boats in a harbour", labels: ["boats", "harbour"], category: "Landscape" }));
  });

  test("each file is one trace rooted at ingest.file with the pipeline stages under it", async () => {
    const items = await folderItems(join(photos, "nested"));
    const [outcome] = await runBulk(items, pipelineSink(ctx.deps), { concurrency: 1 });
    expect(outcome!.status).toBe("ingested");
    const root = ctx.recorder.byName(SPAN.ingestFile).find((s) => s.attributes["image.id"] === outcome!.id)!;
    expect(root.parentSpanContext).toBeUndefined();
    const outline = ctx.recorder.outline(root.spanContext().traceId);
    expect(outline[0]).toBe("ingest.file");
    for (const stage of ["ingest.decode", "ingest.palette", "ingest.label", "ingest.embed", "storage.put"]) expect(outline).toContain(`  ${stage}`);
  });

  test("--recursive finds subfolders; --url uploads to a running service", async () => {
    const items = await folderItems(photos, { recursive: true });
    expect(items.map((i) => i.name)).toContain(join("nested", "deep.jpg"));
    const fresh = [{ name: "new.png", load: async () => ({ bytes: await scene(9100, "png"), caption: "uploaded over HTTP", labels: ["http"] }) }];
    const viaHttp = await runBulk([...fresh, ...items.filter((i) => i.name === "broken.jpg" || i.name === "harbour.jpg")], httpSink(ctx.url), { concurrency: 2 });
    expect(viaHttp.map((o) => o.status)).toEqual(["ingested", "failed", "skipped"]);
    expect(viaHttp[1]!.reason).toStartWith("415 unsupported_image_type:");
  });

  test("the progress line shows count, percentage, rate and ETA", () => {
    expect(progressLine({ done: 12, total: 48, ingested: 10, skipped: 2, failed: 0, elapsedMs: 4000 })).toBe(
      "[#####...............]  12/48  25%  3.0 img/s  ETA 0:12  (10 new, 2 skipped, 0 failed)",
    );
    expect(progressLine({ done: 3, total: 3, ingested: 3, skipped: 0, failed: 0, elapsedMs: 1000 })).toContain("100%");
  });
});

describe("seed", () => {
  test("the demo corpus lands whole: captioned images in every category and tone references for each", async () => {
    const before = await stored(ctx);
    const outcomes = await runBulk(demoItems(), pipelineSink(ctx.deps), { concurrency: 4 });
    expect(outcomes.filter((o) => o.status !== "ingested")).toEqual([]);
    const after = await stored(ctx);
    expect(after.rows - before.rows).toBe(DEMO_IMAGES.length);
    expect(after.keys.length - before.keys.length).toBe(2 * DEMO_IMAGES.length);
    for (const category of DEMO_CATEGORIES) {
      const corpus = await listImages(ctx.deps.db, { limit: 100, role: "corpus", category });
      const tone = await listImages(ctx.deps.db, { limit: 100, role: "tone-ref", category });
      expect(corpus.items.length).toBeGreaterThanOrEqual(3);
      if (category !== "fashion") expect(tone.items.length).toBeGreaterThanOrEqual(1);
      for (const image of [...corpus.items, ...tone.items]) {
        expect(image.caption).toBeTruthy();
        expect(image.hexColors.length).toBeGreaterThan(0);
      }
    }
    const ocean = (await listImages(ctx.deps.db, { limit: 200, role: "corpus", category: "landscape" })).items.find((i) => i.originalName === "ocean-dawn-sailboat.jpg");
    expect(ocean?.caption).toContain("ocean");
    const again = await runBulk(demoItems().slice(0, 5), pipelineSink(ctx.deps), { concurrency: 4 });
    expect(again.every((o) => o.status === "skipped")).toBe(true);
  }, 60_000);
});
