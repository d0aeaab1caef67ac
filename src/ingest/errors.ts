import { ClientFacingError } from "../errors.ts";
/**
 * Why an upload was refused. Each carries the HTTP status and a stable code (a
 * `ClientFacingError`, mapped by the HTTP layer's one error mapper), so the pipeline never imports Hono.
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
export class IngestError extends ClientFacingError {
  declare readonly code: IngestErrorCode;
  constructor(code: IngestErrorCode, message: string) {
    super(STATUS[code], code, message);
  }
}
