import { ApiError as GeminiApiError, GoogleGenAI } from "@google/genai";
import type { AppConfig } from "../config.ts";
import { ModelError, type ModelErrorKind } from "./types.ts";

/**
 * The one Gemini SDK client of the process, pointed at `GEMINI_BASE_URL` when set.
 *
 * @example
 * const ai = createGeminiClient(config.gemini);
 */
export function createGeminiClient(gemini: AppConfig["gemini"]): GoogleGenAI {
  if (!gemini.apiKey) throw new Error("GEMINI_API_KEY is not set");
  return new GoogleGenAI({
    apiKey: gemini.apiKey,
    httpOptions: gemini.baseUrl ? { baseUrl: gemini.baseUrl } : undefined,
  });
}

const STATUS_KIND: Record<number, ModelErrorKind> = {
  400: "invalid_request",
  401: "auth",
  403: "auth",
  404: "invalid_request",
  408: "timeout",
  429: "rate_limited",
  504: "timeout",
};

/**
 * Maps anything the SDK throws to a `ModelError` with a kind; the message never holds the key.
 *
 * @example
 * try { await ai.models.generateContent(...) } catch (e) { throw classifyGeminiError(e, timedOut) }
 */
export function classifyGeminiError(error: unknown, timedOut = false): ModelError {
  if (error instanceof ModelError) return error;
  if (timedOut) return new ModelError("timeout", "the Gemini call timed out");
  if (error instanceof GeminiApiError) {
    const kind = STATUS_KIND[error.status] ?? (error.status >= 500 ? "unavailable" : "invalid_request");
    return new ModelError(kind, `Gemini answered ${error.status}`, error.status);
  }
  const name = (error as Error)?.name;
  if (name === "AbortError") return new ModelError("timeout", "the Gemini call was aborted");
  if (error instanceof SyntaxError) return new ModelError("malformed", "Gemini answered something that is not JSON");
  return new ModelError("unavailable", `Gemini could not be reached (${name ?? "error"})`);
}

/**
 * An abort signal that fires after `timeoutMs` or when `outer` aborts, and whether the timer fired.
 *
 * @example
 * const deadline = deadlineSignal(2000, request.signal);
 * try { await call({ abortSignal: deadline.signal }) } finally { deadline.clear() }
 */
export function deadlineSignal(timeoutMs: number | undefined, outer?: AbortSignal) {
  const controller = new AbortController();
  let timedOut = false;
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, timeoutMs);
  const onOuter = () => controller.abort();
  if (outer?.aborted) controller.abort();
  else outer?.addEventListener("abort", onOuter, { once: true });
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    clear() {
      if (timer) clearTimeout(timer);
      outer?.removeEventListener("abort", onOuter);
    },
  };
}

/**
 * Settles with `promise`, or rejects with `signal.reason` as soon as `signal` aborts, so a call
 * that ignores its signal still ends on time.
 *
 * @example
 * const response = await raceAbort(controller.signal, ai.models.generateContent({...}));
 */
export function raceAbort<T>(signal: AbortSignal, promise: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Races `promise` against the deadline, so a call that ignores its abort signal still ends on
 * time; any failure comes out classified as a `ModelError`.
 *
 * @example
 * const answer = await withDeadline(deadline, ai.models.generateContent({...}));
 */
export function withDeadline<T>(deadline: ReturnType<typeof deadlineSignal>, promise: Promise<T>): Promise<T> {
  // The deadline's controller aborts without a reason, so an abort arrives here as an AbortError.
  return raceAbort(deadline.signal, promise).catch((error: unknown) => {
    throw classifyGeminiError(error, deadline.timedOut);
  });
}
