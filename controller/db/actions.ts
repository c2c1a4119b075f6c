/**
 * The durable action queue (plane-0.5.md §6.3, §8.6): actions for drones are rows of
 * `backend_action`, announced by a `backend_action` event keyed by the drone's node id, and
 * re-sent until the drone acks them.
 */
import type { Database, Queryable } from "./database.ts";
import { emitEvent } from "./events.ts";
import {
  type BackendActionMessage,
  randomActionName,
  type TerminationKind,
  type TerminationReason,
} from "../../shared/mod.ts";

/**
 * Plane sends at most 50 pending actions per delivery round (plane-0.5.md §6.1 steps 6–7); ours
 * sends a window (`ActionWindow`) and the next as acks arrive, so this is only the default page
 * size.
 */
export const PENDING_ACTIONS_LIMIT = 50;

/** Queues `message` for its drone inside `tx`; delivered once `tx` commits. */
export async function insertAction(tx: Queryable, message: BackendActionMessage): Promise<void> {
  await tx.query(
    `insert into backend_action (id, backend_id, drone_id, action) values ($1, $2, $3, $4)`,
    [message.action_id, message.backend_id, message.drone_id, JSON.stringify(message)],
  );
  await emitEvent(tx, "backend_action", String(message.drone_id), message);
}

/** The drone's unacked actions, oldest first, at most `limit`, without the ids in `exclude`. */
export async function pendingActions(
  db: Queryable,
  droneId: number,
  options: { limit?: number; exclude?: readonly string[] } = {},
): Promise<BackendActionMessage[]> {
  const { rows } = await db.query<{ action: BackendActionMessage }>(
    `select action from backend_action
     where drone_id = $1 and acked_at is null and not (id = any($3::text[]))
     order by created_at, id limit $2`,
    [droneId, options.limit ?? PENDING_ACTIONS_LIMIT, options.exclude ?? []],
  );
  return rows.map((r) => r.action);
}

/**
 * Records the drone's acks (plane-0.5.md §6.2 AckAction). Only the drone an action was for can ack
 * it; the first ack time is kept. Returns the ids that were recorded now.
 */
export async function ackActions(
  db: Queryable,
  actionIds: readonly string[],
  droneId: number,
): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `update backend_action set acked_at = now()
     where id = any($1::text[]) and drone_id = $2 and acked_at is null
     returning id`,
    [actionIds, droneId],
  );
  return rows.map((r) => r.id);
}

export type QueueTerminateResult =
  | { kind: "queued"; action: BackendActionMessage }
  | { kind: "already_pending" }
  | { kind: "terminated" }
  | { kind: "not_found" };

/**
 * Queues `Terminate {kind, reason}` for the backend's drone, unless the backend is already
 * `terminated` or a terminate of the same kind is still unacked (decisions.md §2:
 * Plane queues no-op terminates for terminated backends and a new one on every sweep). The
 * backend row is locked so concurrent callers (API, sweepers of several controllers) cannot
 * both queue one.
 */
export async function queueTerminate(
  db: Database,
  backendId: string,
  options: { kind: TerminationKind; reason: TerminationReason },
): Promise<QueueTerminateResult> {
  return await db.transaction(async (tx) => {
    const { rows } = await tx.query<{ drone_id: number; last_status: string; pending: boolean }>(
      `select drone_id, last_status, exists(
         select 1 from backend_action a
         where a.backend_id = b.id and a.acked_at is null
           and a.action->'action'->'Terminate'->>'kind' = $2
       ) as pending
       from backend b where id = $1 for update`,
      [backendId, options.kind],
    );
    const row = rows[0];
    if (!row) return { kind: "not_found" };
    if (row.last_status === "terminated") return { kind: "terminated" };
    if (row.pending) return { kind: "already_pending" };
    const action: BackendActionMessage = {
      "action_id": randomActionName(),
      "backend_id": backendId as BackendActionMessage["backend_id"],
      "drone_id": row.drone_id,
      action: { Terminate: { kind: options.kind, reason: options.reason } },
    };
    await insertAction(tx, action);
    return { kind: "queued", action };
  });
}

/**
 * Marks a backend's unacked actions as done without delivery, for a backend the controller
 * itself declared `terminated` (lost): a Spawn delivered after that would start a backend
 * whose key may already belong to another.
 */
export async function cancelPendingActions(tx: Queryable, backendId: string): Promise<number> {
  const { rowCount } = await tx.query(
    "update backend_action set acked_at = now() where backend_id = $1 and acked_at is null",
    [backendId],
  );
  return rowCount;
}
