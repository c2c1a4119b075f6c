/**
 * Read side of `backend` and `backend_state` for the public status routes (plane-0.5.md §2.9)
 * and the operator listing routes (decisions.md §3.6). Times are database times in
 * epoch milliseconds (plane-0.5.md §14.6).
 */
import {
  type BackendInfo,
  BackendState,
  type BackendStatus,
  base64Url,
  SafeText,
} from "../../shared/mod.ts";
import { z } from "zod";
import type { Queryable } from "./database.ts";

/** A state with the database time it was recorded. */
export interface TimedState {
  state: BackendState;
  time: number;
}

function ms(column: string): string {
  return `floor(extract(epoch from ${column}) * 1000)::float8`;
}

/** The backend's current state (from the `backend` row), or null when unknown. */
export async function currentBackendState(
  db: Queryable,
  backendId: string,
): Promise<TimedState | null> {
  const { rows } = await db.query<{ state: unknown; time: number }>(
    `select state, ${ms("last_status_time")} as time from backend where id = $1`,
    [backendId],
  );
  const row = rows[0];
  if (!row) return null;
  const state = BackendState.safeParse(row.state);
  // A stored state we cannot read is a bug; fail loudly rather than pretend it is unknown.
  if (!state.success) throw new Error(`Backend ${backendId} has an unreadable state`);
  return { state: state.data, time: row.time };
}

/**
 * Every recorded state of a backend in order (plane-0.5.md §2.9 stream replay); empty when unknown.
 */
export async function backendStateHistory(
  db: Queryable,
  backendId: string,
): Promise<TimedState[]> {
  const { rows } = await db.query<{ state: unknown; time: number }>(
    `select state, ${ms("created_at")} as time from backend_state
     where backend_id = $1 order by id`,
    [backendId],
  );
  const history: TimedState[] = [];
  for (const row of rows) {
    const state = BackendState.safeParse(row.state);
    if (state.success) history.push({ state: state.data, time: row.time });
  }
  return history;
}

interface InfoRow {
  id: string;
  cluster: string;
  status: BackendStatus;
  state: unknown;
  "status_time": number;
  drone: string;
  "key_name": string | null;
  namespace: string | null;
  tag: string | null;
  address: string | null;
  "created_at": number;
  "last_keepalive": number;
  "expiration_time": number | null;
  "allowed_idle_seconds": number | null;
  subdomain: string | null;
  /** `created_at` at full (microsecond) precision, for the listing cursor. */
  "created_at_text": string;
}

const SELECT_INFO = `select b.id, b.cluster, b.last_status as status, b.state,
    ${ms("b.last_status_time")} as status_time, n.name as drone,
    k.key_name, k.namespace, k.tag, b.cluster_address as address,
    ${ms("b.created_at")} as created_at, ${ms("b.last_keepalive")} as last_keepalive,
    ${ms("b.expiration_time")} as expiration_time, b.allowed_idle_seconds, b.subdomain,
    to_char(b.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at_text
  from backend b
  join node n on n.id = b.drone_id
  left join backend_key k on k.id = b.id`;

function toInfo(row: InfoRow): BackendInfo {
  return {
    id: row.id as BackendInfo["id"],
    cluster: row.cluster,
    status: row.status,
    state: row.state,
    "status_time": row.status_time,
    drone: row.drone,
    // The key row is released when the backend terminates (plane-0.5.md §5.1), so it may be gone.
    key: row.key_name === null
      ? null
      : { name: row.key_name, namespace: row.namespace ?? "", tag: row.tag ?? "" },
    address: row.address,
    "created_at": row.created_at,
    "last_keepalive": row.last_keepalive,
    "expiration_time": row.expiration_time,
    "allowed_idle_seconds": row.allowed_idle_seconds,
    subdomain: row.subdomain,
  };
}

/** The full row of one backend (`GET /ctrl/b/{backend}`), or null when unknown. */
export async function getBackendInfo(
  db: Queryable,
  backendId: string,
): Promise<BackendInfo | null> {
  const { rows } = await db.query<InfoRow>(`${SELECT_INFO} where b.id = $1`, [backendId]);
  const row = rows[0];
  return row ? toInfo(row) : null;
}

/** Position after the last backend of a page: creation time (µs precision) and id. */
export interface ListCursor {
  createdAt: string;
  id: string;
}

const CursorJson = z.object({
  t: z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
  // A forged cursor's id is compared in SQL: NUL would be a database error (issue 10).
  i: SafeText.min(1).max(255),
});

/** Cursors are opaque to clients: base64url of a small JSON document. */
export function encodeCursor(cursor: ListCursor): string {
  const json = JSON.stringify({ t: cursor.createdAt, i: cursor.id });
  return base64Url(new TextEncoder().encode(json));
}

/** The cursor `encodeCursor` made, or null when `text` is not one. */
export function decodeCursor(text: string): ListCursor | null {
  if (!/^[A-Za-z0-9_-]{1,1024}$/.test(text)) return null;
  let json: unknown;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return null;
  }
  const parsed = CursorJson.safeParse(json);
  return parsed.success ? { createdAt: parsed.data.t, id: parsed.data.i } : null;
}

export interface ListBackendsOptions {
  /** Only these statuses; every status when empty. */
  statuses: readonly BackendStatus[];
  limit: number;
  after: ListCursor | null;
}

/**
 * One page of a cluster's backends, newest first by (created_at, id) descending, as README
 * and `plane list --help` say (issue 12). A keyset order: the cursor is the last row's key and
 * the next page starts strictly below it, so backends created while a client pages appear
 * only before its first page and none is skipped or repeated.
 */
export async function listBackends(
  db: Queryable,
  cluster: string,
  options: ListBackendsOptions,
): Promise<{ backends: BackendInfo[]; next: ListCursor | null }> {
  const { rows } = await db.query<InfoRow>(
    `${SELECT_INFO}
     where b.cluster = $1
       and (cardinality($2::text[]) = 0 or b.last_status = any($2::text[]))
       and ($3::timestamptz is null or (b.created_at, b.id) < ($3::timestamptz, $4::varchar))
     order by b.created_at desc, b.id desc
     limit $5`,
    [
      cluster,
      options.statuses,
      options.after?.createdAt ?? null,
      options.after?.id ?? null,
      options.limit + 1,
    ],
  );
  const page = rows.slice(0, options.limit);
  const last = page.at(-1);
  const next = rows.length > options.limit && last
    ? { createdAt: last.created_at_text, id: last.id }
    : null;
  return { backends: page.map(toInfo), next };
}
