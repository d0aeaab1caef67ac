import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { withPreparedStatements } from "./prepared.ts";

/**
 * Opens PGlite with pgvector: in memory, in `dataDir`, or from a `dumpDataDir()` tarball; its
 * `query` keeps named prepared statements (see `withPreparedStatements`).
 *
 * @example
 * const pglite = await openPglite({ dataDir: "./data/pglite" });
 */
export async function openPglite(options: { dataDir?: string; loadDataDir?: Blob | File } = {}): Promise<PGlite> {
  const pglite = await PGlite.create({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
    extensions: { vector },
  });
  return withPreparedStatements(pglite);
}
