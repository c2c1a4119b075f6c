/**
 * The durable action queue (behaviour doc §6.3, §8.6): actions for drones are rows of
 * `backend_action`, announced by a `backend_action` event keyed by the drone's node id, and
 * re-sent until the drone acks them.
 */
import type { Queryable } from "./database.ts";
import { emitEvent } from "./events.ts";
import type { BackendActionMessage } from "../../shared/protocol.ts";

/** Queues `message` for its drone inside `tx`; delivered once `tx` commits. */
export async function insertAction(tx: Queryable, message: BackendActionMessage): Promise<void> {
  await tx.query(
    `insert into backend_action (id, backend_id, drone_id, action) values ($1, $2, $3, $4)`,
    [message.action_id, message.backend_id, message.drone_id, JSON.stringify(message)],
  );
  await emitEvent(tx, "backend_action", String(message.drone_id), message);
}
