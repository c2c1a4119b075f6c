/**
 * Cleanup queries (plane-0.5.md §8.11): old terminated backends with their dependent rows,
 * old events, expired tokens. Callers choose the transaction.
 */
import type { Queryable } from "./database.ts";

/**
 * Deletes up to `batchSize` backends terminated more than `minAgeDays` ago, with their
 * tokens, actions, keys and state history; returns their ids. Rows another controller is
 * cleaning are skipped (`skip locked`), and a backend whose key is still live is left alone
 * (its key row references it).
 */
export async function deleteOldTerminatedBackends(
  tx: Queryable,
  options: { minAgeDays: number; batchSize: number },
): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>(
    `select b.id from backend b
      where b.last_status = 'terminated'
        and b.last_status_time < now() - make_interval(days => $1)
        and not exists (select 1 from backend_key k where k.id = b.id and k.expires_at >= now())
      order by b.last_status_time
      limit $2
      for update of b skip locked`,
    [options.minAgeDays, options.batchSize],
  );
  const ids = rows.map((r) => r.id);
  if (ids.length === 0) return ids;
  await tx.query("delete from token where backend_id = any($1)", [ids]);
  await tx.query("delete from backend_action where backend_id = any($1)", [ids]);
  await tx.query("delete from backend_key where id = any($1)", [ids]);
  await tx.query("delete from backend_state where backend_id = any($1)", [ids]);
  await tx.query("delete from backend where id = any($1)", [ids]);
  return ids;
}

/** Deletes events older than `minAgeDays`; returns how many. */
export async function deleteOldEvents(db: Queryable, minAgeDays: number): Promise<number> {
  const result = await db.query(
    "delete from event where created_at < now() - make_interval(days => $1)",
    [minAgeDays],
  );
  return result.rowCount;
}

/** Deletes connection tokens past their expiration time; returns how many. */
export async function deleteExpiredTokens(db: Queryable): Promise<number> {
  const result = await db.query("delete from token where expiration_time < now()");
  return result.rowCount;
}
