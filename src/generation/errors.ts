import type { ModelErrorKind } from "../ai/types.ts";
import { ClientFacingError } from "../errors.ts";

/**
 * The answer to each way a model call can fail a generation. `cancelled` is 499: the client went
 * away, nobody reads it, and logs and spans show a cancelled request rather than a fault.
 *
 * @example
 * GENERATION_FAILURE_STATUS.timeout; // 504
 */
export const GENERATION_FAILURE_STATUS: Readonly<Record<ModelErrorKind, number>> = {
  timeout: 504,
  cancelled: 499,
  rate_limited: 503,
  unavailable: 502,
  malformed: 502,
  safety_blocked: 422,
  no_image: 502,
  auth: 502,
  invalid_request: 502,
};

/** `Retry-After` when the model is rate limited but did not say for how long. */
const DEFAULT_RETRY_AFTER_SECONDS = 30;

/**
 * A generation that failed after its row was written: its status follows the model error's kind
 * (`GENERATION_FAILURE_STATUS`), its code is the kind, `details` name the stored record and the
 * trace, and a rate-limited one carries `Retry-After`.
 *
 * @example
 * throw new GenerationFailedError("timeout", "the image model did not answer within 120000 ms", { generationId, traceId });
 */
export class GenerationFailedError extends ClientFacingError {
  declare readonly code: ModelErrorKind;
  constructor(
    kind: ModelErrorKind,
    message: string,
    record: { generationId: string; traceId?: string | null; retryAfterSeconds?: number },
    cause?: unknown,
  ) {
    const retryAfter = kind === "rate_limited" ? String(record.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS) : undefined;
    super(GENERATION_FAILURE_STATUS[kind], kind, message, {
      cause,
      headers: retryAfter ? { "Retry-After": retryAfter } : {},
      details: { generationId: record.generationId, ...(record.traceId ? { traceId: record.traceId } : {}) },
    });
  }
}
