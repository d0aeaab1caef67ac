/**
 * The SQL of search: each retrieval branch is ONE statement that returns its candidates with
 * their records (no transaction around it, no second statement to load rows or palettes), so a
 * search costs two round trips, which a database that can run statements concurrently (Neon's
 * pool) runs at the same time. Filters come from one builder, `candidateFilters`.
 */
import { and, eq, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client.ts";
import { guard } from "./errors.ts";
import { isUuid } from "./ids.ts";
import { imageColumns } from "./images.ts";
import { imageEmbeddings, images, INDEXED_EMBEDDINGS, type ImageRole, type ImageRow } from "./schema.ts";

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
  /** HNSW candidate list size (`hnsw.ef_search`); raised to k when smaller. */
  efSearch: number;
  filters?: CandidateFilters;
}

/**
 * A candidate's record: every column but the generated `search_tsv` and `hypernyms`, which the
 * full-text branch already reads from `search_tsv` and nothing after it uses. Up to 64 words a
 * row, parsed for every candidate of every search, they cost the service ~0.2 ms a search.
 */
export type CandidateImage = Omit<ImageRow, "hypernyms">;

export interface VectorCandidate {
  id: string;
  /** Cosine distance, 0 (same direction) .. 2 (opposite). */
  distance: number;
  image: CandidateImage;
}

export interface FulltextQuery {
  /** Web-search syntax (`websearch_to_tsquery('english')`): the rows of the first tier match it. */
  query: string;
  /**
   * A wider web-search query for a second tier, searched only when the first tier has fewer than
   * `k` rows (e.g. the expansion OR'ed); its rows come after the first tier's.
   */
  widen?: string;
  /** What rows are ranked against (`ts_rank`); default `query`. */
  rankBy?: string;
  /**
   * The words that matter most (e.g. the original query words, OR'ed): second-tier rows matching
   * none of them (only `widen`'s other words) come after the rest, as tier 3.
   */
  prefer?: string;
  k: number;
  /** At most this many matching rows are ranked per tier (default RANKED_ROWS_CAP or 5·k). */
  cap?: number;
  filters?: CandidateFilters;
}

export interface FulltextCandidate {
  id: string;
  /** `ts_rank` over caption (A), labels (B), category (C). */
  rank: number;
  /** 1: matches `query`; 2: matches `widen` and `prefer`; 3: matches only `widen` (without `prefer`, 2). */
  tier: 1 | 2 | 3;
  image: CandidateImage;
}

/**
 * At most this many matching rows are ranked per tier (and at least 5 per wanted candidate):
 * `ts_rank` reads every ranked row's tsvector, so a common word over 100k images would
 * otherwise rank thousands of rows per query.
 */
export const RANKED_ROWS_CAP = 200;

function checkVector(q: VectorQuery): void {
  if (!Number.isInteger(q.dimensions) || q.dimensions < 1 || q.dimensions > 16_000) throw new RangeError("dimensions must be 1..16000");
  if (q.vector.length !== q.dimensions) throw new RangeError(`query vector has ${q.vector.length} values for ${q.dimensions} dimensions`);
  if (!q.vector.every(Number.isFinite)) throw new RangeError("query vector values must be finite numbers");
}

function clampK(k: number): number {
  return Math.min(1000, Math.max(1, Math.trunc(k) || 1));
}

/**
 * The WHERE conditions of the candidate filters on `images` (and `idColumn`, the column that holds
 * the image id in the branch's table): the one place both branches take them from.
 *
 * @example
 * and(sql`search_tsv @@ …`, ...candidateFilters({ category: "food" }, images.id))
 */
export function candidateFilters(filters: CandidateFilters | undefined, idColumn: SQL | typeof images.id = images.id): SQL[] {
  const where: SQL[] = [];
  if (filters?.category) where.push(eq(images.category, filters.category));
  if (filters?.role) where.push(eq(images.role, filters.role));
  if (isUuid(filters?.excludeId)) where.push(sql`${idColumn} <> ${filters.excludeId}`);
  return where;
}

/** True when a filter needs the `images` row (the vector branch then joins it). */
function needsImages(filters: CandidateFilters | undefined): boolean {
  return Boolean(filters?.category || filters?.role);
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

const { hypernyms: _hypernyms, ...candidateColumns } = imageColumns;

/** `images.<column>, …` in `candidateColumns` order, for raw statements that return candidate records. */
const IMAGE_SELECT = sql.join(
  Object.values(candidateColumns).map((c) => sql`${images}.${sql.identifier(c.name)}`),
  sql`, `,
);

/**
 * An image record from a raw row (driver values by column name), mapped by the columns' own
 * drizzle mappers, so PGlite and Neon rows read the same.
 */
function imageFromRow(raw: Record<string, unknown>): CandidateImage {
  const out: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(candidateColumns)) {
    const value = raw[column.name];
    out[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value as never);
  }
  return out as CandidateImage;
}

function rowsOf(result: unknown): Record<string, unknown>[] {
  return (result as { rows: Record<string, unknown>[] }).rows;
}

/**
 * Top-k images by cosine distance to `vector` for one embedding model, over that model's HNSW
 * partial index (`(embedding::vector(N)) <=> $1::vector(N)` with `model = '…'`, the same
 * expression as the index), with their records, nearest first — in one statement.
 * `hnsw.ef_search` (at least k) and `hnsw.iterative_scan = relaxed_order` (a selective filter
 * keeps scanning the graph instead of returning fewer than k rows) are set by `set_config(…, true)`
 * in a lateral dependency of the index scan: pgvector reads both when the scan starts, which the
 * lateral join puts after the settings; `true` scopes them to the statement's own transaction.
 *
 * @example
 * const hits = await vectorCandidates(db, { model: "wink-sg-100d", dimensions: 100, vector, k: 60, efSearch: 80, filters: { category: "portrait" } });
 */
export async function vectorCandidates(db: Db, q: VectorQuery): Promise<VectorCandidate[]> {
  const result = await guard(() => db.execute(vectorCandidatesStatement(q)));
  return rowsOf(result).map((raw) => ({ id: String(raw.id), distance: Number(raw.distance), image: imageFromRow(raw) }));
}

/**
 * The statement `vectorCandidates` runs (for EXPLAIN in tests and benchmarks).
 *
 * @example
 * const { sql: text, params } = new PgDialect().sqlToQuery(vectorCandidatesStatement(query));
 */
export function vectorCandidatesStatement(q: VectorQuery): SQL {
  checkVector(q);
  const k = clampK(q.k);
  const n = sql.raw(String(q.dimensions));
  const efSearch = String(Math.min(1000, Math.max(k, Math.trunc(q.efSearch) || 40)));
  const source = needsImages(q.filters) ? sql`${imageEmbeddings} join ${images} on ${images.id} = ${imageEmbeddings.imageId}` : sql`${imageEmbeddings}`;
  const where = and(modelPredicate(q.model), ...candidateFilters(q.filters, sql`${imageEmbeddings.imageId}`), sql`settings.ef is not null and settings.scan is not null`);
  // k and ef_search are clamped integers, written as literals: with only the vector a parameter,
  // a prepared statement's generic plan is the index scan, so PGlite stops re-planning it (~0.3 ms at 100k).
  return sql`
      select ${IMAGE_SELECT}, hits.distance
      from (select set_config('hnsw.ef_search', ${sql.raw(`'${efSearch}'`)}, true) as ef, set_config('hnsw.iterative_scan', 'relaxed_order', true) as scan) as settings
      cross join lateral (
        select ${imageEmbeddings.imageId} as image_id, (${imageEmbeddings.embedding}::vector(${n})) <=> ${vectorLiteral(q.vector)}::vector(${n}) as distance
        from ${source} where ${where}
        order by distance limit ${sql.raw(String(k))}
      ) as hits
      join ${images} on ${images.id} = hits.image_id
      order by hits.distance, ${images.id}`;
}

/**
 * The exact top-k by cosine distance (sequential scan, no index): the ground truth for recall.
 *
 * @example
 * const truth = await exactVectorCandidates(db, { model: "wink-sg-100d", dimensions: 100, vector, k: 20, efSearch: 0 });
 */
export async function exactVectorCandidates(db: Db, q: VectorQuery): Promise<{ id: string; distance: number }[]> {
  checkVector(q);
  // No cast to vector(N): the expression differs from the index's, so the planner cannot use it.
  const distance = sql<number>`${imageEmbeddings.embedding} <=> ${vectorLiteral(q.vector)}::vector`.mapWith(Number);
  const base = db.select({ id: imageEmbeddings.imageId, distance }).from(imageEmbeddings);
  const joined = needsImages(q.filters) ? base.innerJoin(images, eq(images.id, imageEmbeddings.imageId)) : base;
  return guard(() =>
    joined
      .where(and(modelPredicate(q.model), ...candidateFilters(q.filters, sql`${imageEmbeddings.imageId}`)))
      .orderBy(distance)
      .limit(clampK(q.k)),
  );
}

/**
 * One tier: the matching rows (at most `cap`, in index order) ranked against `rankBy`, best `limit`
 * first; `level` is the tier number each row gets (an expression: it may depend on the row).
 */
function tier(name: string, match: SQL, rankBy: SQL, level: SQL, filters: CandidateFilters | undefined, cap: number, limit: SQL, extra: SQL[] = []) {
  const matches = sql.identifier(`${name}_matches`);
  // ts_rank, not ts_rank_cd: the same nDCG@10 on every evaluated query set (short captions hold few
  // repeated words for cover density to tell apart) at about half the ranking's cost at 100k images.
  // MATERIALIZED: a CTE is planned for all its rows, so the planner weighs the GIN bitmap scan
  // against a sequential scan without the LIMIT, which otherwise made it read all 100k rows
  // for a rare word. The CTE is still read lazily, so the LIMIT stops the heap scan early.
  return sql`
    ${matches} as materialized (
      select ${images.id} as id, ${images.searchTsv} as tsv from ${images}
      where ${and(sql`${images.searchTsv} @@ ${match}`, ...candidateFilters(filters), ...extra)}
    ),
    ${sql.identifier(name)} as (
      select m.id, ts_rank(m.tsv, ${rankBy}) as rank, ${level} as tier from (select * from ${matches} limit ${cap}) as m
      order by tier, rank desc, m.id limit ${limit}
    )`;
}

/**
 * Images whose caption, labels or category match `query` (`websearch_to_tsquery('english')`),
 * ranked by `ts_rank` against `rankBy` over the weighted, GIN-indexed `search_tsv`, with their
 * records — in one statement. With `widen`, a second tier of rows matching it follows when the
 * first has fewer than `k` (the second tier is not even scanned otherwise). Each tier ranks at
 * most `cap` matching rows, which keeps a common word over 100k images cheap.
 *
 * @example
 * const hits = await fulltextCandidates(db, { query: "red car", widen: "red or car or automobile", rankBy: "red or car or automobile", k: 30 });
 */
export async function fulltextCandidates(db: Db, q: FulltextQuery): Promise<FulltextCandidate[]> {
  const statement = fulltextCandidatesStatement(q);
  if (!statement) return [];
  const result = await guard(() => db.execute(statement));
  return rowsOf(result).map((raw) => ({ id: String(raw.id), rank: Number(raw.rank), tier: Number(raw.tier) as FulltextCandidate["tier"], image: imageFromRow(raw) }));
}

/**
 * The statement `fulltextCandidates` runs (for EXPLAIN in tests and benchmarks); undefined when
 * there is nothing to search for.
 *
 * @example
 * const { sql: text, params } = new PgDialect().sqlToQuery(fulltextCandidatesStatement({ query: "red car", k: 30 })!);
 */
export function fulltextCandidatesStatement(q: FulltextQuery): SQL | undefined {
  const query = q.query.trim() !== "" ? q.query : (q.widen ?? "");
  const widen = q.query.trim() !== "" && q.widen?.trim() && q.widen !== q.query ? q.widen : undefined;
  if (query.trim() === "") return undefined;
  const k = clampK(q.k);
  const cap = Math.max(k, Math.trunc(q.cap ?? Math.max(RANKED_ROWS_CAP, 5 * k)));
  const rankBy = sql`websearch_to_tsquery('english', ${q.rankBy ?? query})`;
  const first = tier("tier1", sql`websearch_to_tsquery('english', ${query})`, rankBy, sql`1`, q.filters, cap, sql`${k}`);
  const level = q.prefer?.trim() ? sql`case when m.tsv @@ websearch_to_tsquery('english', ${q.prefer}) then 2 else 3 end` : sql`2`;
  const ranked = widen
    ? sql`${first}, ${tier("tier2", sql`websearch_to_tsquery('english', ${widen})`, rankBy, level, q.filters, cap, sql`${k}`, [
        // A gate on an uncorrelated subquery is evaluated once, before the scan: no second tier
        // when the first already has k rows.
        sql`(select count(*) from tier1) < ${k}`,
        sql`${images.id} not in (select id from tier1)`,
      ])}
      select id, rank, tier from tier1 union all (select id, rank, tier from tier2 order by tier, rank desc, id limit ${k} - (select count(*) from tier1))`
    : sql`${first} select id, rank, tier from tier1`;
  // The CTEs sit in a subquery so the statement reads as what it is, a SELECT from images (span name, db.operation.name).
  return sql`
      select ${IMAGE_SELECT}, hits.rank, hits.tier
      from ${images} join (with ${ranked}) as hits on ${images.id} = hits.id
      order by hits.tier, hits.rank desc, hits.id`;
}
