/**
 * `ingest.embed`: one text embedding per image, of its caption, labels and category, through
 * the configured embedder (offline word vectors or Gemini). The model name is kept beside the
 * vector so search compares like with like. An embedder that fails or times out does not fail
 * the upload: the image is stored without that embedding (`bun run backfill` adds it later).
 */
import type { Embedder } from "../ai/types.ts";
import type { EmbeddingInput } from "../db/images.ts";
import { SPAN, type Telemetry } from "../telemetry/index.ts";
import { markDegraded } from "./degraded.ts";
import type { ImageText } from "./label.ts";

/** What the embed stage produced: the embeddings to store, and why there is none when the model failed. */
export interface EmbedOutcome {
  embeddings: EmbeddingInput[];
  /** Set when the embedder failed: the model error's kind (or the error's name). */
  degraded?: string;
}

/**
 * The text an image is embedded by: caption, labels, category; empty when it has none of them.
 *
 * @example
 * embeddingText({ caption: "A quiet harbour", labels: ["boat", "sea"], category: "natural" })
 * // "A quiet harbour. boat, sea. natural"
 */
export function embeddingText(text: Pick<ImageText, "caption" | "labels" | "category">): string {
  const parts = [text.caption ?? "", text.labels.join(", "), (text.category ?? "").replace(/-/g, " ")];
  return parts.filter((p) => p.trim() !== "").join(". ");
}

/**
 * Embeds an image's text in the `ingest.embed` span; no embedding (an empty list) when the image
 * has no text, so no meaningless vector is indexed, or when the embedder failed (the span is
 * marked degraded).
 *
 * @example
 * const { embeddings, degraded } = await embedStage({ telemetry, embedder }, text);
 */
export async function embedStage(deps: { telemetry: Telemetry; embedder: Embedder }, text: Pick<ImageText, "caption" | "labels" | "category">): Promise<EmbedOutcome> {
  const { embeddings: [embedding], degraded } = await embedTexts(deps, [text]);
  return { embeddings: embedding ? [embedding] : [], ...(degraded ? { degraded } : {}) };
}

/** One embedding per text given (undefined: it has no text, or the embedder failed), and why when the model failed. */
export interface EmbedTextsOutcome {
  embeddings: (EmbeddingInput | undefined)[];
  degraded?: string;
}

/**
 * Embeds several images' texts in one `ingest.embed` span and one embedder call (Gemini takes
 * 100 texts a request: the backfill pays one round trip a page, not one an image). Texts that are
 * empty get no embedding; an embedder failure leaves all without and marks the span degraded.
 *
 * @example
 * const { embeddings } = await embedTexts({ telemetry, embedder }, images); // embeddings[i] belongs to images[i]
 */
export function embedTexts(deps: { telemetry: Telemetry; embedder: Embedder }, texts: readonly Pick<ImageText, "caption" | "labels" | "category">[]): Promise<EmbedTextsOutcome> {
  const { embedder } = deps;
  return deps.telemetry.tracedSpan(SPAN.ingestEmbed, { "embedding.model": embedder.model, "embedding.dimensions": embedder.dimensions }, async (span) => {
    const inputs = texts.map(embeddingText);
    const wanted = inputs.flatMap((input, i) => (input === "" ? [] : [i]));
    const embeddings: (EmbeddingInput | undefined)[] = inputs.map(() => undefined);
    span.setAttributes({ "embedding.text_chars": inputs.reduce((n, input) => n + input.length, 0), "embedding.texts": wanted.length });
    if (wanted.length === 0) {
      span.setAttribute("embedding.skipped", true);
      return { embeddings };
    }
    let vectors: number[][];
    try {
      vectors = await embedder.embed(wanted.map((i) => inputs[i]!), "document");
    } catch (error) {
      return { embeddings, degraded: markDegraded(span, error) };
    }
    wanted.forEach((index, k) => {
      const vector = vectors[k];
      if (!vector || vector.length !== embedder.dimensions) {
        throw new Error(`embedder ${embedder.model} answered ${vector?.length ?? 0} values for ${embedder.dimensions} dimensions`);
      }
      embeddings[index] = { model: embedder.model, dimensions: embedder.dimensions, vector };
    });
    return { embeddings };
  });
}
