/**
 * How an ingest stage records that it went on without a model: the upload is stored anyway, its
 * answer lists the stage in `degraded`, and the stage span carries the attribute and event below
 * (the same shape search uses, `search.degraded`). `bun run backfill` fills the missing parts in.
 */
import { ModelError } from "../ai/types.ts";
import type { TelemetrySpan } from "../telemetry/index.ts";

/**
 * Span attribute and event names of a degraded ingest stage.
 *
 * @example
 * span.setAttribute(INGEST_DEGRADED.attribute, true);
 */
export const INGEST_DEGRADED = {
  attribute: "ingest.degraded",
  reason: "ingest.degraded.reason",
  event: "ingest.degraded",
} as const;

/**
 * Marks a stage span degraded by the model's `error`, with why (the model error's kind, or the
 * error's name), and returns that reason.
 *
 * @example
 * const reason = markDegraded(span, error); // "timeout"
 */
export function markDegraded(span: TelemetrySpan, error: unknown): string {
  const reason = error instanceof ModelError ? error.kind : ((error as Error)?.name ?? "error");
  span.setAttributes({ [INGEST_DEGRADED.attribute]: true, [INGEST_DEGRADED.reason]: reason });
  span.addEvent(INGEST_DEGRADED.event, { reason });
  return reason;
}
