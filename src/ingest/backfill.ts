/**
 * Fills in what an upload stored without because a model was down (`degraded` in its answer):
 * labels from the vision labeler, and embeddings of the configured embedder. Safe to run beside
 * the service and more than once: it only adds what is missing and never overwrites text.
 */
import { fillImageText, saveEmbedding, imagesWithoutEmbedding, imagesWithoutText } from "../db/images.ts";
import type { ImageRow } from "../db/schema.ts";
import { thumbnailKey } from "../storage/keys.ts";
import { SPAN } from "../telemetry/index.ts";
import { embedStage } from "./embed.ts";
import { labelStage } from "./label.ts";
import type { IngestDeps } from "./pipeline.ts";

/** What a backfill needs: the ingest dependencies, without the upload limits. */
export type BackfillDeps = Pick<IngestDeps, "db" | "storage" | "embedder" | "labeler" | "telemetry" | "log"> & {
  config: { gemini: { auxTimeoutMs: number } };
};

export interface BackfillReport {
  /** Images given a caption and labels by the labeler. */
  labelled: number;
  /** Embeddings added, or replaced after new labels (model `embedder.model`). */
  embedded: number;
  /** Images still missing something, and why. */
  failed: { id: string; stage: string; reason: string }[];
}

/** Visits every image `page` returns once, in id order, a batch at a time. */
async function eachImage(page: (afterId: string | undefined) => Promise<ImageRow[]>, visit: (image: ImageRow) => Promise<void>): Promise<void> {
  let afterId: string | undefined;
  for (;;) {
    const batch = await page(afterId);
    if (batch.length === 0) return;
    for (const image of batch) await visit(image);
    afterId = batch.at(-1)!.id;
  }
}

/**
 * Labels every image without caption or labels (when a labeler is configured; from its stored
 * thumbnail, as at ingest), then embeds every image with text but no embedding of the configured
 * embedder. Each image is one `ingest.file` trace with the usual `ingest.label`/`ingest.embed`
 * spans. Images that fail again are listed and left as they were.
 *
 * @example
 * const report = await backfillImages(deps); // { labelled: 3, embedded: 5, failed: [] }
 */
export async function backfillImages(deps: BackfillDeps, options: { batchSize?: number } = {}): Promise<BackfillReport> {
  const limit = options.batchSize ?? 50;
  const report: BackfillReport = { labelled: 0, embedded: 0, failed: [] };
  const { labeler } = deps;
  const traced = (image: ImageRow, fn: () => Promise<void>) =>
    deps.telemetry.tracedSpan(SPAN.ingestFile, { "image.id": image.id, "ingest.backfill": true }, fn);

  const embed = async (image: Pick<ImageRow, "id" | "caption" | "labels" | "category">, options: { replace: boolean }) => {
    const { embeddings, degraded } = await embedStage(deps, image);
    const [embedding] = embeddings;
    if (!embedding) report.failed.push({ id: image.id, stage: SPAN.ingestEmbed, reason: `the embedder failed again (${degraded ?? "no text"})` });
    else if (await saveEmbedding(deps.db, image.id, embedding, options)) report.embedded++;
  };

  if (labeler) {
    await eachImage(
      (afterId) => imagesWithoutText(deps.db, { limit, afterId }),
      (image) =>
        traced(image, async () => {
          const thumbnail = await deps.storage.get(thumbnailKey(image.id));
          if (!thumbnail) {
            report.failed.push({ id: image.id, stage: SPAN.ingestLabel, reason: "its thumbnail is missing from storage" });
            return;
          }
          const text = await labelStage(
            { telemetry: deps.telemetry, labeler, log: deps.log, timeoutMs: deps.config.gemini.auxTimeoutMs },
            { category: image.category ?? undefined },
            { bytes: thumbnail.bytes, mimeType: "image/webp" },
          );
          if (text.source !== "model") {
            report.failed.push({ id: image.id, stage: SPAN.ingestLabel, reason: "the labeler failed again" });
            return;
          }
          if (!(await fillImageText(deps.db, image.id, text))) return;
          report.labelled++;
          // Any embedding it has is of the category alone: the new text replaces it.
          await embed({ ...image, ...text, category: image.category ?? text.category }, { replace: true });
        }),
    );
  }

  await eachImage(
    (afterId) => imagesWithoutEmbedding(deps.db, deps.embedder.model, { limit, afterId }),
    (image) =>
      traced(image, () => embed(image, { replace: false })),
  );
  return report;
}
