import { and, desc, eq, inArray, ne, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client.ts";
import { guard } from "./errors.ts";
import { isUuid } from "./ids.ts";
import { imageEmbeddings, images, INDEXED_EMBEDDINGS, type ImageRole } from "./schema.ts";

/** Filters both retrieval branches apply. */
export interface CandidateFilters {
  category?: string;
  role?: ImageRole;
  /** Leave this image out (e.g. "more like this one"). */
  excludeId?: string;
}

export interface VectorQuery {
  model: string;
  dimensions: number;
  vector: number[];
  /** How many candidates to return. */
  k: number;
  /** HNSW candidate list size (`hnsw.ef_search`); at least `k` is sensible. */
  efSearch: number;
  filters?: CandidateFilters;
}

export interface VectorCandidate {
  id: string;
  /** Cosine distance, 0 (same direction) .. 2 (opposite). */
  distance: number;
}

export interface FulltextQuery {
  /** User text in web-search syntax: words, "quoted phrases", -excluded, or. */
  query: string;
  k: number;
  filters?: CandidateFilters;
}

export interface FulltextCandidate {
  id: string;
  /** `ts_rank_cd` over caption (A), labels (B), category (C). */
  rank: number;
}

function checkVector(q: VectorQuery): void {
  if (!Number.isInteger(q.dimensions) || q.dimensions < 1 || q.dimensions > 16_000) throw new RangeError("dimensions must be 1..16000");
  if (q.vector.length !== q.dimensions) throw new RangeError(`query vector has ${q.vector.length} values for ${q.dimensions} dimensions`);
  if (!q.vector.every(Number.isFinite)) throw new RangeError("query vector values must be finite numbers");
}

function clampK(k: number): number {
  return Math.min(1000, Math.max(1, Math.trunc(k) || 1));
}

function filterConditions(filters: CandidateFilters | undefined): SQL[] {
  const where: SQL[] = [];
  if (filters?.category) where.push(eq(images.category, filters.category));
  if (filters?.role) where.push(eq(images.role, filters.role));
  return where;
}

/**
 * `model = '…'` as a literal for indexed models: the planner can only use a partial index when it
 * can prove the predicate at plan time, so the model name of an indexed model is inlined (it comes
 * from INDEXED_EMBEDDINGS, not from the caller); other models are a bound parameter.
 */
function modelPredicate(model: string): SQL {
  const indexed = INDEXED_EMBEDDINGS.find((e) => e.model === model);
  return indexed ? sql`${imageEmbeddings.model} = ${sql.raw(`'${indexed.model}'`)}` : eq(imageEmbeddings.model, model);
}

function vectorLiteral(vector: number[]): string {
  return `[${vector.join(",")}]`;
}

function vectorSelect(db: Db, q: VectorQuery, distance: SQL<number>) {
  const where: SQL[] = [modelPredicate(q.model), ...filterConditions(q.filters)];
  if (isUuid(q.filters?.excludeId)) where.push(ne(imageEmbeddings.imageId, q.filters.excludeId));
  const base = db.select({ id: imageEmbeddings.imageId, distance }).from(imageEmbeddings);
  const joined = q.filters?.category || q.filters?.role ? base.innerJoin(images, eq(images.id, imageEmbeddings.imageId)) : base;
  return joined.where(and(...where)).orderBy(distance).limit(clampK(q.k));
}

/**
 * Top-k images by cosine distance to `vector` for one embedding model, over that model's HNSW
 * partial index (`(embedding::vector(N)) <=> $1::vector(N)` with `model = '…'`, the same
 * expression as the index). Runs in a transaction with `SET LOCAL hnsw.ef_search` and
 * `hnsw.iterative_scan = relaxed_order`, so a selective filter keeps scanning the graph instead of
 * returning fewer than k rows; the rows are re-sorted by distance.
 *
 * @example
 * const hits = await vectorCandidates(db, { model: "wink-sg-100d", dimensions: 100, vector, k: 60, efSearch: 80, filters: { category: "portrait" } });
 */
export async function vectorCandidates(db: Db, q: VectorQuery): Promise<VectorCandidate[]> {
  checkVector(q);
  const n = sql.raw(String(q.dimensions));
  const distance = sql<number>`(${imageEmbeddings.embedding}::vector(${n})) <=> ${vectorLiteral(q.vector)}::vector(${n})`.mapWith(Number);
  const efSearch = String(Math.min(1000, Math.max(1, Math.trunc(q.efSearch) || 40)));
  const rows = await guard(() =>
    db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('hnsw.ef_search', ${efSearch}, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)`);
      return vectorSelect(tx as unknown as Db, q, distance);
    }),
  );
  return rows.sort((a, b) => a.distance - b.distance);
}

/**
 * The exact top-k by cosine distance (sequential scan, no index): the ground truth for recall.
 *
 * @example
 * const truth = await exactVectorCandidates(db, { model: "wink-sg-100d", dimensions: 100, vector, k: 20, efSearch: 0 });
 */
export async function exactVectorCandidates(db: Db, q: VectorQuery): Promise<VectorCandidate[]> {
  checkVector(q);
  // No cast to vector(N): the expression differs from the index's, so the planner cannot use it.
  const distance = sql<number>`${imageEmbeddings.embedding} <=> ${vectorLiteral(q.vector)}::vector`.mapWith(Number);
  return guard(() => vectorSelect(db, q, distance));
}

/**
 * Top-k images whose caption, labels or category match `query` (`websearch_to_tsquery('english')`),
 * ranked by `ts_rank_cd` over the weighted, GIN-indexed `search_tsv`.
 *
 * @example
 * const hits = await fulltextCandidates(db, { query: "red fox -cartoon", k: 60 });
 */
export async function fulltextCandidates(db: Db, q: FulltextQuery): Promise<FulltextCandidate[]> {
  if (q.query.trim() === "") return [];
  const tsquery = sql`websearch_to_tsquery('english', ${q.query})`;
  const rank = sql<number>`ts_rank_cd(${images.searchTsv}, ${tsquery})`.mapWith(Number);
  const where: SQL[] = [sql`${images.searchTsv} @@ ${tsquery}`, ...filterConditions(q.filters)];
  if (isUuid(q.filters?.excludeId)) where.push(ne(images.id, q.filters.excludeId));
  return guard(() =>
    db
      .select({ id: images.id, rank })
      .from(images)
      .where(and(...where))
      .orderBy(desc(rank), images.id)
      .limit(clampK(q.k)),
  );
}

/**
 * The palettes of these images (`hex_colors`), in no particular order: what a colour filter needs
 * before the full records of the survivors are loaded.
 *
 * @example
 * const palettes = await palettesByIds(db, ["0b6f…", "5d1e…"]); // [{ id, hexColors: ["#aa3322", …] }, …]
 */
export async function palettesByIds(db: Db, ids: readonly string[]): Promise<{ id: string; hexColors: string[] }[]> {
  const wanted = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
  if (wanted.length === 0) return [];
  return guard(() => db.select({ id: images.id, hexColors: images.hexColors }).from(images).where(inArray(images.id, wanted)));
}
