/**
 * Applying a backend state (plane-0.5.md §4.2): only when its rank is strictly greater than
 * the stored one; then in one transaction update the row, release the key on `terminated`,
 * append history and emit a `backend_state` event keyed by the backend id.
 */
import type { Database, Queryable } from "./database.ts";
import { emitEvent } from "./events.ts";
import { cancelPendingActions } from "./actions.ts";
import { addressOf, type BackendState, statusRank } from "../../shared/mod.ts";

/** Payload of `backend_state` events. */
export interface BackendStateEvent {
  "backend_id": string;
  cluster: string;
  state: BackendState;
}

/**
 * Applies `state` inside `tx`; returns false when it was stale (not strictly newer) or, with
 * `droneId`, when the backend is not assigned to that drone (issue 10, finding 3: a drone
 * socket reports only its own backends, whatever id it names).
 */
export async function applyBackendState(
  tx: Queryable,
  backendId: string,
  state: BackendState,
  options: { droneId?: number } = {},
): Promise<boolean> {
  const rank = statusRank(state.status);
  const { rows } = await tx.query<{ cluster: string }>(
    `update backend set last_status = $2, last_status_time = now(), last_status_number = $3,
       cluster_address = $4, state = $5
     where id = $1 and (last_status_number < $3 or last_status_number is null)
       and ($6::int4 is null or drone_id = $6)
     returning cluster`,
    [
      backendId,
      state.status,
      rank,
      addressOf(state),
      JSON.stringify(state),
      options.droneId ?? null,
    ],
  );
  const row = rows[0];
  if (!row) return false;
  if (state.status === "terminated") {
    await tx.query("delete from backend_key where id = $1", [backendId]);
    // Nothing is left to do for it. A Spawn whose ack was lost (a database error) would
    // otherwise be re-sent forever — a drone ignores a repeated Spawn without acking (plane-0.5.md
    // §6.4) — and, once the drone has forgotten the ended backend, start it again.
    await cancelPendingActions(tx, backendId);
  }
  await tx.query("insert into backend_state (backend_id, state) values ($1, $2)", [
    backendId,
    JSON.stringify(state),
  ]);
  const event: BackendStateEvent = { "backend_id": backendId, cluster: row.cluster, state };
  await emitEvent(tx, "backend_state", backendId, event);
  return true;
}

/** `applyBackendState` in its own transaction. */
export function updateBackendState(
  db: Database,
  backendId: string,
  state: BackendState,
  options: { droneId?: number } = {},
): Promise<boolean> {
  return db.transaction((tx) => applyBackendState(tx, backendId, state, options));
}

/** True when `backendId` exists and is assigned to drone `droneId` (its node id). */
export async function isBackendOfDrone(
  db: Queryable,
  backendId: string,
  droneId: number,
): Promise<boolean> {
  const { rows } = await db.query("select 1 from backend where id = $1 and drone_id = $2", [
    backendId,
    droneId,
  ]);
  return rows.length > 0;
}
