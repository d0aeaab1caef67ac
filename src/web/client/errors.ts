/**
 * What a failed call means for the person at the page: a short title, a sentence on what to do,
 * and the API's own code and message kept beside it for whoever reads further.
 */
import { ApiFailure } from "./api.ts";

/** A failure put into words. */
export interface Explained {
  title: string;
  /** What happened and what to do next. */
  advice: string;
  /** The API's error code (`safety_blocked`, `overloaded`, …), shown as the error kind. */
  kind: string;
  /** The API's own message, when it sent one. */
  message: string;
  retryAfterSeconds?: number;
  traceId?: string;
  generationId?: string;
}

const inSeconds = (s: number | undefined, fallback: string) => (s === undefined ? fallback : s <= 1 ? "in a second" : `in ${s} seconds`);

/** Titles and advice by the API's error code, where the code says more than the status. */
const BY_CODE: Record<string, (f: ApiFailure) => [string, string]> = {
  network: () => ["The service did not answer", "Check your connection and that the service is running, then try again."],
  unauthorized: () => ["An API key is needed", "This service only answers with a valid API key. Use “API key” at the top of the page to enter one."],
  safety_blocked: () => ["Blocked by the model's safety filter", "The model refused this prompt or its image. Rephrase the prompt and try again."],
  overloaded: (f) => ["The service is busy", `Too many generations or uploads are running. Try again ${inSeconds(f.retryAfterSeconds, "shortly")}.`],
  rate_limited: (f) => ["The model's rate limit was reached", `Try again ${inSeconds(f.retryAfterSeconds, "shortly")}.`],
  unavailable: () => ["The image model failed", "The model answered with an error or could not be reached. Try again; if it keeps failing, look at the trace."],
  malformed: () => ["The image model answered nonsense", "Its answer was not what was asked for. Try again; if it keeps failing, look at the trace."],
  auth: () => ["The service cannot use the image model", "The model refused the service's credentials. Tell the service's operator."],
  cancelled: () => ["The generation was cancelled", "The request was abandoned before the model finished."],
  no_image: () => ["The model answered without an image", "It sometimes answers with text only. Try again or rephrase the prompt."],
  timeout: () => ["The model took too long", "The generation was stopped at the time limit. Try again later."],
  internal: () => ["The service failed during the generation", "This is a fault in the service, not in your prompt. The trace id tells its operator what happened."],
  interrupted: () => ["The generation was interrupted", "The service stopped while the model worked. Try again."],
  payload_too_large: () => ["The file is too large", "Make it smaller (fewer pixels or more compression) and upload it again."],
  unsupported_image_type: () => ["Not an image this service reads", "Upload JPEG, PNG, WebP, AVIF or GIF files."],
  unsupported_media_type: () => ["Not an image this service reads", "Upload JPEG, PNG, WebP, AVIF or GIF files."],
  invalid_image: () => ["The image could not be read", "The file looks damaged or is not really an image."],
  too_many_pixels: () => ["The image has too many pixels", "Scale it down and upload it again."],
  empty_file: () => ["The file is empty", "Choose a file that has an image in it."],
  image_not_found: () => ["That image is gone", "The image to find similar ones to is not stored any more."],
  not_found: () => ["Not found", "Nothing is stored under that id."],
  storage_unavailable: () => ["The image store is unavailable", "Nothing was stored. Try again shortly."],
  storage_full: () => ["The image store is full", "Nothing was stored. Tell the service's operator."],
  database_unavailable: () => ["The database is unavailable", "Try again shortly."],
};

function byStatus(f: ApiFailure): [string, string] {
  if (f.status === 401) return BY_CODE.unauthorized!(f);
  if (f.status === 413) return BY_CODE.payload_too_large!(f);
  if (f.status === 429) {
    return ["Too many requests", `You have reached the rate limit for your key or address. Try again ${inSeconds(f.retryAfterSeconds, "in a minute")}.`];
  }
  if (f.status === 507) return ["The image store is full", "Nothing was stored. Tell the service's operator."];
  if (f.status === 503) return ["The service is busy", `Try again ${inSeconds(f.retryAfterSeconds, "shortly")}.`];
  if (f.status >= 500) return ["The service failed", "This is a fault in the service, not in what you sent. The trace id tells its operator what happened."];
  return ["The request was refused", "Check what you entered; the service's reason is below."];
}

/**
 * Puts a failure into words; anything that is not an `ApiFailure` is a fault of the page itself.
 *
 * @example
 * explain(new ApiFailure(503, "overloaded", "too many generations in progress", 7)).advice // "Too many generations or uploads are running. Try again in 7 seconds."
 */
export function explain(error: unknown): Explained {
  if (!(error instanceof ApiFailure)) {
    return { title: "Something went wrong in this page", advice: "Reload the page and try again.", kind: "client_error", message: String((error as Error)?.message ?? error) };
  }
  // A 401 that is not ours (a proxy's) still means "key", and a 429 is about the caller whatever its code.
  const [title, advice] = error.status === 429 || error.status === 401 ? byStatus(error) : (BY_CODE[error.code]?.(error) ?? byStatus(error));
  return {
    title,
    advice,
    kind: error.code,
    message: error.message,
    retryAfterSeconds: error.retryAfterSeconds,
    traceId: error.traceId,
    generationId: error.generationId,
  };
}
