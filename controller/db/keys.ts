/** Key lease renewal (behaviour doc §5.5), controller side. */
import type { Queryable } from "./database.ts";

/**
 * Extends the lease of the backend's key to `now() + leaseMs` (database clock, §5.3) unless
 * renewals are disabled for it. Returns false when no key row matched (deleted or
 * `allow_renew = false`). Like Plane, neither the fencing token nor the asking drone is checked.
 */
export async function renewKey(db: Queryable, backendId: string, leaseMs: number) {
  const { rowCount } = await db.query(
    `update backend_key set expires_at = now() + make_interval(secs => $2 / 1000.0)
     where id = $1 and allow_renew`,
    [backendId, leaseMs],
  );
  return rowCount > 0;
}
