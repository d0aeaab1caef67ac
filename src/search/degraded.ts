import { SEARCH_ATTR, SPAN, type TelemetrySpan } from "../telemetry/index.ts";

/**
 * The stages that can fall back or be dropped when a model helper fails, times out or is not
 * loaded yet: what a search answer's `degraded` may list, in pipeline order.
 *
 * @example
 * const stage: DegradableStage = DEGRADABLE_STAGES[0]; // "search.expand"
 */
export const DEGRADABLE_STAGES = [SPAN.searchExpand, SPAN.searchEmbed, SPAN.searchRerank] as const;
export type DegradableStage = (typeof DEGRADABLE_STAGES)[number];

/**
 * Records on a stage span that the stage fell back or was dropped (a model helper failed or timed
 * out, or the word vectors were still loading): attribute `search.degraded` with its reason, and
 * one `search.degraded` event. The pipeline lists the stage in the answer's `degraded`.
 *
 * @example
 * markDegraded(span, "timeout");
 */
export function markDegraded(span: TelemetrySpan, reason: string): void {
  span.setAttributes({ [SEARCH_ATTR.degraded]: true, [SEARCH_ATTR.degradedReason]: reason });
  span.addEvent(SEARCH_ATTR.degradedEvent, { reason });
}

/**
 * Whether `promise` settles (resolves) within `ms`; a rejection or a timeout is false. For waits a
 * search may cut short (the word vectors loading on a first start).
 *
 * @example
 * if (!(await settlesWithin(wordVectors.ready(), 1000))) degrade();
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
