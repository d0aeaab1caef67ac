/**
 * The maintenance an embedded database misses: PGlite runs no autovacuum, so without this a freshly
 * loaded table keeps no visibility map, no hint bits, no planner statistics, and its full-text
 * index keeps every new row in the GIN pending list that each search scans; the 100k benchmark
 * shows what that costs. Neon's server vacuums by itself, so there this does nothing.
 */
import { sql } from "drizzle-orm";
import type { Logger } from "../log.ts";
import type { Database } from "./client.ts";
import { guard } from "./errors.ts";

/** A table is vacuumed once it has grown by this share of its pages since the last VACUUM/ANALYZE … */
const GROWTH_SHARE = 0.1;
/** … and by at least this many pages (8 KiB each), so a handful of uploads does not trigger it. */
const GROWTH_MIN_PAGES = 8;

/** What `maintain` did. */
export interface MaintenanceReport {
  /** The tables vacuumed and analysed (empty when nothing needed it, or the server vacuums by itself). */
  tables: string[];
  ms: number;
}

interface TableSize {
  name: string;
  /** Pages as of the last VACUUM or ANALYZE (pg_class.relpages). */
  counted: number;
  /** Pages now. */
  pages: number;
  /** Never vacuumed or analysed (pg_class.reltuples = -1). */
  never: boolean;
}

async function tableSizes(database: Database): Promise<TableSize[]> {
  const result = await guard(() =>
    database.db.execute(sql`
      select c.relname as name, c.relpages as counted, c.reltuples < 0 as never,
             (pg_relation_size(c.oid) / current_setting('block_size')::int)::int as pages
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind = 'r'
      order by c.relname`),
  );
  return (result as unknown as { rows: TableSize[] }).rows.map((r) => ({ ...r, counted: Number(r.counted), pages: Number(r.pages) }));
}

/**
 * `VACUUM ANALYZE` of the tables that need it: on an embedded database (`database.autovacuum`
 * false), every table that grew by 10% and at least 8 pages since its last VACUUM or ANALYZE, or
 * that has rows and was never analysed; with `force`, every table. A database that vacuums by
 * itself (Neon) is left alone. Statements wait while it runs (PGlite has one connection), so the
 * bulk ingest CLIs call it once at the end and the service checks every `DB_MAINTENANCE_INTERVAL_MS`.
 *
 * @example
 * await maintain(database, { force: true, log }); // after a bulk load
 */
export async function maintain(database: Database, options: { force?: boolean; log?: Logger } = {}): Promise<MaintenanceReport> {
  const started = performance.now();
  if (database.autovacuum) return { tables: [], ms: 0 };
  const due = (await tableSizes(database)).filter(
    (t) => options.force || (t.pages > 0 && (t.never || t.pages - t.counted >= Math.max(GROWTH_MIN_PAGES, GROWTH_SHARE * t.counted))),
  );
  for (const table of due) await guard(() => database.db.execute(sql`vacuum analyze ${sql.identifier(table.name)}`));
  const report = { tables: due.map((t) => t.name), ms: Math.round(performance.now() - started) };
  if (report.tables.length > 0) options.log?.info("database maintenance: vacuum analyze", { tables: report.tables.join(","), ms: report.ms });
  return report;
}

/**
 * Runs `maintain` now and then every `intervalMs` (0: never) in the background, one run at a time;
 * a failure is logged and retried at the next interval. `stop` waits for a run in progress.
 *
 * @example
 * const maintenance = startMaintenance(database, { intervalMs: 60_000, log });
 * await maintenance.stop();
 */
export function startMaintenance(database: Database, options: { intervalMs: number; log?: Logger }): { stop(): Promise<void> } {
  if (options.intervalMs <= 0 || database.autovacuum) return { stop: async () => {} };
  let running: Promise<unknown> = Promise.resolve();
  let busy = false;
  let stopped = false;
  const run = () => {
    if (stopped || busy) return;
    busy = true;
    running = maintain(database, { log: options.log })
      .catch((error: unknown) => options.log?.warn("database maintenance failed; retrying at the next interval", { error: (error as Error).message }))
      .finally(() => (busy = false));
  };
  const timer = setInterval(run, options.intervalMs);
  timer.unref?.();
  run();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
