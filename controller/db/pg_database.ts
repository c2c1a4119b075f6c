/** `Database` over a real Postgres server through `npm:pg` (the production path). */
// @ts-types="@types/pg"
import pg from "pg";
import type { Database, ListenHandlers, Queryable, QueryOptions, QueryResult } from "./database.ts";
import { Backoff, delay, type Logger } from "../../shared/mod.ts";

// int8 (event ids, fencing tokens) as JS numbers: every value we store fits in 2^53.
const INT8_OID = 20;
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID && format !== "binary") return (value: string) => Number(value);
    // deno-lint-ignore no-explicit-any
    return (pg.types.getTypeParser as any)(oid, format);
  },
};

export interface PgDatabaseOptions {
  url: string;
  /** Pool size; Plane uses 20 (#877). */
  max?: number;
  log: Logger;
}

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<R>(
      text: string,
      values?: readonly unknown[],
      options?: QueryOptions,
    ): Promise<QueryResult<R>> {
      const params = values as unknown[] | undefined;
      const result = options?.name
        ? await client.query({ name: options.name, text, values: params ?? [] })
        : await client.query(text, params);
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
  };
}

export function createPgDatabase(options: PgDatabaseOptions): Database {
  const pool = new pg.Pool({ connectionString: options.url, max: options.max ?? 20, types });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on("error", (err) => options.log.warn("Idle database connection failed", { err }));
  // pg-pool listens for a client's errors only while it is idle. A connection that dies while
  // checked out (mid-transaction, or just handed out; server restart, pg_terminate_backend)
  // would emit an unhandled 'error' and crash the process. The query in flight rejects on its
  // own and the pool drops the dead client on release, so this listener only has to exist.
  pool.on("connect", (client) => client.on("error", () => {}));
  const base = wrap(pool);
  const stops = new Set<() => Promise<void>>();
  let closing: Promise<void> | null = null;

  return {
    query: base.query,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query("begin");
        const result = await fn(wrap(client));
        await client.query("commit");
        return result;
      } catch (err) {
        try {
          await client.query("rollback");
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async listen(channel: string, handlers: ListenHandlers): Promise<() => Promise<void>> {
      const { stop, listening } = startListener(options, channel, handlers);
      stops.add(stop);
      // Resolve only once LISTEN is in place, so no event committed afterwards is missed.
      await listening;
      return async () => {
        stops.delete(stop);
        await stop();
      };
    },
    // Idempotent: a second controller's database is closed by it and again by the test
    // database that opened it (`pool.end()` throws when called twice).
    close() {
      closing ??= (async () => {
        await Promise.all([...stops].map((stop) => stop()));
        await pool.end();
      })();
      return closing;
    },
  };
}

/** One dedicated connection runs `LISTEN`; on failure it reconnects with a capped backoff. */
function startListener(
  options: PgDatabaseOptions,
  channel: string,
  handlers: ListenHandlers,
): { stop: () => Promise<void>; listening: Promise<void> } {
  let stopped = false;
  let markListening!: () => void;
  const listening = new Promise<void>((resolve) => (markListening = resolve));
  let client: pg.Client | null = null;
  let wake: (() => void) | null = null;
  const done = (async () => {
    // Reconnects after 100 ms, doubling up to 5 s; a listen that worked starts over.
    const backoff = new Backoff({ initialMs: 100, maxMs: 5_000 });
    while (!stopped) {
      const c = new pg.Client({ connectionString: options.url, types });
      client = c;
      const closed = new Promise<void>((resolve) => {
        c.on("error", (err) => {
          if (!stopped) options.log.warn("Database listener failed", { err, channel });
          resolve();
        });
        c.on("end", () => resolve());
      });
      try {
        await c.connect();
        c.on("notification", (msg) => {
          if (msg.channel === channel && msg.payload !== undefined) handlers.onNotify(msg.payload);
        });
        await c.query(`listen ${pg.escapeIdentifier(channel)}`);
        backoff.reset();
        markListening();
        handlers.onConnect();
        await closed;
      } catch (err) {
        if (!stopped) options.log.warn("Database listener could not connect", { err, channel });
      }
      await c.end().catch(() => {});
      if (stopped) break;
      const waking = new AbortController();
      wake = () => waking.abort();
      await delay(backoff.next(), { signal: waking.signal });
    }
  })();
  return {
    listening,
    async stop() {
      stopped = true;
      markListening();
      wake?.();
      await client?.end().catch(() => {});
      await done;
    },
  };
}
