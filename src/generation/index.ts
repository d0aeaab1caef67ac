import type { GoogleGenAI } from "@google/genai";
import { createGeminiImageModel } from "../ai/gemini-image.ts";
import type { ImageModel } from "../ai/image-model.ts";
import { createOfflineImageModel } from "../ai/offline-image.ts";
import type { TextModel, WordVectors } from "../ai/types.ts";
import type { AppConfig } from "../config.ts";
import type { Db } from "../db/index.ts";
import type { Logger } from "../log.ts";
import type { BlobStore } from "../storage/types.ts";
import type { Telemetry } from "../telemetry/index.ts";
import { ConcurrencyLimiter } from "../limiter.ts";
import type { GenerationDeps } from "./pipeline.ts";

export { generateImage, GENERATION_ATTR } from "./pipeline.ts";
export type { GenerateRequest, GenerationDeps } from "./pipeline.ts";
export { GenerationFailedError, GENERATION_FAILURE_STATUS } from "./errors.ts";
export { buildPrompt, ANGLE_PRESETS, TONE_RATIOS } from "./prompt.ts";
export { classifyPrompt, classifyOffline, CATEGORIES } from "./classify.ts";

/**
 * The image model the settings ask for: Gemini with `GEMINI_API_KEY`, the offline renderer
 * otherwise.
 *
 * @example
 * const model = createImageModel(config, telemetry); // model.provider === "offline" without a key
 */
export function createImageModel(config: AppConfig, telemetry?: Telemetry, client?: GoogleGenAI): ImageModel {
  if (!config.gemini.apiKey) return createOfflineImageModel();
  return createGeminiImageModel({
    apiKey: config.gemini.apiKey,
    baseUrl: config.gemini.baseUrl,
    model: config.gemini.imageModel,
    timeoutMs: config.gemini.timeoutMs,
    client,
    telemetry,
  });
}

/**
 * Everything the generation pipeline needs, from the process's open resources.
 *
 * @example
 * const generation = createGenerationDeps({ config, telemetry, log, db: database.db, storage, ai });
 */
export function createGenerationDeps(input: {
  config: AppConfig;
  telemetry: Telemetry;
  log: Logger;
  db: Db;
  storage: BlobStore;
  /** The process's AI providers: the Gemini text model classifies, word vectors help offline, the SDK client is shared. */
  ai?: { textModel?: TextModel; wordVectors?: WordVectors; gemini?: GoogleGenAI };
  imageModel?: ImageModel;
}): GenerationDeps {
  return {
    telemetry: input.telemetry,
    log: input.log,
    db: input.db,
    storage: input.storage,
    imageModel: input.imageModel ?? createImageModel(input.config, input.telemetry, input.ai?.gemini),
    limiter: new ConcurrencyLimiter({
      concurrency: input.config.generation.concurrency,
      queueLimit: input.config.generation.queueLimit,
      busyMessage: "too many generations in progress",
    }),
    textModel: input.ai?.textModel,
    wordVectors: input.ai?.wordVectors,
    classifyTimeoutMs: input.config.gemini.auxTimeoutMs,
  };
}
