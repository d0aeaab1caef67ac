import { ApiError, GoogleGenAI, type GenerateContentResponse, type Part } from "@google/genai";
import type { Telemetry } from "../telemetry/index.ts";
import { classifyGeminiError, deadlineSignal, raceAbort } from "./gemini-client.ts";
import type { ImageModel, ImageRequest, ImageResult } from "./image-model.ts";
import { ModelError } from "./types.ts";

/** Finish and block reasons that mean the content was refused, not that the call failed. */
const SAFETY_REASONS = new Set([
  "SAFETY",
  "IMAGE_SAFETY",
  "PROHIBITED_CONTENT",
  "IMAGE_PROHIBITED_CONTENT",
  "BLOCKLIST",
  "SPII",
  "RECITATION",
  "IMAGE_RECITATION",
  "MODEL_ARMOR",
]);

/** Only these statuses are retried; everything else fails at once. */
const RETRYABLE = new Set([429, 503]);

export interface GeminiImageOptions {
  apiKey: string;
  /** `GEMINI_BASE_URL`: a proxy, or the fake server in tests. */
  baseUrl?: string | undefined;
  model: string;
  /** The whole call, retries and their waits included. */
  timeoutMs: number;
  /** Retries after the first call (429 and 503 only). */
  maxRetries?: number;
  /** Wait before a retry when the answer names none, doubled each time. */
  backoffMs?: number;
  /** A shared SDK client (its `retryOptions` must be unset); otherwise one is made from the key. */
  client?: GoogleGenAI;
  /** Retry events go on the current span. */
  telemetry?: Telemetry;
}

/**
 * The Gemini image model through `@google/genai` `generateContent`: references as inline data,
 * the aspect ratio in the image config, one abort signal for the whole call. The SDK's own retry
 * stays off (no `retryOptions`); this retries 429/503 at most `maxRetries` times, waiting what
 * `Retry-After` (or the RetryInfo detail) asks when it fits in the time left.
 *
 * @example
 * const model = createGeminiImageModel({ apiKey, model: "gemini-2.5-flash-image", timeoutMs: 120_000 });
 * const { bytes } = await model.generate({ prompt, subject, references: [], aspectRatio: "1:1", seed: 1 });
 */
export function createGeminiImageModel(options: GeminiImageOptions): ImageModel {
  const ai =
    options.client ??
    new GoogleGenAI({
      apiKey: options.apiKey,
      httpOptions: options.baseUrl ? { baseUrl: options.baseUrl } : undefined,
    });
  const maxRetries = options.maxRetries ?? 2;
  const backoffMs = options.backoffMs ?? 1_000;

  async function generate(request: ImageRequest): Promise<ImageResult> {
    const deadline = performance.now() + options.timeoutMs;
    const call = deadlineSignal(options.timeoutMs, request.signal);
    const parts: Part[] = [
      { text: request.prompt },
      ...request.references.map((ref) => ({ inlineData: { mimeType: ref.mimeType, data: Buffer.from(ref.bytes).toString("base64") } })),
    ];
    let attempts = 0;
    const ended = () =>
      call.ended === "cancelled"
        ? new ModelError("cancelled", `the image model call was cancelled after ${attempts} attempt(s): the client went away`, { attempts })
        : new ModelError("timeout", `the image model did not answer within ${options.timeoutMs} ms`, { attempts });
    try {
      for (;;) {
        attempts++;
        let retryAfterHeader: string | null = null;
        try {
          const response = await raceAbort(call.signal, ai.models.generateContent({
            model: options.model,
            contents: [{ role: "user", parts }],
            config: {
              responseModalities: ["IMAGE", "TEXT"],
              imageConfig: { aspectRatio: request.aspectRatio },
              abortSignal: call.signal,
              httpOptions: {
                fetch: async (input, init) => {
                  const res = await fetch(input, init);
                  retryAfterHeader = res.headers.get("retry-after");
                  return res;
                },
              },
            },
          }));
          return readImage(response, options.model, attempts);
        } catch (error) {
          if (error instanceof ModelError) throw error;
          if (call.signal.aborted) throw ended();
          const status = error instanceof ApiError ? error.status : undefined;
          const retryAfterMs = status !== undefined ? retryDelayMs(retryAfterHeader, error as Error) : undefined;
          if (status !== undefined && RETRYABLE.has(status) && attempts <= maxRetries) {
            const waitMs = retryAfterMs ?? backoffMs * 2 ** (attempts - 1);
            if (performance.now() + waitMs < deadline) {
              options.telemetry?.currentSpan()?.addEvent("gen_ai.retry", { "http.response.status_code": status, "retry.wait_ms": waitMs, attempt: attempts });
              if (await sleep(waitMs, call.signal)) throw ended();
              continue;
            }
          }
          throw classify(error, retryAfterMs, attempts);
        }
      }
    } finally {
      call.clear();
    }
  }

  return { provider: "gemini", model: options.model, generate };
}

/** The shared Gemini classification, with the attempts made and (for 429) how long to wait. */
function classify(error: unknown, retryAfterMs: number | undefined, attempts: number): ModelError {
  const base = classifyGeminiError(error);
  const retryAfterSeconds = base.kind === "rate_limited" ? (retryAfterMs !== undefined ? Math.max(1, Math.ceil(retryAfterMs / 1000)) : 30) : undefined;
  return new ModelError(base.kind, `the image model failed: ${base.message}, after ${attempts} attempt(s)`, {
    ...base.details,
    attempts,
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  });
}

/** `Retry-After` (seconds or an HTTP date), else Google's RetryInfo `retryDelay` in the error body. */
function retryDelayMs(header: string | null, error: Error): number | undefined {
  if (header) {
    const seconds = Number(header);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const date = Date.parse(header);
    if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  }
  const match = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/.exec(error.message);
  return match ? Number(match[1]) * 1000 : undefined;
}

function readImage(response: GenerateContentResponse, model: string, attempts: number): ImageResult {
  const usage = {
    inputTokens: response.usageMetadata?.promptTokenCount,
    outputTokens: response.usageMetadata?.candidatesTokenCount,
  };
  const blockReason = response.promptFeedback?.blockReason;
  if (blockReason) {
    throw new ModelError("safety_blocked", `the prompt was blocked (${blockReason})`, { attempts, ...usage });
  }
  const candidate = response.candidates?.[0];
  const parts = candidate?.content?.parts ?? [];
  const image = parts.find((p) => p.inlineData?.data && (p.inlineData.mimeType ?? "").startsWith("image/"))?.inlineData;
  const finish = candidate?.finishReason;
  if (!image && finish && SAFETY_REASONS.has(finish)) {
    throw new ModelError("safety_blocked", `the image was blocked (finish reason ${finish})`, { attempts, ...usage });
  }
  const text = parts.flatMap((p) => (typeof p.text === "string" ? [p.text] : [])).join(" ").trim();
  if (!image?.data) {
    const said = text ? `; it said: ${text.slice(0, 200)}` : "";
    throw new ModelError("no_image", `the image model answered without an image (finish reason ${finish ?? "none"})${said}`, {
      attempts,
      ...usage,
    });
  }
  return {
    bytes: new Uint8Array(Buffer.from(image.data, "base64")),
    mimeType: image.mimeType ?? "image/png",
    model,
    attempts,
    text: text || undefined,
    ...usage,
  };
}

/** Waits `ms`; true when `signal` aborted first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(false);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(true);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
