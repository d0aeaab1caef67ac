import sharp from "sharp";
import { ModelError } from "../ai/types.ts";
import { updateGeneration, type Db, type GenerationPatch, type GenerationRow } from "../db/index.ts";
import { extractPalette } from "../ingest/palette.ts";
import { IMMUTABLE_CACHE } from "../ingest/store.ts";
import { generatedKey } from "../storage/keys.ts";
import type { BlobStore } from "../storage/types.ts";
import { SPAN, type Telemetry } from "../telemetry/index.ts";

export interface StoreDeps {
  telemetry: Telemetry;
  db: Db;
  storage: BlobStore;
}

export interface StoredImage {
  row: GenerationRow;
  key: string;
  width: number;
  height: number;
  hexColors: string[];
}

/**
 * `generation.store`: the model's image normalised to PNG (kept as is when it already is one),
 * its five dominant colours (the ingest palette), put under `generated/`, and the generation row
 * updated with `patch` (status, timings, usage) plus the key and colours.
 *
 * @example
 * const stored = await storeGeneratedImage(deps, generation.id, result.bytes, { status: "succeeded", latencyMs });
 */
export function storeGeneratedImage(deps: StoreDeps, id: string, bytes: Uint8Array, patch: GenerationPatch): Promise<StoredImage> {
  return deps.telemetry.tracedSpan(SPAN.generationStore, {}, async (span) => {
    let png: Uint8Array;
    let width: number;
    let height: number;
    try {
      const image = sharp(bytes, { failOn: "error" });
      const meta = await image.metadata();
      width = meta.autoOrient?.width ?? meta.width;
      height = meta.autoOrient?.height ?? meta.height;
      png = meta.format === "png" && (meta.orientation ?? 1) === 1 ? bytes : new Uint8Array(await image.rotate().png().toBuffer());
      span.setAttribute("generation.output_source_format", meta.format ?? "unknown");
    } catch (error) {
      throw new ModelError("no_image", `the model's image could not be decoded: ${(error as Error).message}`);
    }
    const key = generatedKey(id, "png");
    const [hexColors] = await Promise.all([
      extractPalette(png, 5),
      deps.storage.put(key, png, { contentType: "image/png", cacheControl: IMMUTABLE_CACHE }),
    ]);
    const row = await updateGeneration(deps.db, id, { ...patch, outputKey: key, hexColors });
    if (!row) throw new Error(`generation ${id} vanished before it was stored`);
    span.setAttributes({ "generation.output_bytes": png.byteLength, "generation.output_width": width, "generation.output_height": height });
    return { row, key, width, height, hexColors };
  });
}
