import type { AppConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Telemetry } from "../telemetry/index.ts";
import { createGeminiClient } from "./gemini-client.ts";
import { createGeminiEmbedder } from "./gemini-embedder.ts";
import { createGeminiLabeler } from "./gemini-labeler.ts";
import { createGeminiTextModel } from "./gemini-text.ts";
import { createOfflineEmbedder } from "./offline-embedder.ts";
import type { AiProviderKind, Embedder, Labeler, TextModel, WordVectors } from "./types.ts";
import { createWordVectors } from "./word-vectors.ts";

export * from "./types.ts";
export { createOfflineEmbedder, OFFLINE_EMBEDDING_MODEL } from "./offline-embedder.ts";
export { createWordVectors, buildWordVectorCache } from "./word-vectors.ts";
export { createGeminiClient, classifyGeminiError, deadlineSignal, withDeadline } from "./gemini-client.ts";
export { createGeminiEmbedder } from "./gemini-embedder.ts";
export { createGeminiTextModel } from "./gemini-text.ts";
export { createGeminiLabeler } from "./gemini-labeler.ts";

/** The model providers of one process. */
export interface AiProviders {
  kind: AiProviderKind;
  /** Embeds stored images and queries; Gemini with a key, word vectors otherwise. */
  embedder: Embedder;
  /** Always the offline word vectors (query expansion uses them with or without a key). */
  wordVectors: WordVectors;
  /** Gemini JSON text calls (query rewrite, reranking); absent offline. */
  textModel?: TextModel;
  /** Gemini image labels; absent offline (ingest then keeps the caption and labels it was given). */
  labeler?: Labeler;
  /** The Gemini SDK client, for providers other parts add (image generation); absent offline. */
  gemini?: ReturnType<typeof createGeminiClient>;
}

/** Options for {@link createAiProviders}. */
export interface AiProviderDeps {
  telemetry?: Telemetry;
  log?: Logger;
  /** Shares one loaded vector table between several providers (tests, benchmarks). */
  wordVectors?: WordVectors;
}

/**
 * Chooses the providers: Gemini when `GEMINI_API_KEY` is set, the embedded offline models
 * otherwise. Word vectors load lazily (`wordVectors.ready()`), so startup stays fast.
 *
 * @example
 * const ai = createAiProviders(config, { log });
 * const [v] = await ai.embedder.embed(["red car"], "query");
 */
export function createAiProviders(config: AppConfig, deps: AiProviderDeps = {}): AiProviders {
  const wordVectors = deps.wordVectors ?? createWordVectors({ log: deps.log, cacheDir: config.wordVectorsCacheDir });
  if (!config.gemini.apiKey) {
    return { kind: "offline", embedder: createOfflineEmbedder(wordVectors), wordVectors };
  }
  const gemini = createGeminiClient(config.gemini);
  return {
    kind: "gemini",
    gemini,
    wordVectors,
    embedder: createGeminiEmbedder(gemini, { model: config.gemini.embeddingModel, dimensions: 768, timeoutMs: config.gemini.auxTimeoutMs * 4 }),
    textModel: createGeminiTextModel(gemini, config.gemini.textModel, { timeoutMs: config.gemini.auxTimeoutMs }),
    labeler: createGeminiLabeler(gemini, config.gemini.textModel, { timeoutMs: config.gemini.timeoutMs }),
  };
}
