/**
 * The SQL of `POST /ctrl/connect` (plane-0.5.md §2.2, §5.4, §6.6). Round trips are kept low
 * because connect sits on every user's path (targets.md §3: existing key p99 ≤ 2× a `select 1`):
 * the existing-key path is ONE statement (look up the live key, check its tag, mint the token),
 * and the spawn writes backend, key, history and token in one statement before the event and
 * action inserts of the same transaction. Unique violations become result values here
 * (style.md §22); nothing above `db/` sees a pg error.
 */
import { type Database, isUniqueViolation, type Queryable } from "./database.ts";
import { emitEvent } from "./events.ts";
import { insertAction } from "./actions.ts";
import type { BackendStateEvent } from "./backend_state.ts";
import {
  type ActionName,
  type BackendActionMessage,
  type BackendName,
  type BackendStatus,
  type KeyConfig,
  type KeyDeadlines,
  statusRank,
} from "../../shared/mod.ts";

/**
 * A dynamic connection token to insert (plane-0.5.md §8.8); the secrets are minted by the caller.
 */
export interface NewToken {
  token: string;
  secretToken: string;
  user: string | null;
  auth: Record<string, unknown>;
  lifetimeMs: number;
}

/** The backend holding a live key, as a connect answers with it. */
export interface KeyHolder {
  backendId: string;
  cluster: string;
  status: BackendStatus;
  staticToken: string | null;
  subdomain: string | null;
}

export type KeyLookup =
  | { kind: "not_found" }
  /**
   * The lease ran out (DB clock); the row must be removed before the key can be reused
   * (plane-0.5.md §2.2).
   */
  | { kind: "expired"; backendId: string }
  | { kind: "tag_mismatch"; backendId: string }
  /** `minted` is false when the backend has a static token (no dynamic token was inserted). */
  | { kind: "live"; holder: KeyHolder; minted: boolean };

interface KeyLookupRow {
  id: string;
  live: boolean;
  "tag_matches": boolean;
  cluster: string;
  "last_status": BackendStatus;
  "static_token": string | null;
  subdomain: string | null;
  minted: boolean;
}

/**
 * Looks up the key with its backend and, when the key is live, the tag matches and the backend
 * has no static token, inserts `token` — all in one statement, so the common reconnect is one
 * round trip. Data-modifying CTEs always run, and `minted` reads back whether this one did.
 *
 * The statement commits asynchronously (`synchronous_commit = off`, local to its implicit
 * transaction): the WAL flush otherwise dominates a reconnect's latency (targets.md §3: p99 ≤ 2×
 * a `select 1`). What that risks is only this token: a Postgres crash (not a controller crash)
 * within ~0.6 s of the commit may forget it, consistently, and the client connects again for a
 * new one. Key acquisition and the Spawn action (`spawnBackend`) stay fully durable. Run it
 * outside a transaction, or the setting would apply to the whole transaction.
 */
export const EXISTING_KEY_SQL = `
with async_commit as (
  select set_config('synchronous_commit', 'off', true)
), k as (
  select k.id, k.tag = $3 as tag_matches, k.expires_at > now() as live,
         b.cluster, b.last_status, b.static_token, b.subdomain
  from backend_key k join backend b on b.id = k.id
  where k.namespace = $1 and k.key_name = $2
), minted as (
  insert into token (token, backend_id, expiration_time, username, auth, secret_token)
  select $4, k.id, now() + $5::float8 * interval '1 millisecond', $6, $7::jsonb, $8
  from k where k.live and k.tag_matches and k.static_token is null
  returning token
)
select k.id, k.tag_matches, k.live, k.cluster, k.last_status, k.static_token, k.subdomain,
       exists (select 1 from minted) as minted
from k cross join async_commit`;

export function existingKeyParams(key: KeyConfig, token: NewToken): unknown[] {
  return [
    key.namespace,
    key.name,
    key.tag,
    token.token,
    token.lifetimeMs,
    token.user,
    JSON.stringify(token.auth),
    token.secretToken,
  ];
}

export async function lookupKey(
  db: Queryable,
  key: KeyConfig,
  token: NewToken,
): Promise<KeyLookup> {
  const { rows } = await db.query<KeyLookupRow>(EXISTING_KEY_SQL, existingKeyParams(key, token), {
    name: "connect_existing_key",
  });
  const row = rows[0];
  if (!row) return { kind: "not_found" };
  if (!row.live) return { kind: "expired", backendId: row.id };
  if (!row.tag_matches) return { kind: "tag_mismatch", backendId: row.id };
  return {
    kind: "live",
    minted: row.minted,
    holder: {
      backendId: row.id,
      cluster: row.cluster,
      status: row.last_status,
      staticToken: row.static_token,
      subdomain: row.subdomain,
    },
  };
}

/**
 * Deletes an expired key, but only if it is still expired: the drone may have renewed it since
 * the lookup (plane-0.5.md §2.2). False means the key was not removed and the connect must start
 * over.
 */
export async function removeExpiredKey(db: Queryable, backendId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    "delete from backend_key where id = $1 and expires_at < now()",
    [backendId],
    { name: "connect_remove_expired_key" },
  );
  return rowCount > 0;
}

/** An eligible drone with its load; structurally a `DroneCandidate` of `scheduler.ts`. */
export interface DroneCandidateRow {
  id: number;
  name: string;
  lastLocalTime: number;
  liveBackends: number;
}

export interface CandidateQuery {
  cluster: string;
  pool: string;
  /**
   * Drone and controller heartbeats must be fresher than this (plane-0.5.md §5.2
   * `UNHEALTHY_SECONDS`).
   */
  unhealthyMs: number;
}

/**
 * Every drone eligible for a spawn, exactly as plane-0.5.md §6.6 lists the conditions, with its
 * count of non-terminated backends (served by the partial index `backend_live_by_drone`). The
 * random best-of-N choice is `pickDrone`'s; counting for every eligible drone is cheap at the scale
 * targets.md §3 sets (tens of drones per cluster and pool).
 */
export const DRONE_CANDIDATES_SQL = `
select n.id, n.name,
       round(extract(epoch from d.last_local_time) * 1000)::int8 as "lastLocalTime",
       (select count(*) from backend b
        where b.drone_id = n.id and b.last_status != 'terminated')::int4 as "liveBackends"
from node n
join drone d on d.id = n.id
join controller c on c.id = n.controller
where n.controller is not null
  and n.cluster = $1
  and d.pool = $2
  and d.ready
  and not d.draining
  and d.last_local_time is not null
  and d.last_heartbeat > now() - $3::float8 * interval '1 millisecond'
  and c.is_online
  and c.last_heartbeat > now() - $3::float8 * interval '1 millisecond'`;

export async function listDroneCandidates(
  db: Queryable,
  query: CandidateQuery,
): Promise<DroneCandidateRow[]> {
  const { rows } = await db.query<DroneCandidateRow>(DRONE_CANDIDATES_SQL, [
    query.cluster,
    query.pool,
    query.unhealthyMs,
  ], { name: "connect_drone_candidates" });
  return rows;
}

/** Lease and deadline offsets (plane-0.5.md §5.2), from the controller config. */
export interface KeyTimings {
  keyLeaseMs: number;
  keyRenewAfterMs: number;
  keySoftTerminateAfterMs: number;
  keyHardTerminateAfterMs: number;
}

export interface NewBackend {
  backendId: BackendName;
  actionId: ActionName;
  cluster: string;
  pool: string;
  drone: { id: number; lastLocalTime: number };
  key: KeyConfig;
  executable: Record<string, unknown>;
  lifetimeLimitSeconds: number | null;
  maxIdleSeconds: number | null;
  staticToken: string | null;
  subdomain: string | null;
  /** The dynamic token to mint with the backend; null when the backend has a static token. */
  token: NewToken | null;
  timings: KeyTimings;
}

export type SpawnResult =
  | { ok: true; fencingToken: number }
  /** A unique index refused the key: another connect won the race (plane-0.5.md §2.2). */
  | { ok: false; reason: "conflict" }
  /** `spawn_config.id` names an existing backend: retrying cannot help. */
  | { ok: false; reason: "id_taken" };

/**
 * Inserts the backend, its key (fencing token = DB `now()` in epoch ms, plane-0.5.md §5.4), the
 * initial history row and, unless static, the token. One statement: if the key or id is taken, the
 * unique violation aborts it before anything else happens. Sibling CTEs' rows satisfy the foreign
 * keys because those are checked at the end of the statement.
 */
export const INSERT_BACKEND_SQL = `
with b as (
  insert into backend (id, cluster, last_status, last_status_time, last_status_number, state,
                       drone_id, expiration_time, last_keepalive, allowed_idle_seconds,
                       static_token, subdomain)
  values ($1, $2, 'scheduled', now(), $3, $4::jsonb, $5, now() + make_interval(secs => $6),
          now(), $7, $8, $9)
  returning id
), k as (
  insert into backend_key (id, namespace, key_name, tag, expires_at, fencing_token)
  select id, $10, $11, $12, now() + $13::float8 * interval '1 millisecond',
         round(extract(epoch from now()) * 1000)::int8
  from b
  returning fencing_token
), s as (
  insert into backend_state (backend_id, state) select id, $4::jsonb from b
), t as (
  insert into token (token, backend_id, expiration_time, username, auth, secret_token)
  select $14, id, now() + $15::float8 * interval '1 millisecond', $16, $17::jsonb, $18
  from b where $14::varchar is not null
)
select fencing_token from k`;

const SCHEDULED = { status: "scheduled" } as const;

export function insertBackendParams(spawn: NewBackend): unknown[] {
  return [
    spawn.backendId,
    spawn.cluster,
    statusRank("scheduled"),
    JSON.stringify(SCHEDULED),
    spawn.drone.id,
    spawn.lifetimeLimitSeconds,
    spawn.maxIdleSeconds,
    spawn.staticToken,
    spawn.subdomain,
    spawn.key.namespace,
    spawn.key.name,
    spawn.key.tag,
    spawn.timings.keyLeaseMs,
    spawn.token?.token ?? null,
    spawn.token?.lifetimeMs ?? null,
    spawn.token?.user ?? null,
    JSON.stringify(spawn.token?.auth ?? {}),
    spawn.token?.secretToken ?? null,
  ];
}

/**
 * The key deadlines of a Spawn action, in the drone's clock (plane-0.5.md §5.3) from its last
 * heartbeat. Hard terminate is +50 s, not Plane's +40 s (decisions.md §2).
 */
export function spawnDeadlines(lastLocalTime: number, timings: KeyTimings): KeyDeadlines {
  return {
    "renew_at": lastLocalTime + timings.keyRenewAfterMs,
    "soft_terminate_at": lastLocalTime + timings.keySoftTerminateAfterMs,
    "hard_terminate_at": lastLocalTime + timings.keyHardTerminateAfterMs,
  };
}

export function spawnAction(spawn: NewBackend, fencingToken: number): BackendActionMessage {
  return {
    "action_id": spawn.actionId,
    "backend_id": spawn.backendId,
    "drone_id": spawn.drone.id,
    action: {
      Spawn: {
        executable: spawn.executable,
        key: {
          key: { name: spawn.key.name, namespace: spawn.key.namespace, tag: spawn.key.tag },
          deadlines: spawnDeadlines(spawn.drone.lastLocalTime, spawn.timings),
          token: fencingToken,
        },
        "static_token": spawn.staticToken,
      },
    },
  };
}

/**
 * Writes a scheduled backend with its key, event and Spawn action in one transaction (plane-0.5.md
 * §2.2 step 6).
 */
export async function spawnBackend(db: Database, spawn: NewBackend): Promise<SpawnResult> {
  try {
    return await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ "fencing_token": number }>(
        INSERT_BACKEND_SQL,
        insertBackendParams(spawn),
        { name: "connect_insert_backend" },
      );
      const fencingToken = rows[0]!.fencing_token;
      const event: BackendStateEvent = {
        "backend_id": spawn.backendId,
        cluster: spawn.cluster,
        state: SCHEDULED,
      };
      await emitEvent(tx, "backend_state", spawn.backendId, event);
      await insertAction(tx, spawnAction(spawn, fencingToken));
      return { ok: true as const, fencingToken };
    });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    // Which index refused it: asked after the rollback, as drivers name constraints differently.
    const { rows } = await db.query("select 1 from backend where id = $1", [spawn.backendId]);
    return { ok: false, reason: rows.length > 0 ? "id_taken" : "conflict" };
  }
}

/** The queries connect needs, as one narrow interface so its retry logic can be tested with a fake. */
export interface ConnectStore {
  lookupKey(key: KeyConfig, token: NewToken): Promise<KeyLookup>;
  removeExpiredKey(backendId: string): Promise<boolean>;
  listDroneCandidates(query: CandidateQuery): Promise<DroneCandidateRow[]>;
  spawnBackend(spawn: NewBackend): Promise<SpawnResult>;
}

export function createConnectStore(db: Database): ConnectStore {
  return {
    lookupKey: (key, token) => lookupKey(db, key, token),
    removeExpiredKey: (backendId) => removeExpiredKey(db, backendId),
    listDroneCandidates: (query) => listDroneCandidates(db, query),
    spawnBackend: (spawn) => spawnBackend(db, spawn),
  };
}
