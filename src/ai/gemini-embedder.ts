import type { GoogleGenAI } from "@google/genai";
import { deadlineSignal, withDeadline } from "./gemini-client.ts";
import { ModelError, type Embedder, type EmbedKind } from "./types.ts";

/** Texts per `batchEmbedContents` request (the API's limit is 100). */
const BATCH = 100;

/** Options for {@link createGeminiEmbedder}. */
export interface GeminiEmbedderOptions {
  model?: string;
  dimensions?: number;
  timeoutMs?: number;
}

function normalise(values: number[], dimensions: number): number[] {
  if (values.length !== dimensions) throw new ModelError("malformed", `Gemini returned ${values.length} dimensions, expected ${dimensions}`);
  const norm = Math.hypot(...values);
  if (!Number.isFinite(norm) || norm === 0) throw new ModelError("malformed", "Gemini returned a zero or non-finite vector");
  return values.map((v) => v / norm);
}

/**
 * Gemini embeddings (`gemini-embedding-001`, 768 dims by default): documents with
 * `RETRIEVAL_DOCUMENT`, queries with `RETRIEVAL_QUERY`, in batches of 100, each vector
 * re-normalised (Gemini only normalises the full 3072-dim output).
 *
 * @example
 * const embedder = createGeminiEmbedder(createGeminiClient(config.gemini));
 * const [v] = await embedder.embed(["red car"], "query"); // v.length === 768
 */
export function createGeminiEmbedder(ai: GoogleGenAI, options: GeminiEmbedderOptions = {}): Embedder {
  const model = options.model ?? "gemini-embedding-001";
  const dimensions = options.dimensions ?? 768;
  return {
    model,
    dimensions,
    remote: true,
    async embed(texts: string[], kind: EmbedKind, call: { timeoutMs?: number } = {}) {
      const out: number[][] = [];
      for (let start = 0; start < texts.length; start += BATCH) {
        const batch = texts.slice(start, start + BATCH).map((t) => (t.trim() === "" ? " " : t));
        const deadline = deadlineSignal(call.timeoutMs ?? options.timeoutMs);
        try {
          const answer = await withDeadline(
            deadline,
            ai.models.embedContent({
              model,
              contents: batch,
              config: {
                taskType: kind === "document" ? "RETRIEVAL_DOCUMENT" : "RETRIEVAL_QUERY",
                outputDimensionality: dimensions,
                abortSignal: deadline.signal,
              },
            }),
          );
          const embeddings = answer.embeddings ?? [];
          if (embeddings.length !== batch.length) {
            throw new ModelError("malformed", `Gemini returned ${embeddings.length} embeddings for ${batch.length} texts`);
          }
          for (const e of embeddings) out.push(normalise(e.values ?? [], dimensions));
        } finally {
          deadline.clear();
        }
      }
      return out;
    },
  };
}
