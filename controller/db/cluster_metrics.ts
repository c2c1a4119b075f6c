/**
 * The database-backed numbers of the controller's `/metrics` (issue 15), read at scrape time:
 * small grouped counts over indexed columns, so a scrape every 15 s costs little. They are the
 * cluster's as the database sees it, the same from every controller instance.
 */
import type { Queryable } from "./database.ts";

export interface ClusterMetricsRows {
  backendsByStatus: { cluster: string; status: string; count: number }[];
  /** Backends not yet terminated, per drone. */
  backendsByDrone: { cluster: string; drone: string; count: number }[];
  /** Actions not yet acked, per drone (the durable queue of plane-0.5.md §5). */
  pendingActions: { drone: string; count: number }[];
  /** Drones attached to a controller now, with the age of their last heartbeat. */
  drones: { cluster: string; drone: string; ageSeconds: number; draining: boolean }[];
}

export async function clusterMetrics(db: Queryable): Promise<ClusterMetricsRows> {
  const byStatus = await db.query<{ cluster: string; status: string; count: number }>(
    `select cluster, last_status as status, count(*)::int4 as count
     from backend group by cluster, last_status order by cluster, last_status`,
  );
  const byDrone = await db.query<{ cluster: string; drone: string; count: number }>(
    `select backend.cluster, node.name as drone, count(*)::int4 as count
     from backend join node on node.id = backend.drone_id
     where backend.last_status <> 'terminated'
     group by backend.cluster, node.name order by backend.cluster, node.name`,
  );
  const pending = await db.query<{ drone: string; count: number }>(
    `select node.name as drone, count(*)::int4 as count
     from backend_action join node on node.id = backend_action.drone_id
     where backend_action.acked_at is null
     group by node.name order by node.name`,
  );
  const drones = await db.query<
    { cluster: string; drone: string; ageSeconds: number; draining: boolean }
  >(
    `select coalesce(node.cluster, '') as cluster, node.name as drone, drone.draining,
       extract(epoch from now() - drone.last_heartbeat)::float8 as "ageSeconds"
     from drone join node on node.id = drone.id
     where node.controller is not null and drone.last_heartbeat is not null
     order by node.cluster, node.name`,
  );
  return {
    backendsByStatus: byStatus.rows,
    backendsByDrone: byDrone.rows,
    pendingActions: pending.rows,
    drones: drones.rows,
  };
}

/** Seconds since the backend's row was created (its connect), or null when unknown. */
export async function backendAgeSeconds(db: Queryable, backendId: string): Promise<number | null> {
  const { rows } = await db.query<{ age: number }>(
    `select extract(epoch from now() - created_at)::float8 as age from backend where id = $1`,
    [backendId],
  );
  return rows[0]?.age ?? null;
}
