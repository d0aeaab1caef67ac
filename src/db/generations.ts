import { and, eq, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { guard } from "./errors.ts";
import { isUuid, newId } from "./ids.ts";
import type { Page } from "./images.ts";
import { generations, type GenerationRow, type NewGeneration } from "./schema.ts";

/** Fields a running generation fills in as it finishes (or fails). */
export type GenerationPatch = Partial<Omit<NewGeneration, "id" | "createdAt">>;

/**
 * Records a generation (usually `status: "running"` before the model call).
 *
 * @example
 * const row = await insertGeneration(db, { prompt, provider: "gemini", model, parameters: { aspectRatio: "1:1" }, traceId });
 */
export async function insertGeneration(db: Db, generation: NewGeneration): Promise<GenerationRow> {
  const values = { ...generation, id: generation.id ?? newId(), createdAt: generation.createdAt ?? new Date() };
  const rows = await guard(() => db.insert(generations).values(values).returning());
  return rows[0]!;
}

/**
 * Updates a generation; returns the new row, or undefined when there is no such id.
 *
 * @example
 * await updateGeneration(db, id, { status: "failed", errorKind: "timeout", errorMessage: "model did not answer in 120 s", completedAt: new Date() });
 */
export async function updateGeneration(db: Db, id: string, patch: GenerationPatch): Promise<GenerationRow | undefined> {
  if (!isUuid(id)) return undefined;
  const fields = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as GenerationPatch;
  if (Object.keys(fields).length === 0) return getGeneration(db, id);
  const rows = await guard(() => db.update(generations).set(fields).where(eq(generations.id, id)).returning());
  return rows[0];
}

/**
 * One generation by id (failed ones included), or undefined (also for a malformed id).
 *
 * @example
 * const row = await getGeneration(db, id);
 */
export async function getGeneration(db: Db, id: string): Promise<GenerationRow | undefined> {
  if (!isUuid(id)) return undefined;
  const rows = await guard(() => db.select().from(generations).where(eq(generations.id, id)).limit(1));
  return rows[0];
}

/**
 * A page of generations, newest first. A foreign cursor throws `InvalidCursorError` (HTTP 400).
 *
 * @example
 * const { items, nextCursor } = await listGenerations(db, { limit: 20 });
 */
export async function listGenerations(db: Db, options: { limit: number; cursor?: string }): Promise<Page<GenerationRow>> {
  const limit = Math.min(500, Math.max(1, Math.trunc(options.limit) || 1));
  const where: SQL[] = [];
  if (options.cursor) {
    const at = decodeCursor(options.cursor);
    where.push(sql`(${generations.createdAt}, ${generations.id}) < (${at.createdAt.toISOString()}::timestamptz, ${at.id}::uuid)`);
  }
  const rows = await guard(() =>
    db
      .select()
      .from(generations)
      .where(where.length > 0 ? and(...where) : undefined)
      .orderBy(sql`${generations.createdAt} desc`, sql`${generations.id} desc`)
      .limit(limit + 1),
  );
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null };
}
