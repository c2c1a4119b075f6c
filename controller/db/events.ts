/**
 * The event log (plane-0.5.md §1.4): every emitted event is a row of `event`, announced in
 * the same transaction by a NOTIFY that carries only its id, kind and key (never the payload,
 * which could exceed NOTIFY's 8000-byte limit — decisions.md §2).
 */
import type { Queryable } from "./database.ts";

export const EVENT_CHANNEL = "plane_events";

export type EventKind =
  | "backend_state"
  | "backend_action"
  | "node_connection"
  // Ours (decisions.md §2.4): key = cluster, payload `TokenRevokedEvent` (db/revoke.ts), so every
  // controller instance can tell its proxies of that cluster to drop the tokens.
  | "token_revoked";

export interface EventRecord {
  id: number;
  kind: EventKind;
  key: string | null;
  data: unknown;
  /** Database time, epoch ms. */
  time: number;
}

/** Inserts the event and queues its NOTIFY in one round trip; delivered when `tx` commits. */
export async function emitEvent(
  tx: Queryable,
  kind: EventKind,
  key: string | null,
  data: unknown,
): Promise<number> {
  const { rows } = await tx.query<{ id: number }>(
    `with e as (insert into event (kind, key, data) values ($1, $2, $3) returning id, kind, key)
     select id, pg_notify($4, json_build_object('id', id, 'kind', kind, 'key', key)::text)
     from e`,
    [kind, key, JSON.stringify(data), EVENT_CHANNEL],
  );
  return rows[0]!.id;
}

interface EventRow {
  id: number;
  kind: EventKind;
  key: string | null;
  data: unknown;
  time: number;
}

const SELECT_EVENT = `select id, kind, key, data,
  floor(extract(epoch from created_at) * 1000)::float8 as time from event`;

export async function eventsByIds(db: Queryable, ids: readonly number[]): Promise<EventRecord[]> {
  const { rows } = await db.query<EventRow>(
    `${SELECT_EVENT} where id = any($1::bigint[]) order by id`,
    [ids],
  );
  return rows;
}

export async function eventsAfter(
  db: Queryable,
  afterId: number,
  limit: number,
): Promise<EventRecord[]> {
  const { rows } = await db.query<EventRow>(
    `${SELECT_EVENT} where id > $1 order by id limit $2`,
    [afterId, limit],
  );
  return rows;
}

export async function latestEventId(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ id: number | null }>("select max(id) as id from event");
  return rows[0]?.id ?? 0;
}
