/**
 * Named prepared statements for PGlite. `PGlite.query` parses, analyses and plans every statement
 * again and enters the WASM engine six times per call (parse, describe, bind, describe, execute,
 * sync); for the search statements that is most of their cost (demo corpus: 3.4 ms for the
 * full-text statement, 1.7 ms prepared). Here each distinct SQL text is parsed and described once
 * per connection (an LRU of `limit` statements), and each call is one bind + execute + sync.
 * Results are parsed by PGlite's own parsers, so rows read exactly as from `PGlite.query`.
 */
import { parse, protocol, type PGlite, type Results } from "@electric-sql/pglite";

const { serialize } = protocol;

/** What `PGlite.query` takes as options (rowMode, parsers, serializers). */
type QueryOptions = Parameters<PGlite["query"]>[2];

interface Statement {
  name: string;
  paramTypes: number[];
  /** The statement's RowDescription message; absent for statements that return no rows. */
  rowDescription?: unknown;
}

/** PGlite's internals this module relies on (public methods with a leading underscore). */
interface PgliteInternals {
  _checkReady(): Promise<void>;
  _runExclusiveTransaction<T>(fn: () => Promise<T>): Promise<T>;
  _runExclusiveQuery<T>(fn: () => Promise<T>): Promise<T>;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** SQLSTATEs after which a cached statement is stale (schema changed under it, or it was deallocated). */
const STALE = new Set(["0A000", "26000"]);

/**
 * Returns `pglite` with a `query` that keeps named prepared statements; everything else (exec,
 * transactions and the queries inside them) is PGlite's own.
 *
 * @example
 * const pglite = withPreparedStatements(await PGlite.create());
 * await pglite.query("select $1::int as n", [1]); // parsed and planned once, bound every call
 */
export function withPreparedStatements(pglite: PGlite, limit = 256): PGlite {
  const internals = pglite as unknown as PgliteInternals;
  const statements = new Map<string, Statement>();
  let next = 0;

  // PGlite merges a query's `parsers` into its whole default table (`{...defaults, ...parsers}`)
  // for every query, and drizzle passes parsers with every query: ~0.2 ms a query. Instead, one
  // merged table per set of overridden type ids, whose entries call the current query's parser.
  type Parser = (value: string, type?: number) => unknown;
  const merged = new Map<string, Record<number, Parser>>();
  let current: Record<number, Parser> = {};
  function parsersFor(overrides: Record<number, Parser> | undefined): Record<number, Parser> {
    if (!overrides) return pglite.parsers as Record<number, Parser>;
    current = overrides;
    const key = Object.keys(overrides).join(",");
    let table = merged.get(key);
    if (!table) {
      table = { ...(pglite.parsers as Record<number, Parser>) };
      for (const type of Object.keys(overrides).map(Number)) table[type] = (value, t) => current[type]!(value, t);
      merged.set(key, table);
    }
    return table;
  }

  async function prepare(text: string): Promise<Statement> {
    const name = `his_${next++}`;
    const messages = (await pglite.execProtocolStream(concat([serialize.parse({ name, text }), serialize.describe({ type: "S", name }), serialize.sync()]), { syncToFs: false })) as {
      name: string;
      dataTypeIDs?: number[];
    }[];
    const statement: Statement = {
      name,
      paramTypes: messages.find((m) => m.name === "parameterDescription")?.dataTypeIDs ?? [],
      rowDescription: messages.find((m) => m.name === "rowDescription"),
    };
    if (statements.size >= limit) await forget(statements.keys().next().value!);
    statements.set(text, statement);
    return statement;
  }

  async function forget(text: string): Promise<void> {
    const statement = statements.get(text);
    if (!statement) return;
    statements.delete(text);
    await pglite.execProtocolStream(concat([serialize.close({ type: "S", name: statement.name }), serialize.sync()]), { syncToFs: false });
  }

  async function run(text: string, params: unknown[], options: QueryOptions, retry: boolean): Promise<Results> {
    let statement = statements.get(text);
    if (statement) {
      statements.delete(text);
      statements.set(text, statement);
    } else statement = await prepare(text);
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const type = statement.paramTypes[i]!;
      const serializer = options?.serializers?.[type] ?? pglite.serializers[type];
      return serializer ? serializer(value) : String(value);
    });
    try {
      const messages = await pglite.execProtocolStream(concat([serialize.bind({ statement: statement.name, values }), serialize.execute({}), serialize.sync()]), {
        syncToFs: false,
      });
      const all = statement.rowDescription ? [statement.rowDescription, ...messages] : messages;
      // Parsed synchronously: `current` is this query's parsers for the whole call.
      const parsers = parsersFor(options?.parsers as Record<number, Parser> | undefined);
      return parse.parseResults(all as Parameters<typeof parse.parseResults>[0], parsers, { ...options, parsers: undefined })[0]!;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (retry && typeof code === "string" && STALE.has(code)) {
        await forget(text);
        return run(text, params, options, false);
      }
      throw error;
    }
  }

  async function query(text: string, params: unknown[] = [], options?: QueryOptions): Promise<Results> {
    await internals._checkReady();
    // The same locks as PGlite.query: wait for an open transaction, then run alone.
    const result = await internals._runExclusiveTransaction(() => internals._runExclusiveQuery(() => run(text, params, options, true)));
    await pglite.syncToFs();
    return result;
  }

  return new Proxy(pglite, {
    get(target, prop) {
      if (prop === "query") return query;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
