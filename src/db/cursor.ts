import { desc, sql, type SQL } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
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

/** One page of a listing. */
export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/**
 * A page size clamped to 1..500.
 *
 * @example
 * pageLimit(0) // 1
 */
export function pageLimit(limit: number): number {
  return Math.min(500, Math.max(1, Math.trunc(limit) || 1));
}

/**
 * Newest-first keyset paging over `(created_at, id)`: the condition for the rows after `cursor`
 * (a foreign cursor throws `InvalidCursorError`) and the order. Drizzle's `desc()` is Postgres's
 * `DESC`, NULLS FIRST, which is how the listing indexes are built (`schema.ts`): a different
 * nulls placement makes Postgres sort the whole table instead of walking the index.
 *
 * @example
 * const page = newestFirst(images, options.cursor);
 * db.select().from(images).where(and(filter, page.after)).orderBy(...page.orderBy).limit(limit + 1);
 */
export function newestFirst(columns: { createdAt: AnyPgColumn; id: AnyPgColumn }, cursor: string | undefined): { after: SQL | undefined; orderBy: SQL[] } {
  let after: SQL | undefined;
  if (cursor) {
    const at = decodeCursor(cursor);
    after = sql`(${columns.createdAt}, ${columns.id}) < (${at.createdAt.toISOString()}::timestamptz, ${at.id}::uuid)`;
  }
  return { after, orderBy: [desc(columns.createdAt), desc(columns.id)] };
}

/**
 * The page from the `limit + 1` rows a listing fetched: the extra row says there is a next page.
 *
 * @example
 * return toPage(rows, limit);
 */
export function toPage<T extends CursorPosition>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null };
}
