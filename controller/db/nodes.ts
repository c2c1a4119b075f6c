/** Node registration and offline marking (behaviour doc §6.1, §2.12, #680). */
import type { Database } from "./database.ts";
import { emitEvent } from "./events.ts";

export type NodeKind = "Drone" | "Proxy" | "AcmeDnsServer";

export interface RegisterNode {
  kind: NodeKind;
  name: string;
  cluster: string | null;
  version: string;
  hash: string;
  controller: string;
  ip: string;
}

export interface RegisteredNode {
  id: number;
  /** Identifies this connection; offline marking only applies to the same connection. */
  connectionStart: Date;
}

/** Upserts the node on (cluster, name), attaches it to this controller, emits `node_connection`. */
export async function registerNode(db: Database, node: RegisterNode): Promise<RegisteredNode> {
  return await db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: number; start: Date }>(
      `insert into node (kind, name, cluster, plane_version, plane_hash, controller, ip,
                         last_connection_start_time)
       -- Truncated to milliseconds: the value comes back as a JS Date (ms precision) and
       -- markNodeOffline compares it for equality, which fails on microseconds.
       values ($1, $2, $3, $4, $5, $6, $7, date_trunc('milliseconds', clock_timestamp()))
       on conflict (cluster, name) do update set
         kind = excluded.kind, plane_version = excluded.plane_version,
         plane_hash = excluded.plane_hash, controller = excluded.controller, ip = excluded.ip,
         last_connection_start_time = excluded.last_connection_start_time
       returning id, last_connection_start_time as start`,
      [node.kind, node.name, node.cluster, node.version, node.hash, node.controller, node.ip],
    );
    const row = rows[0]!;
    await emitEvent(tx, "node_connection", null, { node_id: row.id, connected: true });
    return { id: row.id, connectionStart: row.start };
  });
}

/**
 * Detaches the node from this controller, only if this controller and this connection still
 * own it (a reconnect to another controller may have happened meanwhile, #680).
 */
export async function markNodeOffline(
  db: Database,
  nodeId: number,
  controller: string,
  connectionStart: Date,
): Promise<boolean> {
  return await db.transaction(async (tx) => {
    const { rowCount } = await tx.query(
      `update node set controller = null
       where id = $1 and controller = $2 and last_connection_start_time = $3`,
      [nodeId, controller, connectionStart],
    );
    if (rowCount > 0) {
      await emitEvent(tx, "node_connection", null, { node_id: nodeId, connected: false });
    }
    return rowCount > 0;
  });
}
