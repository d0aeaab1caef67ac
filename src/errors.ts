/**
 * An error whose status, code and message the client may see. The HTTP error mapper reads these
 * fields (duck-typed), so layers below `http` declare client-facing failures without importing
 * Hono; a 5xx subclass keeps its message only for 502/503/504/507.
 *
 * @example
 * export class StorageUnavailableError extends ClientFacingError {
 *   constructor(message: string) { super(503, "storage_unavailable", message); }
 * }
 */
export class ClientFacingError extends Error {
  readonly expose = true;
  /** Extra response headers (e.g. `Retry-After`). */
  readonly headers: Record<string, string>;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.headers = options?.headers ?? {};
  }
}
