/**
 * The one kind of error a client sees: it carries its HTTP status, a stable machine-readable
 * code, a message and optional response headers and details. Every layer throws these (or a
 * subclass) without importing Hono; the HTTP layer's one mapper (`src/http/errors.ts`) turns any
 * of them into `{"error": {"code", "message", "details"?}}` with its status and headers. Anything
 * else thrown is a fault of the service: a bare 500 that never shows its message.
 *
 * @example
 * export class StorageUnavailableError extends ClientFacingError {
 *   constructor(message: string) { super(503, "storage_unavailable", message); }
 * }
 * throw new ClientFacingError(404, "not_found", `no image with id ${id}`);
 */
export class ClientFacingError extends Error {
  /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
  readonly headers: Record<string, string>;
  /** Extra JSON fields under `error.details` (ids a client may follow up with). */
  readonly details: Record<string, unknown> | undefined;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string>; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.headers = options?.headers ?? {};
    this.details = options?.details;
  }
}
