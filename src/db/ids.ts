const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * True for a well-formed UUID (any version), so routes answer 400 before querying.
 *
 * @example
 * if (!isUuid(id)) return undefined;
 */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

/**
 * A new time-ordered id (UUIDv7), so ids sort roughly by creation time.
 *
 * @example
 * const id = newId();
 */
export function newId(): string {
  return Bun.randomUUIDv7();
}
