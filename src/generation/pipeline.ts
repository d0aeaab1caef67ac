import type { AspectRatio, ImageModel, ImageResult } from "../ai/image-model.ts";
import { ModelError, type TextModel, type WordVectors } from "../ai/types.ts";
import { insertGeneration, updateGeneration, type Db, type GenerationPatch, type GenerationRow } from "../db/index.ts";
import type { Logger } from "../log.ts";
import type { BlobStore } from "../storage/types.ts";
import { GENAI_ATTR, SPAN, SpanKind, type Telemetry } from "../telemetry/index.ts";
import { classifyPrompt } from "./classify.ts";
import { injectReferences } from "./injection.ts";
import type { ConcurrencyLimiter } from "../limiter.ts";
import { GenerationFailedError } from "./errors.ts";
import { tracedBuildPrompt } from "./prompt.ts";
import { newSeed } from "./seed.ts";
import { storeGeneratedImage } from "./store.ts";

/**
 * Attributes of the model-call span besides the GenAI conventions.
 *
 * @example
 * span.setAttribute(GENERATION_ATTR.queueWaitMs, permit.waitedMs);
 */
export const GENERATION_ATTR = {
  provider: "gen_ai.provider.name",
  queueWaitMs: "generation.queue_wait_ms",
  attempts: "generation.attempts",
  errorType: "error.type",
} as const;

/** What the pipeline needs; the HTTP layer builds it once per process. */
export interface GenerationDeps {
  telemetry: Telemetry;
  log: Logger;
  db: Db;
  storage: BlobStore;
  imageModel: ImageModel;
  limiter: ConcurrencyLimiter;
  /** Gemini classification (with a key); offline keywords and word vectors otherwise. */
  textModel?: TextModel;
  wordVectors?: WordVectors;
  classifyTimeoutMs?: number;
  /** Tone references per generation (default 2). */
  maxReferences?: number;
}

export interface GenerateRequest {
  prompt: string;
  aspectRatio?: AspectRatio;
  category?: string;
  seed?: number;
}

/** Milliseconds since `start`, whole. */
const since = (start: number) => Math.round(performance.now() - start);

/**
 * Runs one generation. A slot of the limiter comes first (`GENERATION_CONCURRENCY`, queue
 * `GENERATION_QUEUE_LIMIT`): a refused request (`OverloadedError`, 503) or one whose client left
 * while queued (`RequestCancelledError`) writes nothing and calls no model. Then a `running` row,
 * classify → injection → prompt build → model call → store, and the row finished as `succeeded`,
 * or `failed` with its error kind and message, latency, token usage and trace id. Every attempt
 * that got a slot is kept. `signal` (the request's) reaches the queue and every model call; when
 * it aborts the work stops and the row ends as failed with kind `cancelled`.
 *
 * @example
 * const row = await generateImage(deps, { prompt: "a red fox in snow", aspectRatio: "3:2" }, request.signal);
 */
export async function generateImage(deps: GenerationDeps, request: GenerateRequest, signal?: AbortSignal): Promise<GenerationRow> {
  const permit = await deps.limiter.acquire(signal);
  try {
    return await runGeneration(deps, request, permit.waitedMs, signal);
  } finally {
    permit.release();
  }
}

/** Throws `ModelError("cancelled")` once the client has gone, so no further stage starts. */
function throwIfCancelled(signal: AbortSignal | undefined, stage: string): void {
  if (signal?.aborted) throw new ModelError("cancelled", `the client went away before ${stage}`);
}

async function runGeneration(deps: GenerationDeps, request: GenerateRequest, queueWaitMs: number, signal: AbortSignal | undefined): Promise<GenerationRow> {
  const started = performance.now();
  const seed = request.seed ?? newSeed();
  const aspectRatio = request.aspectRatio ?? "1:1";
  const generation = await insertGeneration(deps.db, {
    prompt: request.prompt,
    parameters: { aspectRatio, seed, ...(request.category !== undefined ? { category: request.category } : {}) },
    provider: deps.imageModel.provider,
    model: deps.imageModel.model,
    status: "running",
    traceId: deps.telemetry.currentTraceId() ?? null,
  });
  let usage: { inputTokens?: number; outputTokens?: number } = {};
  /** What the stages learn (built prompt, references, classification), written with the outcome. */
  const details: GenerationPatch = {};
  try {
    const classification = await classifyPrompt(
      { telemetry: deps.telemetry, textModel: deps.textModel, wordVectors: deps.wordVectors, timeoutMs: deps.classifyTimeoutMs, signal },
      request.prompt,
      request.category,
    );
    throwIfCancelled(signal, "the references were read");
    const injection = await injectReferences(
      { telemetry: deps.telemetry, db: deps.db, storage: deps.storage, maxReferences: deps.maxReferences },
      { prompt: request.prompt, category: classification.category, seed },
    );
    const built = tracedBuildPrompt(deps.telemetry, {
      subject: request.prompt,
      references: injection.references,
      toneRatio: classification.toneRatio,
      angle: injection.angle,
      scene: classification.scene,
      person: classification.person,
    });
    Object.assign(details, {
      builtPrompt: built.text,
      references: injection.references.map((r) => ({ id: r.id, role: "tone-ref" as const })),
      parameters: {
        ...generation.parameters,
        classification: { category: classification.category ?? null, source: classification.source, toneRatio: classification.toneRatio, person: classification.person, scene: classification.scene },
        injection: { pool: injection.pool, angle: injection.angle.id, ...(injection.reason ? { reason: injection.reason } : {}) },
      },
    } satisfies GenerationPatch);

    throwIfCancelled(signal, "the model was called");
    const result = await callModel(deps, { prompt: built.text, subject: request.prompt, references: injection.references, aspectRatio, seed, signal }, queueWaitMs);
    usage = { inputTokens: result.inputTokens, outputTokens: result.outputTokens };
    const stored = await storeGeneratedImage(deps, generation.id, result.bytes, {
      ...details,
      status: "succeeded",
      model: result.model,
      latencyMs: since(started),
      inputTokens: result.inputTokens ?? null,
      outputTokens: result.outputTokens ?? null,
      completedAt: new Date(),
    });
    return stored.row;
  } catch (error) {
    const failed = error instanceof ModelError;
    if (failed) usage = { inputTokens: error.details.inputTokens, outputTokens: error.details.outputTokens };
    try {
      // Only a generation still running: when the success update committed but its answer was lost
      // (a dropped connection), the stored image stays the record's outcome.
      await updateGeneration(deps.db, generation.id, {
        ...details,
        status: "failed",
        errorKind: failed ? error.kind : "internal",
        errorMessage: failed ? error.message : error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        latencyMs: since(started),
        inputTokens: usage.inputTokens ?? null,
        outputTokens: usage.outputTokens ?? null,
        completedAt: new Date(),
      }, { ifStatus: "running" });
    } catch (recordError) {
      deps.log.error("generation failure could not be recorded", { generation_id: generation.id, error: recordError });
    }
    if (!failed) throw error;
    throw new GenerationFailedError(error.kind, error.message, { generationId: generation.id, traceId: generation.traceId, retryAfterSeconds: error.details.retryAfterSeconds }, error);
  }
}

/**
 * `generation.gemini_api`: the image model call, with the time the request waited for its slot.
 * The span follows the GenAI conventions and carries `error.type` = the error kind on failure.
 */
function callModel(deps: GenerationDeps, request: Parameters<ImageModel["generate"]>[0], queueWaitMs: number): Promise<ImageResult> {
  const model = deps.imageModel;
  return deps.telemetry.tracedSpan(
    SPAN.generationGeminiApi,
    {
      [GENAI_ATTR.operation]: "generate_content",
      [GENAI_ATTR.requestModel]: model.model,
      [GENERATION_ATTR.provider]: model.provider === "gemini" ? "gcp.gemini" : "offline",
      [GENERATION_ATTR.queueWaitMs]: Math.round(queueWaitMs * 10) / 10,
    },
    async (span) => {
      try {
        const result = await model.generate(request);
        span.setAttributes({
          [GENERATION_ATTR.attempts]: result.attempts,
          "gen_ai.response.model": result.model,
          ...(result.inputTokens !== undefined ? { [GENAI_ATTR.inputTokens]: result.inputTokens } : {}),
          ...(result.outputTokens !== undefined ? { [GENAI_ATTR.outputTokens]: result.outputTokens } : {}),
        });
        return result;
      } catch (error) {
        if (error instanceof ModelError) {
          span.setAttributes({
            [GENERATION_ATTR.errorType]: error.kind,
            ...(error.details.attempts !== undefined ? { [GENERATION_ATTR.attempts]: error.details.attempts } : {}),
            ...(error.details.inputTokens !== undefined ? { [GENAI_ATTR.inputTokens]: error.details.inputTokens } : {}),
            ...(error.details.outputTokens !== undefined ? { [GENAI_ATTR.outputTokens]: error.details.outputTokens } : {}),
          });
        }
        throw error;
      }
    },
    { kind: model.provider === "gemini" ? SpanKind.CLIENT : SpanKind.INTERNAL },
  );
}
