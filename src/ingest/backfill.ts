/**
 * Fills in what an image was stored without (`imagesMissing` in `src/db/images.ts` says what
 * that is): labels from the vision labeler (it was down at upload, `degraded` in the answer),
 * embeddings of the configured embedder (it was down, or the model changed since), WordNet
 * hypernyms (stored before they existed, or WordNet could not be read). One function per part:
 * `bun run backfill` runs them in that order, and `doctor --repair` runs each from its check.
 * Safe beside a running service (on Neon) and more than once: only what is missing is added, and
 * text is never overwritten.
 */
import type { Labeler } from "../ai/types.ts";
import { eachPageMissing, fillImageText, saveEmbeddings } from "../db/images.ts";
import type { ImageRow } from "../db/schema.ts";
import { thumbnailKey } from "../storage/keys.ts";
import { SPAN } from "../telemetry/index.ts";
import { embedStage, embedTexts } from "./embed.ts";
import { backfillHypernyms } from "./hypernyms.ts";
import { labelStage } from "./label.ts";
import type { IngestDeps } from "./pipeline.ts";

/** What a backfill needs: the ingest dependencies, without the upload limits. */
export type BackfillDeps = Pick<IngestDeps, "db" | "storage" | "embedder" | "labeler" | "hypernyms" | "telemetry" | "log"> & {
  config: { gemini: { auxTimeoutMs: number } };
};

/** An image the backfill could not fill, and why; it is left as it was. */
export interface BackfillFailure {
  id: string;
  stage: string;
  reason: string;
}

export interface BackfillReport {
  /** Images given a caption and labels by the labeler. */
  labelled: number;
  /** Embeddings added, or replaced after new labels (model `embedder.model`). */
  embedded: number;
  /** Images given their WordNet hypernyms. */
  expanded: number;
  /** Images still missing something, and why. */
  failed: BackfillFailure[];
}

/** Options of every part: the page size, and a call after each page with the images done so far. */
export interface BackfillOptions {
  /** Images per page (and per embedder call); default 50 for labels and embeddings, 500 for hypernyms. */
  batchSize?: number;
  onProgress?: (part: "labels" | "embeddings" | "hypernyms", done: number) => void;
}

const embedFailure = (id: string, degraded: string | undefined): BackfillFailure => ({
  id,
  stage: SPAN.ingestEmbed,
  reason: `the embedder failed again (${degraded ?? "no text"})`,
});

/**
 * Labels every image without caption or labels from its stored thumbnail, as at ingest, and
 * embeds (replacing: any embedding it had was of the category alone) and expands its new text.
 * Each image is one `ingest.file` trace with the usual `ingest.label`/`ingest.embed` spans.
 *
 * @example
 * const { labelled, failed } = await backfillLabels({ ...deps, labeler });
 */
export async function backfillLabels(
  deps: BackfillDeps & { labeler: Labeler },
  options: BackfillOptions = {},
): Promise<Pick<BackfillReport, "labelled" | "embedded" | "failed">> {
  const report = { labelled: 0, embedded: 0, failed: [] as BackfillFailure[] };
  let done = 0;
  const label = (image: ImageRow) =>
    deps.telemetry.tracedSpan(SPAN.ingestFile, { "image.id": image.id, "ingest.backfill": true }, async () => {
      const thumbnail = await deps.storage.get(thumbnailKey(image.id));
      if (!thumbnail) {
        report.failed.push({ id: image.id, stage: SPAN.ingestLabel, reason: "its thumbnail is missing from storage" });
        return;
      }
      const text = await labelStage(
        { telemetry: deps.telemetry, labeler: deps.labeler, log: deps.log, timeoutMs: deps.config.gemini.auxTimeoutMs, hypernyms: deps.hypernyms },
        { category: image.category ?? undefined },
        { bytes: thumbnail.bytes, mimeType: "image/webp" },
      );
      if (text.source !== "model") {
        report.failed.push({ id: image.id, stage: SPAN.ingestLabel, reason: "the labeler failed again" });
        return;
      }
      if (!(await fillImageText(deps.db, image.id, text))) return;
      report.labelled++;
      // Any embedding it had is of the category alone: the new text's replaces it.
      const { embeddings: [embedding], degraded } = await embedStage(deps, { ...text, category: image.category ?? text.category });
      if (!embedding) report.failed.push(embedFailure(image.id, degraded));
      else report.embedded += await saveEmbeddings(deps.db, [{ imageId: image.id, embedding }], { replace: true });
    });
  await eachPageMissing(deps.db, "text", options.batchSize ?? 50, async (page) => {
    for (const image of page) await label(image);
    options.onProgress?.("labels", (done += page.length));
  });
  return report;
}

/**
 * Embeds every image with text but no embedding of the configured embedder, a page per embedder
 * call (one `ingest.embed` span each). Images the embedder fails on again are listed.
 *
 * @example
 * const { embedded } = await backfillEmbeddings({ db, embedder, telemetry });
 */
export async function backfillEmbeddings(
  deps: Pick<BackfillDeps, "db" | "embedder" | "telemetry">,
  options: BackfillOptions = {},
): Promise<Pick<BackfillReport, "embedded" | "failed">> {
  const report = { embedded: 0, failed: [] as BackfillFailure[] };
  let done = 0;
  await eachPageMissing(deps.db, { embedding: deps.embedder.model }, options.batchSize ?? 50, async (page) => {
    const { embeddings, degraded } = await embedTexts(deps, page);
    const rows = page.flatMap((image, i) => {
      const embedding = embeddings[i];
      if (!embedding) report.failed.push(embedFailure(image.id, degraded));
      return embedding ? [{ imageId: image.id, embedding }] : [];
    });
    report.embedded += await saveEmbeddings(deps.db, rows);
    options.onProgress?.("embeddings", (done += page.length));
  });
  return report;
}

/**
 * Everything `bun run backfill` fills: labels (when a labeler is configured), then embeddings of
 * the configured embedder, then WordNet hypernyms (when an expander is given).
 *
 * @example
 * const report = await backfillImages(deps); // { labelled: 3, embedded: 5, expanded: 12, failed: [] }
 */
export async function backfillImages(deps: BackfillDeps, options: BackfillOptions = {}): Promise<BackfillReport> {
  const { labeler, hypernyms } = deps;
  const labels = labeler ? await backfillLabels({ ...deps, labeler }, options) : { labelled: 0, embedded: 0, failed: [] };
  const embeddings = await backfillEmbeddings(deps, options);
  const expanded = hypernyms
    ? await backfillHypernyms(
        { db: deps.db, expander: hypernyms, log: deps.log },
        { batchSize: options.batchSize, onBatch: (r) => options.onProgress?.("hypernyms", r.read) },
      )
    : undefined;
  return {
    labelled: labels.labelled,
    embedded: labels.embedded + embeddings.embedded,
    expanded: expanded?.written ?? 0,
    failed: [...labels.failed, ...embeddings.failed],
  };
}
