/** Key lease renewal (plane-0.5.md §5.5), controller side. */
import type { Queryable } from "./database.ts";

/**
 * Extends the lease of the backend's key to `now() + leaseMs` (database clock, plane-0.5.md §5.3)
 * unless renewals are disabled for it. Returns false when no key row matched (deleted, `allow_renew
 * = false`, or the backend is not assigned to `droneId`). Unlike Plane, the asking drone is checked
 * (issue 10, finding 3): a drone keeps only its own backends' keys alive. As in Plane, the fencing
 * token is not.
 */
export async function renewKey(
  db: Queryable,
  backendId: string,
  leaseMs: number,
  droneId: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `update backend_key k set expires_at = now() + make_interval(secs => $2 / 1000.0)
     from backend b
     where k.id = $1 and k.allow_renew and b.id = k.id and b.drone_id = $3`,
    [backendId, leaseMs, droneId],
  );
  return rowCount > 0;
}
