/**
 * The reads the Jamsocket routes add (jamsocket-api.md §3.5, §3.6, §11 items 6 and 10). A
 * Jamsocket backend's service is its key namespace `account/service[/environment]` and its image
 * the key tag; the key row goes when the backend terminates, so backend info reads them from
 * the backend's Spawn action, which stays.
 */
import type { Queryable } from "../db/mod.ts";
import { BackendState } from "../../shared/mod.ts";

function ms(column: string): string {
  return `floor(extract(epoch from ${column}) * 1000)::float8`;
}

/** Non-terminated backends, all of them or those of one key namespace (the 429 limits). */
export async function countLiveBackends(db: Queryable, namespace: string | null): Promise<number> {
  const { rows } = namespace === null
    ? await db.query<{ n: number }>(
      "select count(*)::int4 as n from backend where last_status != 'terminated'",
    )
    : await db.query<{ n: number }>(
      `select count(*)::int4 as n from backend b join backend_key k on k.id = b.id
       where k.namespace = $1 and b.last_status != 'terminated'`,
      [namespace],
    );
  return rows[0]?.n ?? 0;
}

export interface SpawnedBackend {
  id: string;
  cluster: string;
  createdAt: number;
  /** The key the backend was spawned with (namespace, name, tag); null if no Spawn is recorded. */
  key: { name: string; namespace: string; tag: string } | null;
}

/** A backend with the key of its Spawn action, or null when unknown. */
export async function spawnedBackend(
  db: Queryable,
  backendId: string,
): Promise<SpawnedBackend | null> {
  const { rows } = await db.query<
    { id: string; cluster: string; "created_at": number; key: SpawnedBackend["key"] }
  >(
    `select b.id, b.cluster, ${ms("b.created_at")} as created_at,
            (select a.action->'action'->'Spawn'->'key'->'key' from backend_action a
             where a.backend_id = b.id and a.action->'action'->'Spawn' is not null
             order by a.created_at limit 1) as key
     from backend b where b.id = $1`,
    [backendId],
  );
  const row = rows[0];
  return row ? { id: row.id, cluster: row.cluster, createdAt: row.created_at, key: row.key } : null;
}

export interface RunningBackend {
  id: string;
  cluster: string;
  createdAt: number;
  namespace: string;
  keyName: string;
  state: BackendState;
  statusTime: number;
}

/** An account's non-terminated backends (their keys are live), oldest first, at most `limit`. */
export async function listAccountBackends(
  db: Queryable,
  account: string,
  limit: number,
): Promise<RunningBackend[]> {
  const { rows } = await db.query<{
    id: string;
    cluster: string;
    "created_at": number;
    namespace: string;
    "key_name": string;
    state: unknown;
    "status_time": number;
  }>(
    `select b.id, b.cluster, ${ms("b.created_at")} as created_at, k.namespace, k.key_name,
            b.state, ${ms("b.last_status_time")} as status_time
     from backend b join backend_key k on k.id = b.id
     where split_part(k.namespace, '/', 1) = $1 and b.last_status != 'terminated'
     order by b.created_at, b.id limit $2`,
    [account, limit],
  );
  return rows.flatMap((row) => {
    const state = BackendState.safeParse(row.state);
    if (!state.success) return [];
    return [{
      id: row.id,
      cluster: row.cluster,
      createdAt: row.created_at,
      namespace: row.namespace,
      keyName: row.key_name,
      state: state.data,
      statusTime: row.status_time,
    }];
  });
}

export interface ReadyTarget {
  cluster: string;
  subdomain: string | null;
  status: string;
  /** True when `token` is one of the backend's connection tokens (dynamic or static). */
  tokenValid: boolean;
}

/** What the ready page needs: where the backend is reached and whether `token` opens it. */
export async function readyTarget(
  db: Queryable,
  backendId: string,
  token: string,
): Promise<ReadyTarget | null> {
  const { rows } = await db.query<{
    cluster: string;
    subdomain: string | null;
    "last_status": string;
    "token_valid": boolean;
  }>(
    `select b.cluster, b.subdomain, b.last_status,
            (b.static_token = $2 or exists(
               select 1 from token t where t.token = $2 and t.backend_id = b.id
             )) is true as token_valid
     from backend b where b.id = $1`,
    [backendId, token],
  );
  const row = rows[0];
  return row
    ? {
      cluster: row.cluster,
      subdomain: row.subdomain,
      status: row.last_status,
      tokenValid: row.token_valid,
    }
    : null;
}

/** When controller `name` first registered (epoch ms): when it loaded its service map. */
export async function controllerFirstSeen(db: Queryable, name: string): Promise<number | null> {
  const { rows } = await db.query<{ "first_seen": number }>(
    `select ${ms("first_seen")} as first_seen from controller where id = $1`,
    [name],
  );
  return rows[0]?.first_seen ?? null;
}
