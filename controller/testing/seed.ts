/**
 * Direct database seeding for tests that need drones or backends without the sockets that
 * normally create them. Production code never writes rows this way.
 */
import type { Database } from "../db/database.ts";
import { randomBackendName, randomDroneName } from "../../shared/names.ts";
import { emitEvent } from "../db/events.ts";

export interface SeededDrone {
  id: number;
  name: string;
}

/** A connected, heartbeating, ready drone attached to `controller` in `cluster`. */
export async function seedDrone(
  db: Database,
  options: { controller: string; cluster: string; pool?: string; name?: string },
): Promise<SeededDrone> {
  const name = options.name ?? randomDroneName();
  const { rows } = await db.query<{ id: number }>(
    `insert into node (kind, name, cluster, plane_version, plane_hash, controller, ip,
                       last_connection_start_time)
     values ('Drone', $1, $2, '0.5.6', '00000000', $3, '127.0.0.1', now()) returning id`,
    [name, options.cluster, options.controller],
  );
  const id = rows[0]!.id;
  await db.query(
    `insert into drone (id, ready, draining, last_heartbeat, last_local_time, pool)
     values ($1, true, false, now(), now(), $2)`,
    [id, options.pool ?? ""],
  );
  return { id, name };
}

/** A backend in `scheduled` on `droneId`, with a key and the history row (no action). */
export async function seedBackend(
  db: Database,
  options: {
    droneId: number;
    cluster: string;
    id?: string;
    key?: string;
    staticToken?: string;
    subdomain?: string;
    maxIdleSeconds?: number;
    lifetimeSeconds?: number;
  },
): Promise<string> {
  const id = options.id ?? randomBackendName();
  await db.transaction(async (tx) => {
    await tx.query(
      `insert into backend (id, cluster, last_status, last_status_time, last_status_number, state,
         drone_id, expiration_time, last_keepalive, allowed_idle_seconds, static_token, subdomain)
       values ($1, $2, 'scheduled', now(), 10, '{"status":"scheduled"}', $3,
         now() + make_interval(secs => $4), now(), $5, $6, $7)`,
      [
        id,
        options.cluster,
        options.droneId,
        options.lifetimeSeconds ?? null,
        options.maxIdleSeconds ?? null,
        options.staticToken ?? null,
        options.subdomain ?? null,
      ],
    );
    await tx.query(
      `insert into backend_key (id, namespace, key_name, tag, expires_at, fencing_token)
       values ($1, '', $2, '', now() + interval '60 seconds', 1)`,
      [id, options.key ?? `lk-${id}`],
    );
    await tx.query(
      `insert into backend_state (backend_id, state) values ($1, '{"status":"scheduled"}')`,
      [id],
    );
    await emitEvent(tx, "backend_state", id, {
      backend_id: id,
      cluster: options.cluster,
      state: { status: "scheduled" },
    });
  });
  return id;
}

/** A dynamic connection token for a backend. */
export async function seedToken(
  db: Database,
  options: {
    backendId: string;
    token: string;
    user?: string;
    auth?: unknown;
    secret?: string;
    expiresInSeconds?: number;
  },
): Promise<void> {
  await db.query(
    `insert into token (token, backend_id, expiration_time, username, auth, secret_token)
     values ($1, $2, now() + make_interval(secs => $3), $4, $5, $6)`,
    [
      options.token,
      options.backendId,
      options.expiresInSeconds ?? 3600,
      options.user ?? null,
      JSON.stringify(options.auth ?? {}),
      options.secret ?? "secret",
    ],
  );
}
