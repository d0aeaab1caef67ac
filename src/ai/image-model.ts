/**
 * The image model behind generation: Gemini (`gemini-image.ts`) or the offline renderer
 * (`offline-image.ts`). Both take the built prompt and the reference bytes and answer one image,
 * or throw a `ModelError` (`src/ai/types.ts`) whose `kind` says what went wrong.
 */

/**
 * Aspect ratios the Gemini image models accept (and the offline renderer draws).
 *
 * @example
 * z.enum(ASPECT_RATIOS).parse("16:9");
 */
export const ASPECT_RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"] as const;
export type AspectRatio = (typeof ASPECT_RATIOS)[number];

/** A reference image handed to the model, in prompt order. */
export interface ImageReference {
  id: string;
  role: "tone" | "angle";
  bytes: Uint8Array;
  mimeType: string;
  /** The reference's stored palette (`#rrggbb`, most dominant first), when known. */
  hexColors?: string[];
}

export interface ImageRequest {
  /** The built, sectioned prompt. */
  prompt: string;
  /** The user's prompt, verbatim (the offline renderer draws from it). */
  subject: string;
  references: ImageReference[];
  aspectRatio: AspectRatio;
  seed: number;
  /** Aborts the call: the client went away (`ModelError("cancelled")`). */
  signal?: AbortSignal;
}

export interface ImageResult {
  bytes: Uint8Array;
  mimeType: string;
  /** The model id that answered. */
  model: string;
  inputTokens?: number;
  outputTokens?: number;
  /** Calls made, retries included. */
  attempts: number;
  /** Any text the model sent with the image. */
  text?: string;
}

/**
 * One image model. `provider` is what `POST /api/generate` answers (`gemini` or `offline`).
 *
 * @example
 * const result = await model.generate({ prompt, subject, references, aspectRatio: "1:1", seed: 7 });
 */
export interface ImageModel {
  readonly provider: "gemini" | "offline";
  readonly model: string;
  generate(request: ImageRequest): Promise<ImageResult>;
}
