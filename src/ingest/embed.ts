/**
 * `ingest.embed`: one text embedding per image, of its caption, labels and category, through
 * the configured embedder (offline word vectors or Gemini). The model name is kept beside the
 * vector so search compares like with like.
 */
import { ModelError, type Embedder } from "../ai/types.ts";
import type { EmbeddingInput } from "../db/images.ts";
import { SPAN, type Telemetry } from "../telemetry/index.ts";
import { EmbeddingUnavailableError } from "./errors.ts";
import type { ImageText } from "./label.ts";

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
 * has no text, so no meaningless vector is indexed.
 *
 * @example
 * const embeddings = await embedStage({ telemetry, embedder }, text); // [{ model: "wink-sg-100d", dimensions: 100, vector }]
 */
export function embedStage(deps: { telemetry: Telemetry; embedder: Embedder }, text: Pick<ImageText, "caption" | "labels" | "category">): Promise<EmbeddingInput[]> {
  const { embedder } = deps;
  return deps.telemetry.tracedSpan(SPAN.ingestEmbed, { "embedding.model": embedder.model, "embedding.dimensions": embedder.dimensions }, async (span) => {
    const input = embeddingText(text);
    span.setAttribute("embedding.text_chars", input.length);
    if (input === "") {
      span.setAttribute("embedding.skipped", true);
      return [];
    }
    let vector: number[] | undefined;
    try {
      [vector] = await embedder.embed([input], "document");
    } catch (error) {
      if (error instanceof ModelError) {
        throw new EmbeddingUnavailableError(`the embedding model ${embedder.model} failed (${error.kind}); nothing was stored, try again`, { cause: error });
      }
      throw error;
    }
    if (!vector || vector.length !== embedder.dimensions) {
      throw new Error(`embedder ${embedder.model} answered ${vector?.length ?? 0} values for ${embedder.dimensions} dimensions`);
    }
    return [{ model: embedder.model, dimensions: embedder.dimensions, vector }];
  });
}
