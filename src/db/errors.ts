import { DrizzleQueryError } from "drizzle-orm/errors";
import { ClientFacingError } from "../errors.ts";

/**
 * The database cannot be reached or the connection dropped mid-request: a 503 as thrown; the
 * next request opens a fresh connection.
 *
 * @example
 * throw new DatabaseUnavailableError("database connection lost; try again", { cause: error });
 */
export class DatabaseUnavailableError extends ClientFacingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(503, "database_unavailable", message, options);
  }
}

/**
 * A query failed inside the database. The message carries the SQLSTATE and the constraint name,
 * never the parameter values (drizzle's own error message lists them).
 *
 * @example
 * if (error instanceof DatabaseQueryError && error.code === "23505") conflict();
 */
export class DatabaseQueryError extends Error {
  constructor(
    readonly code: string | undefined,
    readonly constraint: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = "DatabaseQueryError";
  }
}

/**
 * A pagination cursor that this service did not issue (or that was damaged): a 400 as thrown,
 * routes let it through.
 *
 * @example
 * throw new InvalidCursorError();
 */
export class InvalidCursorError extends ClientFacingError {
  constructor(message = "cursor is not valid") {
    super(400, "invalid_cursor", message);
  }
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "ConnectionRefused", "ConnectionClosed"]);
const CONNECTION_TEXT =
  /connection (terminated|closed|ended|refused|reset)|terminated unexpectedly|websocket|socket hang up|Client has encountered a connection error|Client was closed|not queryable|connect(ion)? timeout|timeout exceeded when trying to connect|ECONNREFUSED|ECONNRESET|PGlite is closed/i;

/**
 * True when an error means "no usable connection" rather than "this query is wrong": network
 * errors, SQLSTATE class 08 (connection exception) and 57P0x (server shutting down).
 *
 * @example
 * if (isConnectionError(error)) throw new DatabaseUnavailableError("database connection lost");
 */
export function isConnectionError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DatabaseUnavailableError) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (CONNECTION_CODES.has(code) || code.startsWith("08") || /^57P0[1-3]$/.test(code))) return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === "string" && CONNECTION_TEXT.test(message)) return true;
    if (typeof ErrorEvent !== "undefined" && e instanceof ErrorEvent) return true;
  }
  return false;
}

function isTimeout(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof Error && e.message === "Query read timeout") return true;
  }
  return false;
}

function pgFields(error: unknown): { code?: string; constraint?: string; message?: string } {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DrizzleQueryError) continue;
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) {
      const constraint = (e as { constraint?: unknown }).constraint;
      return { code, constraint: typeof constraint === "string" ? constraint : undefined };
    }
  }
  return {};
}

/**
 * Turns a driver or drizzle error into `DatabaseUnavailableError` or a value-free
 * `DatabaseQueryError`; other errors (ours) pass through unchanged.
 *
 * @example
 * try { await db.select()… } catch (error) { throw toDatabaseError(error); }
 */
export function toDatabaseError(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError || error instanceof DatabaseQueryError || error instanceof InvalidCursorError) return error;
  if (isTimeout(error)) return new DatabaseUnavailableError("database did not answer in time; try again", { cause: error });
  if (isConnectionError(error)) return new DatabaseUnavailableError("database connection lost; try again", { cause: error });
  const { code, constraint } = pgFields(error);
  if (code || error instanceof DrizzleQueryError) {
    const what = constraint ? ` on constraint ${constraint}` : "";
    return new DatabaseQueryError(code, constraint, `database query failed (SQLSTATE ${code ?? "unknown"})${what}`);
  }
  return error;
}

/**
 * Runs a data-access call and translates its errors with `toDatabaseError`.
 *
 * @example
 * return guard(() => db.select().from(images));
 */
export async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toDatabaseError(error);
  }
}
