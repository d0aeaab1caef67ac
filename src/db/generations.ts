import { and, eq } from "drizzle-orm";
import type { Db } from "./client.ts";
import { newestFirst, pageLimit, toPage, type Page } from "./cursor.ts";
import { guard } from "./errors.ts";
import { isUuid, newId } from "./ids.ts";
import { generations, type GenerationRow, type GenerationStatus, type NewGeneration } from "./schema.ts";

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
 * Updates a generation; returns the new row, or undefined when there is no such id (or, with
 * `ifStatus`, when its status is another one: the row is left as it is).
 *
 * @example
 * await updateGeneration(db, id, { status: "failed", errorKind: "timeout", errorMessage: "model did not answer in 120 s", completedAt: new Date() }, { ifStatus: "running" });
 */
export async function updateGeneration(db: Db, id: string, patch: GenerationPatch, options: { ifStatus?: GenerationStatus } = {}): Promise<GenerationRow | undefined> {
  if (!isUuid(id)) return undefined;
  const fields = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as GenerationPatch;
  if (Object.keys(fields).length === 0) return getGeneration(db, id);
  const where = and(eq(generations.id, id), options.ifStatus ? eq(generations.status, options.ifStatus) : undefined);
  const rows = await guard(() => db.update(generations).set(fields).where(where).returning());
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
 * The statement behind {@link listGenerations}: newest first, one row more than the page. Its
 * plan must walk an index, never sort the table (a test runs EXPLAIN).
 *
 * @example
 * const { sql, params } = listGenerationsQuery(db, { limit: 20 }).toSQL();
 */
export function listGenerationsQuery(db: Db, options: { limit: number; cursor?: string }) {
  const page = newestFirst(generations, options.cursor);
  return db.select().from(generations).where(page.after).orderBy(...page.orderBy).limit(pageLimit(options.limit) + 1);
}

/**
 * A page of generations, newest first. A foreign cursor throws `InvalidCursorError` (HTTP 400).
 *
 * @example
 * const { items, nextCursor } = await listGenerations(db, { limit: 20 });
 */
export async function listGenerations(db: Db, options: { limit: number; cursor?: string }): Promise<Page<GenerationRow>> {
  return toPage(await guard(() => listGenerationsQuery(db, options)), pageLimit(options.limit));
}
