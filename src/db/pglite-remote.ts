/**
 * An embedded PGlite that lives in a worker thread (`pglite-worker.ts`), behind the part of
 * PGlite's interface drizzle and this service use: `query`, `exec`, `transaction`, `close`,
 * `closed`. PGlite runs Postgres as WASM on the thread that owns it; owning it from a worker lets
 * HTTP handling, query expansion, fusion and reranking on the request thread overlap the
 * database's work on the other core, instead of queueing behind it.
 *
 * Written by hand because PGlite's own worker support (`@electric-sql/pglite/worker`) is built for
 * browser tabs: it elects a leader through `navigator.locks` and talks over `BroadcastChannel`, and
 * it still parses every result on the calling thread.
 */
import type { PGlite, Results, Transaction } from "@electric-sql/pglite";
import type { WorkerRequest, WorkerResponse } from "./pglite-worker.ts";

type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

/** A Postgres error from the worker, with the fields the service reads (`code`, `constraint`, …). */
class RemoteDatabaseError extends Error {
  constructor(fields: Record<string, unknown>) {
    super(String(fields.message ?? "database error"));
    Object.assign(this, fields);
    this.name = typeof fields.name === "string" ? fields.name : "DatabaseError";
  }
}

/** The query options drizzle passes; type parsers can only ask for the raw text (identity). */
interface QueryOptions {
  rowMode?: "array" | "object";
  parsers?: Record<number, unknown>;
}

/**
 * The subset of PGlite a worker-owned instance offers; wrap it like a PGlite (`wrapPglite`).
 *
 * @example
 * const remote = await RemotePglite.open({ dataDir: "./data/pglite" });
 * await remote.query("select 1");
 */
export class RemotePglite {
  #worker: Worker;
  #next = 0;
  #pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  #closed = false;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.onmessage = (event: MessageEvent<WorkerResponse>) => {
      const answer = event.data;
      const pending = this.#pending.get(answer.id);
      this.#pending.delete(answer.id);
      if (answer.ok) pending?.resolve(answer.value);
      else pending?.reject(new RemoteDatabaseError(answer.error));
    };
    worker.onerror = (event) => {
      const error = new Error(`the database worker failed: ${event.message}`);
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
      this.#closed = true;
    };
  }

  /**
   * Starts the worker and opens PGlite there: in `dataDir`, or in memory.
   *
   * @example
   * const remote = await RemotePglite.open({});
   */
  static async open(options: { dataDir?: string }): Promise<RemotePglite> {
    const remote = new RemotePglite(new Worker(new URL("./pglite-worker.ts", import.meta.url).href));
    try {
      await remote.#call({ op: "open", dataDir: options.dataDir });
    } catch (error) {
      remote.#worker.terminate();
      throw error;
    }
    return remote;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #call<T>(request: Request): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("the embedded database is closed"));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#worker.postMessage({ ...request, id });
    });
  }

  #query<T>(text: string, params: unknown[] | undefined, options: QueryOptions | undefined, tx?: number): Promise<Results<T>> {
    const rawTypes = options?.parsers ? Object.keys(options.parsers).map(Number) : undefined;
    return this.#call({ op: "query", text, params, rowMode: options?.rowMode, rawTypes, tx });
  }

  query<T>(text: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>> {
    return this.#query(text, params, options);
  }

  exec(text: string): Promise<Results[]> {
    return this.#call({ op: "exec", text });
  }

  /** An interactive transaction: statements of `callback` run inside it, others wait (as in PGlite). */
  async transaction<T>(callback: (tx: Transaction) => Promise<T>): Promise<T> {
    const id = await this.#call<number>({ op: "begin" });
    let ended = false;
    const tx = {
      query: <R>(text: string, params?: unknown[], options?: QueryOptions) => this.#query<R>(text, params, options, id),
      exec: (text: string) => this.#call<Results[]>({ op: "exec", text, tx: id }),
      sql: () => Promise.reject(new Error("tagged-template queries are not available on a worker transaction")),
      rollback: async () => {
        ended = true;
        await this.#call({ op: "rollback", tx: id });
      },
      get closed() {
        return ended;
      },
    } as unknown as Transaction;
    let result: T;
    try {
      result = await callback(tx);
    } catch (error) {
      if (!ended) await this.#call({ op: "rollback", tx: id }).catch(() => {});
      throw error;
    }
    if (!ended) await this.#call({ op: "commit", tx: id });
    return result;
  }

  /** Closes PGlite (flushing it to disk) and ends the worker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#call({ op: "close" });
    } finally {
      this.#closed = true;
      this.#worker.terminate();
    }
  }
}

/** The remote instance typed as the PGlite the wrappers take (only the methods above exist). */
export type RemotePgliteAsPglite = RemotePglite & PGlite;
