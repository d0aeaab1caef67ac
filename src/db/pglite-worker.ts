/**
 * The worker thread that owns an embedded PGlite (see `pglite-remote.ts`): Postgres runs its WASM
 * here, so the request thread only posts statements and receives rows, and the two overlap on two
 * cores. One small protocol: open, query, exec, begin/commit/rollback of an interactive
 * transaction, close; every answer carries the request's id.
 */
import type { PGlite, Transaction } from "@electric-sql/pglite";
import { openPglite } from "./pglite.ts";

/** A request from the owning thread. */
export type WorkerRequest =
  | { id: number; op: "open"; dataDir?: string }
  | { id: number; op: "query"; text: string; params?: unknown[]; rowMode?: "array" | "object"; rawTypes?: number[]; tx?: number }
  | { id: number; op: "exec"; text: string; tx?: number }
  | { id: number; op: "begin" }
  | { id: number; op: "commit" | "rollback"; tx: number }
  | { id: number; op: "close" };

/** The answer to one request. */
export type WorkerResponse = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: Record<string, unknown> };

/** The fields of a Postgres error the service reads (SQLSTATE, constraint, …): never row values. */
const ERROR_FIELDS = ["name", "message", "code", "constraint", "severity", "table", "column", "schema", "routine"] as const;

function errorFields(error: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ERROR_FIELDS) {
    const value = (error as Record<string, unknown> | undefined)?.[key];
    if (typeof value === "string") out[key] = value;
  }
  if (!out.message) out.message = String(error);
  return out;
}

let pglite: PGlite | undefined;
const transactions = new Map<number, { tx: Transaction; end(commit: boolean): void }>();
const identity = (value: string) => value;

function target(tx: number | undefined): PGlite | Transaction {
  if (tx === undefined) {
    if (!pglite) throw new Error("the embedded database is not open");
    return pglite;
  }
  const open = transactions.get(tx);
  if (!open) throw new Error("the transaction has ended");
  return open.tx;
}

async function handle(request: WorkerRequest): Promise<unknown> {
  switch (request.op) {
    case "open":
      pglite = await openPglite(request.dataDir ? { dataDir: request.dataDir } : {});
      return undefined;
    case "query": {
      // The caller's type parsers cannot cross threads; drizzle only ever asks for raw text, by type id.
      const parsers = request.rawTypes ? Object.fromEntries(request.rawTypes.map((oid) => [oid, identity])) : undefined;
      const result = await target(request.tx).query(request.text, request.params, { rowMode: request.rowMode, parsers });
      return { rows: result.rows, fields: result.fields, affectedRows: result.affectedRows };
    }
    case "exec":
      return (await target(request.tx).exec(request.text)).map((r) => ({ rows: r.rows, fields: r.fields, affectedRows: r.affectedRows }));
    case "begin": {
      if (!pglite) throw new Error("the embedded database is not open");
      const { promise: started, resolve: inside } = Promise.withResolvers<void>();
      const { promise: ended, resolve: end } = Promise.withResolvers<boolean>();
      const id = request.id;
      const done = pglite
        .transaction(async (tx) => {
          transactions.set(id, { tx, end });
          inside();
          if (!(await ended)) await tx.rollback();
        })
        .finally(() => transactions.delete(id));
      // A BEGIN that fails rejects `done` before the callback runs.
      await Promise.race([started, done]);
      finishing.set(id, done);
      return id;
    }
    case "commit":
    case "rollback": {
      const open = transactions.get(request.tx);
      const done = finishing.get(request.tx);
      finishing.delete(request.tx);
      if (!open || !done) throw new Error("the transaction has ended");
      open.end(request.op === "commit");
      await done;
      return undefined;
    }
    case "close":
      await pglite?.close();
      pglite = undefined;
      return undefined;
  }
}

const finishing = new Map<number, Promise<unknown>>();

declare const self: Worker;
self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  handle(request).then(
    (value) => self.postMessage({ id: request.id, ok: true, value } satisfies WorkerResponse),
    (error: unknown) => self.postMessage({ id: request.id, ok: false, error: errorFields(error) } satisfies WorkerResponse),
  );
};
