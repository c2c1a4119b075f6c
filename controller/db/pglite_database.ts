/**
 * `Database` over embedded Postgres (PGlite, WebAssembly) stored in a directory: the same
 * migrations and queries as production, so `deno task dev` needs no Postgres server
 * (decisions.md §3.2). One connection; transactions are serialized by PGlite.
 */
import { PGlite } from "@electric-sql/pglite";
import type { Database, ListenHandlers, Queryable, QueryResult } from "./database.ts";

const INT8_OID = 20;

interface PGliteLike {
  query<R>(text: string, values?: unknown[]): Promise<{ rows: R[]; affectedRows?: number }>;
  exec(text: string): Promise<{ rows: unknown[]; affectedRows?: number }[]>;
}

function wrap(db: PGliteLike): Queryable {
  return {
    async query<R>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>> {
      if (values === undefined || values.length === 0) {
        // The simple protocol, like pg without parameters: allows several statements (migrations).
        const results = await db.exec(text);
        const last = results[results.length - 1];
        return { rows: (last?.rows ?? []) as R[], rowCount: last?.affectedRows ?? 0 };
      }
      const result = await db.query<R>(text, [...values]);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
  };
}

/** Opens (creating if needed) a PGlite database in `dataDir`, or in memory when it is undefined. */
export async function createPgliteDatabase(dataDir?: string): Promise<Database> {
  const db = new PGlite(dataDir, { parsers: { [INT8_OID]: (value: string) => Number(value) } });
  await db.waitReady;
  const base = wrap(db);
  return {
    query: base.query,
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return db.transaction((tx) => fn(wrap(tx)));
    },
    async listen(channel: string, handlers: ListenHandlers) {
      const unlisten = await db.listen(channel, (payload) => handlers.onNotify(payload));
      handlers.onConnect();
      return unlisten;
    },
    async close() {
      await db.close();
    },
  };
}
