import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { Client, Pool, type PoolConfig } from "@neondatabase/serverless";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzleNeon } from "drizzle-orm/neon-serverless";
import { DataDirLockedError, lockDataDir, type DataDirLock } from "./lock.ts";
import { redactText, type Logger } from "../log.ts";
import type { Telemetry } from "../telemetry/index.ts";
import { DatabaseUnavailableError } from "./errors.ts";
import { instrumentNeonPool, instrumentPglite } from "./instrument.ts";
import { migrateDatabase } from "./migrate.ts";
import { openPglite } from "./pglite.ts";
import * as schema from "./schema.ts";

export { openPglite };

/** The drizzle handle every data function takes: PGlite and Neon share the Postgres base type. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export type DatabaseKind = "pglite-memory" | "pglite-disk" | "neon";

/** An open database: the drizzle handle, what it runs on, a liveness check and a closer. */
export interface Database {
  db: Db;
  kind: DatabaseKind;
  /** PGlite on disk: the data directory's lock, held until `close()`. */
  lock?: DataDirLock;
  /**
   * True when independent statements run at the same time (Neon: a pool of connections), so a
   * pipeline issues them together; false when they queue for one engine (PGlite), where issuing
   * them together only makes each stage's span measure the other's wait.
   */
  concurrent: boolean;
  /** True when the server vacuums and analyses by itself (Neon); PGlite runs no autovacuum (see `maintain`). */
  autovacuum: boolean;
  /** Runs `select 1`; throws `DatabaseUnavailableError` when the database cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Neon WebSocket settings (`neonConfig`), applied to this database's connections only. */
export interface NeonSocketOptions {
  wsProxy?: string | ((host: string, port: number | string) => string);
  useSecureWebSocket?: boolean;
  pipelineTLS?: boolean;
  pipelineConnect?: false | "password";
}

export interface OpenDatabaseOptions {
  /** Unset: PGlite under `dataDir/pglite`; `memory://`: in-memory PGlite; postgres URL: Neon. */
  databaseUrl?: string;
  dataDir: string;
  telemetry: Telemetry;
  log: Logger;
  /** Apply pending migrations after opening (default true). */
  migrate?: boolean;
  /** What this process is, recorded in the data directory's lock (`server`, `ingest`, …); default the script's name. */
  owner?: string;
  neon?: NeonSocketOptions;
  /** Neon pool size (default 10). */
  maxConnections?: number;
  /** How long to wait for a connection (default 10 s). */
  connectTimeoutMs?: number;
  /** Neon: how long a query may go unanswered before it fails as unavailable (default 30 s). */
  queryTimeoutMs?: number;
}

/**
 * Wraps an open PGlite (already migrated or not) as a `Database` with spans on every query.
 *
 * @example
 * const database = wrapPglite(await openPglite(), telemetry, "pglite-memory");
 */
export function wrapPglite(pglite: PGlite, telemetry: Telemetry, kind: "pglite-memory" | "pglite-disk"): Database {
  const client = instrumentPglite(pglite, telemetry);
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  let closed = false;
  return {
    db,
    kind,
    concurrent: false,
    autovacuum: false,
    async ping() {
      if (closed || pglite.closed) throw new DatabaseUnavailableError("the embedded database is closed");
      await client.query("select 1");
    },
    async close() {
      if (closed) return;
      closed = true;
      await pglite.close();
    },
  };
}

function describeTarget(url: string): { host: string; port: string } {
  try {
    const parsed = new URL(url);
    return { host: parsed.hostname, port: parsed.port || "5432" };
  } catch {
    return { host: "(unparseable DATABASE_URL)", port: "" };
  }
}

function reasonOf(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const message = (e as { message?: unknown }).message;
    const code = (e as { code?: unknown }).code;
    if (typeof message === "string" && message !== "" && !parts.includes(message)) parts.push(message);
    else if (typeof code === "string") parts.push(code);
  }
  return parts.length > 0 ? parts.join(": ").replace(/\s+/g, " ").slice(0, 300) : "no answer";
}

function openNeon(url: string, options: OpenDatabaseOptions): Database {
  const target = describeTarget(url);
  const socket = options.neon;
  const config: PoolConfig = {
    connectionString: url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    query_timeout: options.queryTimeoutMs ?? 30_000,
  };
  const pool = new Pool(config);
  if (socket) {
    // The Pool builds connections with `new this.Client(options)`; each applies these socket settings.
    pool.Client = class ConfiguredClient extends Client {
      constructor(clientConfig?: ConstructorParameters<typeof Client>[0]) {
        super(clientConfig);
        Object.assign(this.neonConfig, socket);
      }
    };
  }
  // An idle connection that drops emits 'error' on the pool; without a listener that would crash the process.
  pool.on("error", (error: Error) => options.log.warn("database connection dropped", { host: target.host, error: redactText(error.message) }));
  const client = instrumentNeonPool(pool, options.telemetry, { address: target.host });
  const db = drizzleNeon({ client, schema }) as unknown as Db;
  let closed = false;
  return {
    db,
    kind: "neon",
    concurrent: true,
    autovacuum: true,
    async ping() {
      try {
        await client.query("select 1");
      } catch (error) {
        throw new DatabaseUnavailableError(`database at ${target.host} cannot be reached: ${redactText(reasonOf(error))}`, { cause: error });
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

function takeLock(options: OpenDatabaseOptions, dir: string): DataDirLock {
  let lock: DataDirLock;
  try {
    lock = lockDataDir(options.dataDir, { command: options.owner });
  } catch (error) {
    if (error instanceof DataDirLockedError) throw error;
    throw new DatabaseUnavailableError(`embedded database in ${dir} cannot be opened: its data directory cannot be locked: ${reasonOf(error)}`, { cause: error });
  }
  const gone = lock.takenOverFrom;
  if (gone) {
    options.log.warn("took over the data directory lock of a process that did not release it (killed or crashed)", {
      data_dir: lock.dataDir,
      previous_pid: gone.pid,
      previous_command: gone.command,
      previous_started_at: gone.startedAt,
    });
  }
  return lock;
}

/**
 * Opens the database chosen by `databaseUrl`, checks it answers and (unless `migrate: false`)
 * applies pending migrations. A database that cannot be opened or reached throws one
 * `DatabaseUnavailableError` naming the host, never the password. PGlite on disk first takes the
 * data directory's lock (released by `close()`); a directory another process holds throws
 * `DataDirLockedError` naming it.
 *
 * @example
 * const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, telemetry, log });
 * const image = await getImage(database.db, id);
 * await database.close();
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const url = options.databaseUrl;
  let database: Database;
  if (url === undefined || url === "") {
    const dir = join(options.dataDir, "pglite");
    // The lock comes first and outside PGlite: two processes writing one PGlite directory lose data.
    const lock = takeLock(options, dir);
    let pglite: PGlite;
    try {
      await mkdir(dir, { recursive: true });
      pglite = await openPglite({ dataDir: dir });
    } catch (error) {
      lock.release();
      throw new DatabaseUnavailableError(`embedded database in ${dir} cannot be opened: ${reasonOf(error)}`, { cause: error });
    }
    const opened = wrapPglite(pglite, options.telemetry, "pglite-disk");
    database = {
      ...opened,
      lock,
      async close() {
        try {
          await opened.close();
        } finally {
          lock.release();
        }
      },
    };
  } else if (url === "memory://") {
    database = wrapPglite(await openPglite(), options.telemetry, "pglite-memory");
  } else if (/^postgres(ql)?:\/\//.test(url)) {
    database = openNeon(url, options);
  } else {
    throw new DatabaseUnavailableError("DATABASE_URL must be memory:// or a postgres:// / postgresql:// URL");
  }
  try {
    await database.ping();
    if (options.migrate ?? true) await migrateDatabase(database, options.log);
  } catch (error) {
    await database.close().catch(() => {});
    throw error;
  }
  options.log.info("database open", { kind: database.kind, ...(database.kind === "neon" ? { host: describeTarget(url!).host } : {}) });
  return database;
}
