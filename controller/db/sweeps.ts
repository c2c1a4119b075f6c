/**
 * What the sweepers look for (plane-0.5.md §6.7 and decisions.md §2): backends
 * past their idle or lifetime limit, and live backends whose drone is gone past the key lease.
 */
import type { Queryable } from "./database.ts";
import type { BackendState } from "../../shared/mod.ts";

/**
 * Backends on `droneId` idle longer than `allowed_idle_seconds` or past `expiration_time`
 * (NULL limits never match, plane-0.5.md §6.7). `scheduled` is skipped as in Plane (#634); unlike
 * Plane, backends already terminating are skipped too (decisions.md §2.2: no terminate every
 * sweep).
 */
export async function expiredBackends(db: Queryable, droneId: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `select id from backend
     where drone_id = $1
       and last_status not in ('scheduled', 'terminating', 'hard-terminating', 'terminated')
       and (now() - last_keepalive > make_interval(secs => allowed_idle_seconds)
            or now() > expiration_time)
     order by id`,
    [droneId],
  );
  return rows.map((r) => r.id);
}

/**
 * Backends not yet `terminated` whose drone has been out of contact longer than the key lease
 * and whose key has expired (issue 11, finding 3; decisions.md §2.8: Plane never releases them).
 * Out of contact: no controller holds the drone's socket (or the one recorded is itself dead),
 * and the later of its last heartbeat and its last connection start is older than `leaseMs`.
 * The expired key is the safety condition: by then a drone that is merely cut off has
 * hard-terminated the backend itself (plane-0.5.md §5.6, `lost_backend.ts`).
 */
export async function lostBackends(
  db: Queryable,
  options: { leaseMs: number; unhealthyMs: number; limit?: number },
): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `select b.id from drone d
     join node n on n.id = d.id
     left join controller c on c.id = n.controller
     join backend b on b.drone_id = d.id and b.last_status != 'terminated'
     where (c.id is null or not c.is_online
            or c.last_heartbeat < now() - make_interval(secs => $2 / 1000.0))
       and coalesce(greatest(d.last_heartbeat, n.last_connection_start_time), b.last_status_time)
           < now() - make_interval(secs => $1 / 1000.0)
       and not exists (select 1 from backend_key k where k.id = b.id and k.expires_at > now())
     order by b.id
     limit $3`,
    [options.leaseMs, options.unhealthyMs, options.limit ?? 100],
  );
  return rows.map((r) => r.id);
}

/** Locks the backend row inside `tx`; its state if it is not `terminated` yet, else null. */
export async function lockIfLive(tx: Queryable, backendId: string): Promise<BackendState | null> {
  const { rows } = await tx.query<{ state: BackendState }>(
    "select state from backend where id = $1 and last_status != 'terminated' for update",
    [backendId],
  );
  return rows[0]?.state ?? null;
}
