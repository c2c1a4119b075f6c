/**
 * The controller's side of one drone socket (behaviour doc §6.1–§6.3): registers the drone,
 * delivers its action queue (live events, then every `actionResendIntervalMs` until acked),
 * runs its idle/lifetime sweep, and handles what the drone sends — heartbeats, state events,
 * action acks, key renewals, metrics. `socket_session.ts` feeds messages here one at a time.
 */
import type { ControllerContext } from "./context.ts";
import type { ConnectionHandler, SocketConnection, SocketRole } from "./socket_session.ts";
import type { DroneSession } from "./sessions.ts";
import {
  type BackendActionMessage,
  MessageFromDrone,
  type MessageToDrone,
} from "../shared/protocol.ts";
import { ackAction, PENDING_ACTIONS_LIMIT, pendingActions } from "./db/actions.ts";
import { recordHeartbeat, registerDrone } from "./db/drones.ts";
import { updateBackendState } from "./db/backend_state.ts";
import { renewKey } from "./db/keys.ts";
import { notifyBackendMetrics } from "./db/metrics.ts";
import { every } from "./loop.ts";
import { sweepDrone } from "./sweeper.ts";
import { Unreachable } from "../shared/unreachable.ts";

type Connection = SocketConnection<MessageToDrone>;

/** The drone socket role; `pool` comes from the socket URL's `?pool=` (§6.1 step 4). */
export function droneRole(
  ctx: ControllerContext,
  pool: string,
): SocketRole<MessageFromDrone, MessageToDrone> {
  return {
    kind: "Drone",
    prefix: "dr-",
    schema: MessageFromDrone,
    open: (connection) => openDroneConnection(ctx, connection, pool),
  };
}

async function openDroneConnection(
  ctx: ControllerContext,
  connection: Connection,
  pool: string,
): Promise<ConnectionHandler<MessageFromDrone>> {
  const { nodeId: droneId, log } = connection;

  function sendAction(action: BackendActionMessage): boolean {
    return connection.send({ Action: action });
  }
  async function sendPending() {
    const actions = await pendingActions(ctx.db, droneId, PENDING_ACTIONS_LIMIT);
    if (actions.length === PENDING_ACTIONS_LIMIT) {
      log.warn("Pending action limit reached; the rest follow once these are acked", {
        droneId,
        limit: PENDING_ACTIONS_LIMIT,
      });
    }
    for (const action of actions) {
      // A peer that stopped reading has been disconnected by `send`; nothing more to do.
      if (!sendAction(action)) return;
    }
  }

  const session: DroneSession = {
    nodeId: droneId,
    name: connection.name,
    cluster: connection.cluster,
    send: (message) => void connection.send(message),
  };
  let unsubscribe: (() => void) | null = null;
  function close() {
    unsubscribe?.();
    // A reconnect may already have replaced this session (#680-like overlap).
    if (ctx.sessions.drones.get(droneId) === session) ctx.sessions.drones.delete(droneId);
  }

  try {
    await registerDrone(ctx.db, droneId, pool);
    // Subscribe before reading the queue so an action inserted in between is not missed;
    // a duplicate delivery is harmless (at-least-once, §6.8).
    unsubscribe = ctx.bus.subscribe("backend_action", String(droneId), (event) => {
      sendAction(event.data as BackendActionMessage);
    });
    ctx.sessions.drones.set(droneId, session);
    await sendPending();
  } catch (err) {
    // A half-set-up connection is useless: close it so the drone reconnects and tries again.
    close();
    connection.close(1011, "Drone connection setup failed");
    throw err;
  }
  const signal = AbortSignal.any([connection.signal, ctx.signal]);
  const loops = [
    every(ctx.config.actionResendIntervalMs, sendPending, {
      signal,
      log,
      name: "Pending action resend",
    }),
    every(ctx.config.sweepIntervalMs, async () => void await sweepDrone(ctx, droneId), {
      signal,
      log,
      name: "Drone sweep",
    }),
  ];

  let failed = false;
  return {
    async onMessage(message) {
      // Once a state event could not be recorded the socket is closing, and nothing after it
      // may be applied: updates only move forward, so a later status recorded first would make
      // the failed one's replay stale, and it would be missing from the history for good.
      if (failed) return;
      if (!(await handleMessage(ctx, connection, message))) {
        failed = true;
        // The drone replays every unacked event on its next connection (§6.2).
        connection.close(1011, "Could not record a backend event");
      }
    },
    async onClose() {
      close();
      await Promise.all(loops);
    },
  };
}

/** Returns false when a state event could not be recorded (it was not acked). */
async function handleMessage(
  ctx: ControllerContext,
  connection: Connection,
  message: MessageFromDrone,
): Promise<boolean> {
  const { nodeId: droneId, log } = connection;
  if ("Heartbeat" in message) {
    await recordHeartbeat(ctx.db, droneId, message.Heartbeat.local_time);
  } else if ("BackendEvent" in message) {
    const event = message.BackendEvent;
    let applied: boolean;
    try {
      applied = await updateBackendState(ctx.db, event.backend_id, event.state);
    } catch (err) {
      // No ack; the caller closes the socket so that the drone reconnects and replays it.
      log.error("Could not record a backend event", { err, backendId: event.backend_id });
      return false;
    }
    if (!applied) {
      log.debug("Not updating backend status: not newer than the stored one", {
        backendId: event.backend_id,
        status: event.state.status,
      });
    }
    // Stale events are acked too, or the drone would replay them forever (§4.2).
    connection.send({ AckEvent: { "event_id": event.event_id } });
  } else if ("AckAction" in message) {
    const acked = await ackAction(ctx.db, message.AckAction.action_id, droneId);
    if (!acked) log.debug("Ack for an unknown or already acked action", message.AckAction);
  } else if ("RenewKey" in message) {
    const { backend, "local_time": localTime } = message.RenewKey;
    if (!await renewKey(ctx.db, backend, ctx.config.keyLeaseMs)) {
      // Like Plane, nothing is sent back: the drone's own deadlines terminate the backend (§5.5).
      log.warn("Refused a key renewal: no renewable key for the backend", { backend });
      return true;
    }
    // Deadlines are in the drone's clock, from the time it put in the request (§5.3).
    connection.send({
      RenewKeyResponse: {
        backend,
        deadlines: {
          "renew_at": localTime + ctx.config.keyRenewAfterMs,
          "soft_terminate_at": localTime + ctx.config.keySoftTerminateAfterMs,
          "hard_terminate_at": localTime + ctx.config.keyHardTerminateAfterMs,
        },
      },
    });
  } else if ("BackendMetrics" in message) {
    await notifyBackendMetrics(ctx.db, message.BackendMetrics);
  } else if ("LogLines" in message) {
    // Relayed to viewers on every controller (decisions.md extension 4).
    await ctx.logs.publish(message.LogLines);
  } else {
    throw new Unreachable(message);
  }
  return true;
}
