/**
 * The narrow interface every query function takes (style.md §8): satisfied by our Postgres pool
 * wrapper, by one transaction's client, and by embedded PGlite.
 */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * Prepares the statement once per connection under this name and reuses it (pg named
   * statements), saving the parse and plan on hot paths. One name must always carry the same
   * text. Implementations without prepared statements ignore it.
   */
  name?: string;
}

export interface Queryable {
  query<R = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>>;
}

export interface ListenHandlers {
  onNotify(payload: string): void;
  /** Called each time the listening connection is (re)established, after `LISTEN` succeeded. */
  onConnect(): void;
}

export interface Database extends Queryable {
  /** Runs `fn` in one transaction: commits when it returns, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Listens on a NOTIFY channel, reconnecting after failures; returns a function that stops. */
  listen(channel: string, handlers: ListenHandlers): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** SQLSTATE of a database error, if `err` is one (pg and PGlite both expose `code`). */
export function sqlState(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** SQLSTATE 23505: a unique index refused the row. */
export function isUniqueViolation(err: unknown): boolean {
  return sqlState(err) === "23505";
}
