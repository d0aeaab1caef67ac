/**
 * `ingest.label`: the caption, labels and category an image is indexed by. What the request
 * gives wins; when it gives neither caption nor labels and a vision labeler is configured
 * (Gemini), the labeler is asked. A labeler failure never fails the upload: the image is stored
 * with what the request gave, the span is marked degraded, and `bun run backfill` labels it later.
 */
import type { Labeler } from "../ai/types.ts";
import { hypernymsFor, type HypernymExpander } from "./hypernyms.ts";
import type { Logger } from "../log.ts";
import { slugifyCategory } from "../storage/keys.ts";
import { GENAI_ATTR, SPAN, type Telemetry } from "../telemetry/index.ts";
import { markDegraded } from "./degraded.ts";

/** What a client (or a sidecar file) says about an image. */
export interface GivenLabels {
  caption?: string;
  labels?: string[];
  category?: string;
}

/** Where the final labels came from. */
export type LabelSource = "request" | "model" | "none" | "model_failed";

export interface ImageText {
  caption: string | null;
  labels: string[];
  /** A slug (`street-food`), or null. */
  category: string | null;
  source: LabelSource;
  /** WordNet hypernyms of the nouns (see hypernyms.ts); null or absent: not expanded (no expander, or it failed). */
  hypernyms?: string[] | null;
}

export const MAX_LABELS = 32;
export const MAX_LABEL_LENGTH = 64;
export const MAX_CAPTION_LENGTH = 2000;

/**
 * Trims, lower-cases and de-duplicates labels; drops empty and over-long ones; keeps at most 32.
 *
 * @example
 * normalizeLabels([" Sea", "sea", "", "Beach "]) // ["sea", "beach"]
 */
export function normalizeLabels(labels: readonly string[]): string[] {
  const out = new Set<string>();
  for (const label of labels) {
    const clean = label.trim().toLowerCase().replace(/\s+/g, " ");
    if (clean !== "" && clean.length <= MAX_LABEL_LENGTH) out.add(clean);
    if (out.size === MAX_LABELS) break;
  }
  return [...out];
}

/**
 * A caption trimmed of surrounding and repeated white space, or null when empty.
 *
 * @example
 * normalizeCaption("  a quiet  harbour ") // "a quiet harbour"
 */
export function normalizeCaption(caption: string | undefined | null): string | null {
  const clean = (caption ?? "").trim().replace(/\s+/g, " ").slice(0, MAX_CAPTION_LENGTH);
  return clean === "" ? null : clean;
}

export interface LabelDeps {
  telemetry: Telemetry;
  labeler?: Labeler;
  log?: Logger;
  /** Bound on the labeler call. */
  timeoutMs: number;
  /** Adds WordNet hypernyms of the final caption and labels; absent: stored without (the backfill adds them). */
  hypernyms?: HypernymExpander;
}

/**
 * Decides an image's caption, labels and category (the `ingest.label` span).
 *
 * @example
 * const text = await labelStage({ telemetry, labeler, timeoutMs: 4000 }, { caption: "red boat" }, { bytes: thumbnail, mimeType: "image/webp" });
 */
export function labelStage(deps: LabelDeps, given: GivenLabels, image: { bytes: Uint8Array; mimeType: string }): Promise<ImageText> {
  return deps.telemetry.tracedSpan(SPAN.ingestLabel, {}, async (span) => {
    let caption = normalizeCaption(given.caption);
    let labels = normalizeLabels(given.labels ?? []);
    let category = given.category ? slugifyCategory(given.category) ?? null : null;
    let source: LabelSource = caption || labels.length > 0 ? "request" : "none";
    if (source === "none" && deps.labeler) {
      span.setAttribute(GENAI_ATTR.requestModel, deps.labeler.model);
      try {
        const answer = await deps.labeler.label(image, { timeoutMs: deps.timeoutMs });
        caption = normalizeCaption(answer.caption);
        labels = normalizeLabels(answer.labels);
        category ??= slugifyCategory(answer.category) ?? null;
        source = "model";
      } catch (error) {
        source = "model_failed";
        markDegraded(span, error);
        deps.log?.warn("image labeler failed; storing the image without model labels", { error });
      }
    }
    span.setAttributes({ "ingest.label.source": source, "ingest.label.count": labels.length, "image.category": category ?? undefined });
    const hypernyms = deps.hypernyms ? await hypernymsFor({ expander: deps.hypernyms, log: deps.log }, { caption, labels }, span) : undefined;
    return { caption, labels, category, source, hypernyms };
  });
}
