import { z } from "zod";
import { InvalidCursorError } from "./errors.ts";
import { isUuid } from "./ids.ts";

/** A position in a (created_at desc, id desc) listing: the last row of the page. */
export interface CursorPosition {
  createdAt: Date;
  id: string;
}

const payload = z.object({ t: z.string().datetime({ offset: true }), id: z.string().refine(isUuid) }).strict();

/**
 * Encodes a listing position as an opaque base64url string.
 *
 * @example
 * const cursor = encodeCursor({ createdAt: row.createdAt, id: row.id });
 */
export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify({ t: position.createdAt.toISOString(), id: position.id })).toString("base64url");
}

/**
 * Decodes a cursor made by `encodeCursor`; anything else throws `InvalidCursorError`.
 *
 * @example
 * const { createdAt, id } = decodeCursor(query.cursor);
 */
export function decodeCursor(cursor: string): CursorPosition {
  if (!/^[A-Za-z0-9_-]{1,512}$/.test(cursor)) throw new InvalidCursorError();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new InvalidCursorError();
  }
  const result = payload.safeParse(parsed);
  if (!result.success) throw new InvalidCursorError();
  return { createdAt: new Date(result.data.t), id: result.data.id };
}
