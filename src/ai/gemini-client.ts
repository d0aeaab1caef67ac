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
 * `ended` says why the call's signal aborted, when it did: the deadline (`timeout`) or the caller
 * going away (`cancelled`).
 *
 * @example
 * try { await ai.models.generateContent(...) } catch (e) { throw classifyGeminiError(e, deadline.ended) }
 */
export function classifyGeminiError(error: unknown, ended?: "timeout" | "cancelled"): ModelError {
  if (error instanceof ModelError) return error;
  if (ended === "timeout") return new ModelError("timeout", "the Gemini call timed out");
  if (ended === "cancelled") return new ModelError("cancelled", "the Gemini call was cancelled: the client went away");
  if (error instanceof GeminiApiError) {
    const kind = STATUS_KIND[error.status] ?? (error.status >= 500 ? "unavailable" : "invalid_request");
    return new ModelError(kind, `Gemini answered ${error.status}`, { status: error.status });
  }
  const name = (error as Error)?.name;
  if (name === "AbortError") return new ModelError("timeout", "the Gemini call was aborted");
  if (error instanceof SyntaxError) return new ModelError("malformed", "Gemini answered something that is not JSON");
  return new ModelError("unavailable", `Gemini could not be reached (${name ?? "error"})`);
}

/**
 * An abort signal that fires after `timeoutMs` or when `outer` aborts, and which of them ended
 * the call.
 *
 * @example
 * const deadline = deadlineSignal(2000, request.signal);
 * try { await call({ abortSignal: deadline.signal }) } finally { deadline.clear() }
 */
export function deadlineSignal(timeoutMs: number | undefined, outer?: AbortSignal) {
  const controller = new AbortController();
  let ended: "timeout" | "cancelled" | undefined;
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          ended ??= "timeout";
          controller.abort();
        }, timeoutMs);
  const onOuter = () => {
    ended ??= "cancelled";
    controller.abort();
  };
  if (outer?.aborted) onOuter();
  else outer?.addEventListener("abort", onOuter, { once: true });
  return {
    signal: controller.signal,
    /** Why the signal aborted, once it has. */
    get ended() {
      return ended;
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
    throw classifyGeminiError(error, deadline.ended);
  });
}
