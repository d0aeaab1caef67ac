/**
 * Why an upload was refused. Each carries the HTTP status and a stable code (duck-typed by the
 * HTTP layer's error mapper), so the pipeline never imports Hono.
 */
export type IngestErrorCode =
  | "empty_file"
  | "payload_too_large"
  | "unsupported_image_type"
  | "invalid_image"
  | "too_many_pixels"
  | "invalid_request";

const STATUS: Record<IngestErrorCode, number> = {
  empty_file: 400,
  payload_too_large: 413,
  unsupported_image_type: 415,
  invalid_image: 422,
  too_many_pixels: 422,
  invalid_request: 400,
};

/**
 * An upload the service will not store; nothing was written when it is thrown.
 *
 * @example
 * throw new IngestError("unsupported_image_type", "the file is not a JPEG, PNG, WebP, AVIF or GIF image");
 */
export class IngestError extends Error {
  readonly status: number;
  readonly expose = true;
  constructor(
    readonly code: IngestErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "IngestError";
    this.status = STATUS[code];
  }
}

/**
 * The embedding model could not embed the image's text (timeout, outage, rate limit); nothing
 * was stored. The HTTP layer answers 503.
 *
 * @example
 * throw new EmbeddingUnavailableError("the embedding model did not answer; try again", { cause: error });
 */
export class EmbeddingUnavailableError extends Error {
  readonly status = 503;
  readonly code = "embedding_unavailable";
  readonly expose = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EmbeddingUnavailableError";
  }
}
