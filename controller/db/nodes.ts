/**
 * Node registration and offline marking (plane-0.5.md §6.1, §2.12, #680), and the binding of a
 * drone name to its live connection (issue 10, finding 3).
 */
import type { Database, Queryable } from "./database.ts";
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

/**
 * When a second socket may not take a name (drones only). The current holder is live while it
 * is attached to a controller whose own heartbeat is fresher than `unhealthyMs`, and its last
 * drone heartbeat (or, before the first one, its connection start) is fresher than `holdMs`.
 */
export interface NameBinding {
  holdMs: number;
  unhealthyMs: number;
}

export type RegisterResult =
  | ({ ok: true } & RegisteredNode)
  /** Another live connection holds the name; nothing was written. */
  | { ok: false; reason: "name_in_use"; heldBy: string };

/**
 * Upserts the node on (cluster, name), attaches it to this controller, emits `node_connection`.
 * With `binding`, refuses (writing nothing) while another live connection holds the name: a
 * second socket cannot take over a working drone's name, its actions and its `Spawn` env. A
 * drone whose old connection died reconnects once that one stopped heartbeating (`holdMs`).
 */
export async function registerNode(
  db: Database,
  node: RegisterNode,
  binding?: NameBinding,
): Promise<RegisterResult> {
  return await db.transaction(async (tx) => {
    if (binding) {
      // The row lock serialises registrations of one name across controllers.
      const { rows: held } = await tx.query<{ controller: string; live: boolean }>(
        `select n.controller,
           (c.is_online and c.last_heartbeat > now() - $3::float8 * interval '1 millisecond'
            and greatest(d.last_heartbeat, n.last_connection_start_time)
                > now() - $4::float8 * interval '1 millisecond') as live
         from node n
         left join drone d on d.id = n.id
         left join controller c on c.id = n.controller
         where n.cluster = $1 and n.name = $2 and n.controller is not null
         for update of n`,
        [node.cluster, node.name, binding.unhealthyMs, binding.holdMs],
      );
      const holder = held[0];
      if (holder?.live) return { ok: false, reason: "name_in_use", heldBy: holder.controller };
    }
    if (node.cluster === null) {
      // A DNS server (plane-0.5.md §8.2): NULLs are distinct in the (cluster, name) unique index,
      // so the upsert below would add a row per connection; find the name's row instead.
      const { rows: found } = await tx.query<{ id: number }>(
        `select id from node where cluster is null and name = $1 order by id limit 1 for update`,
        [node.name],
      );
      const existing = found[0];
      if (existing !== undefined) {
        const { rows } = await tx.query<{ id: number; start: Date }>(
          `update node set kind = $2, plane_version = $3, plane_hash = $4, controller = $5,
             ip = $6, last_connection_start_time = date_trunc('milliseconds', clock_timestamp())
           where id = $1
           returning id, last_connection_start_time as start`,
          [existing.id, node.kind, node.version, node.hash, node.controller, node.ip],
        );
        const row = rows[0]!;
        await emitEvent(tx, "node_connection", null, { node_id: row.id, connected: true });
        return { ok: true, id: row.id, connectionStart: row.start };
      }
    }
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
    return { ok: true, id: row.id, connectionStart: row.start };
  });
}

/**
 * True while this connection still holds its node (no newer registration of the name took
 * it over). A superseded connection must stop acting for the node.
 */
export async function holdsNode(
  db: Queryable,
  nodeId: number,
  controller: string,
  connectionStart: Date,
): Promise<boolean> {
  const { rows } = await db.query(
    `select 1 from node where id = $1 and controller = $2 and last_connection_start_time = $3`,
    [nodeId, controller, connectionStart],
  );
  return rows.length > 0;
}

/**
 * Detaches every node still attached to `controller`: called at start, when this process holds
 * no socket yet, so a restart under the same name leaves no node looking connected (which
 * would also keep a drone's name bound to a connection that no longer exists).
 */
export async function detachNodes(db: Queryable, controller: string): Promise<number> {
  const { rowCount } = await db.query("update node set controller = null where controller = $1", [
    controller,
  ]);
  return rowCount;
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
