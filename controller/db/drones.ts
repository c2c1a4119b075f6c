/**
 * The `drone` table (plane-0.5.md §6.5, §8.3): registration on each connection, heartbeats,
 * and the drain flag; plus the cluster state listing of plane-0.5.md §2.6.
 */
import type { Queryable } from "./database.ts";
import type { ClusterState, DroneState, NodeState } from "../../shared/mod.ts";

/**
 * Marks the drone ready in `pool` (plane-0.5.md §6.1 step 4). Unlike Plane, the pool is updated on
 * every registration (decisions.md §2); `draining` persists across reconnects.
 */
export async function registerDrone(db: Queryable, droneId: number, pool: string): Promise<void> {
  await db.query(
    `insert into drone (id, draining, ready, pool) values ($1, false, true, $2)
     on conflict (id) do update set ready = true, pool = excluded.pool`,
    [droneId, pool],
  );
}

/**
 * plane-0.5.md §6.2 Heartbeat: database time of receipt, and the drone's own clock for key
 * deadlines (plane-0.5.md §5.3). Recorded only while the connection still holds the node; false
 * means a newer connection for the name took over and this one must close (its heartbeats must not
 * keep the name bound).
 */
export async function recordHeartbeat(
  db: Queryable,
  connection: { droneId: number; controller: string; connectionStart: Date },
  localTimeMs: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `update drone set last_heartbeat = now(), last_local_time = to_timestamp($2 / 1000.0)
     from node n
     where drone.id = $1 and n.id = $1 and n.controller = $3 and n.last_connection_start_time = $4`,
    [connection.droneId, localTimeMs, connection.controller, connection.connectionStart],
  );
  return rowCount > 0;
}

/**
 * Sets the drain flag of the drone named `name` in `cluster` (plane-0.5.md §2.5, and undrain from
 * decisions.md §2.5). Returns null when no such drone exists, else whether the flag changed.
 */
export async function setDraining(
  db: Queryable,
  options: { cluster: string; name: string; draining: boolean },
): Promise<boolean | null> {
  const { rows } = await db.query<{ updated: boolean }>(
    `with target as (
       select d.id, d.draining from drone d join node n on n.id = d.id
       where n.cluster = $1 and n.name = $2
       for update of d
     ), changed as (
       update drone set draining = $3 from target
       where drone.id = target.id and target.draining <> $3
       returning drone.id
     )
     select exists(select 1 from changed) as updated from target`,
    [options.cluster, options.name, options.draining],
  );
  const row = rows[0];
  return row ? row.updated : null;
}

interface NodeRow {
  kind: string;
  name: string;
  "plane_version": string;
  "plane_hash": string;
  controller: string;
  "controller_heartbeat_age": number;
  ready: boolean | null;
  draining: boolean | null;
  "last_heartbeat_age": number | null;
  "backend_count": number;
}

/**
 * Connected drones and proxies of `cluster`, ordered by node id (plane-0.5.md §2.6). A drone that
 * has not heartbeated yet has `last_heartbeat_age: null` (Plane answers 500, decisions.md §2.13). A
 * drone node whose `drone` row is not written yet (mid-registration) is left out.
 */
export async function clusterState(db: Queryable, cluster: string): Promise<ClusterState> {
  const { rows } = await db.query<NodeRow>(
    `select n.kind, n.name, n.plane_version, n.plane_hash, n.controller,
       floor(extract(epoch from now() - c.last_heartbeat))::int as controller_heartbeat_age,
       d.ready, d.draining,
       floor(extract(epoch from now() - d.last_heartbeat))::int as last_heartbeat_age,
       (select count(*)::int from backend b
        where b.drone_id = n.id and b.last_status != 'terminated') as backend_count
     from node n
     join controller c on c.id = n.controller
     left join drone d on d.id = n.id
     where n.cluster = $1 and n.kind in ('Drone', 'Proxy')
     order by n.id`,
    [cluster],
  );
  const state: ClusterState = { drones: [], proxies: [] };
  for (const row of rows) {
    const node: NodeState = {
      name: row.kind === "Drone" ? { Drone: row.name } : { Proxy: row.name },
      "plane_version": row.plane_version,
      "plane_hash": row.plane_hash,
      controller: row.controller,
      "controller_heartbeat_age": row.controller_heartbeat_age,
    };
    if (row.kind === "Proxy") {
      state.proxies.push(node);
    } else if (row.ready !== null && row.draining !== null) {
      const drone: DroneState = {
        ready: row.ready,
        draining: row.draining,
        "last_heartbeat_age": row.last_heartbeat_age,
        "backend_count": row.backend_count,
        node,
      };
      state.drones.push(drone);
    }
  }
  return state;
}
