import type { PGlite, Transaction } from "@electric-sql/pglite";
import type { Pool, PoolClient } from "@neondatabase/serverless";
import { DB_ATTR, HTTP_ATTR, SpanKind, SpanStatusCode, type Telemetry } from "../telemetry/index.ts";

/** What a span says about one statement, read from its (parameterised) text. */
export interface QueryInfo {
  operation: string;
  collection: string | undefined;
}

const MAX_QUERY_TEXT = 4_000;

/**
 * Reads the operation (first keyword) and the main table (after FROM / INTO / UPDATE / TABLE)
 * from SQL text. Statements on several tables name the first one.
 *
 * @example
 * describeQuery('select "id" from "images" where "id" = $1'); // { operation: "SELECT", collection: "images" }
 */
export function describeQuery(text: string): QueryInfo {
  const body = text.replace(/--[^\n]*\n/g, " ").replace(/\/\*[\s\S]*?\*\//g, " ").trim();
  const operation = (/^[(\s]*([A-Za-z]+)/.exec(body)?.[1] ?? "QUERY").toUpperCase();
  const scope = operation === "WITH" ? body.slice(body.search(/\)\s*(select|insert|update|delete)\b/i) + 1) : body;
  const match = /\b(?:from|into|update|table(?:\s+if\s+(?:not\s+)?exists)?|index\s+"?\w+"?\s+on)\s+(?:only\s+)?("?[\w$]+"?(?:\."?[\w$]+"?)?)/i.exec(scope);
  const collection = match?.[1]?.replace(/"/g, "").split(".").pop();
  return { operation, collection };
}

/**
 * Runs one statement inside a CLIENT span under the current span; values never reach the span.
 * A failure records the SQLSTATE (`db.response.status_code`), not the driver's message, which
 * can quote values.
 *
 * @example
 * await querySpan(telemetry, "select 1", () => client.query("select 1"));
 */
export async function querySpan<T>(telemetry: Telemetry, text: string, run: () => Promise<T>, server?: { address: string }): Promise<T> {
  const { operation, collection } = describeQuery(text);
  const span = telemetry.startSpan(collection ? `${operation} ${collection}` : operation, {
    kind: SpanKind.CLIENT,
    attributes: {
      [DB_ATTR.system]: "postgresql",
      [DB_ATTR.operation]: operation,
      ...(collection ? { [DB_ATTR.collection]: collection } : {}),
      [DB_ATTR.queryText]: text.length > MAX_QUERY_TEXT ? `${text.slice(0, MAX_QUERY_TEXT)}…` : text,
      ...(server ? { [HTTP_ATTR.serverAddress]: server.address } : {}),
    },
  });
  try {
    return await telemetry.withSpan(span, run);
  } catch (error) {
    // Driver messages can quote values ("invalid input syntax for type uuid: \"…\""): keep the SQLSTATE only.
    const code = (error as { code?: unknown }).code;
    const sqlState = typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
    const type = sqlState ?? (typeof code === "string" ? code : error instanceof Error ? error.name : "Error");
    span.setAttribute("error.type", type);
    if (sqlState) span.setAttribute("db.response.status_code", sqlState);
    span.setStatus({ code: SpanStatusCode.ERROR, message: `database error ${type}` });
    throw error;
  } finally {
    span.end();
  }
}

function textOf(query: unknown): string {
  if (typeof query === "string") return query;
  if (query && typeof query === "object" && typeof (query as { text?: unknown }).text === "string") return (query as { text: string }).text;
  return "";
}

function instrumentPgliteTx(tx: Transaction, telemetry: Telemetry): Transaction {
  return new Proxy(tx, {
    get(target, prop, receiver) {
      if (prop === "query" || prop === "sql" || prop === "exec") {
        const fn = (target[prop] as (...args: unknown[]) => Promise<unknown>).bind(target);
        if (prop === "sql") return fn;
        return (text: string, ...rest: unknown[]) => querySpan(telemetry, text, () => fn(text, ...rest));
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

/**
 * Wraps a PGlite instance so `query`, `exec` and the queries inside `transaction` each run in a
 * CLIENT span. Drizzle and raw queries go through here alike.
 *
 * @example
 * const db = drizzle({ client: instrumentPglite(pglite, telemetry), schema });
 */
export function instrumentPglite(client: PGlite, telemetry: Telemetry): PGlite {
  return new Proxy(client, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      const fn = (value as (...args: unknown[]) => unknown).bind(target);
      if (prop === "query" || prop === "exec") {
        return (text: string, ...rest: unknown[]) => querySpan(telemetry, text, () => fn(text, ...rest) as Promise<unknown>);
      }
      if (prop === "transaction") {
        return (callback: (tx: Transaction) => Promise<unknown>) => fn((tx: Transaction) => callback(instrumentPgliteTx(tx, telemetry)));
      }
      return fn;
    },
  });
}

function instrumentNeonClient(client: PoolClient, telemetry: Telemetry, server: { address: string }): PoolClient {
  return new Proxy(client, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop !== "query" || typeof value !== "function") return typeof value === "function" ? value.bind(target) : value;
      const fn = (value as (...args: unknown[]) => Promise<unknown>).bind(target);
      return (query: unknown, ...rest: unknown[]) => querySpan(telemetry, textOf(query), () => fn(query, ...rest), server);
    },
  });
}

/**
 * Wraps a Neon `Pool` so `pool.query` and the queries on clients from `pool.connect()` (drizzle's
 * interactive transactions) each run in a CLIENT span.
 *
 * @example
 * const db = drizzle({ client: instrumentNeonPool(pool, telemetry, { address: host }), schema });
 */
export function instrumentNeonPool(pool: Pool, telemetry: Telemetry, server: { address: string }): Pool {
  return new Proxy(pool, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      const fn = (value as (...args: unknown[]) => unknown).bind(target);
      if (prop === "query") {
        return (query: unknown, ...rest: unknown[]) => querySpan(telemetry, textOf(query), () => fn(query, ...rest) as Promise<unknown>, server);
      }
      if (prop === "connect") {
        return async (...args: unknown[]) => {
          if (args.length > 0) return fn(...args);
          const client = (await fn()) as PoolClient;
          return instrumentNeonClient(client, telemetry, server);
        };
      }
      return fn;
    },
  });
}
