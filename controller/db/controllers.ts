/** The `controller` table: each instance's liveness row (plane-0.5.md §1.4 point 5). */
import type { Queryable } from "./database.ts";

export async function heartbeatController(
  db: Queryable,
  name: string,
  version: string,
  hash: string,
): Promise<void> {
  await db.query(
    `insert into controller (id, last_heartbeat, is_online, plane_version, plane_hash, ip)
     values ($1, now(), true, $2, $3, inet_client_addr())
     on conflict (id) do update set last_heartbeat = now(), is_online = true`,
    [name, version, hash],
  );
}

export async function markControllerOffline(db: Queryable, name: string): Promise<void> {
  await db.query("update controller set is_online = false where id = $1", [name]);
}
