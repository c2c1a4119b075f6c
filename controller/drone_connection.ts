/**
 * The controller's side of one drone socket (plane-0.5.md §6.1–§6.3): registers the drone,
 * delivers its action queue (live events at once; a backlog a window at a time, the next as
 * acks arrive; an action unacked for `actionResendIntervalMs` again, `action_window.ts`),
 * runs its idle/lifetime sweep, and handles what the drone sends — heartbeats, state events,
 * action acks, key renewals, metrics. `socket_session.ts` feeds messages here one at a time;
 * state events of different backends are then applied side by side (each backend's in order)
 * and action acks recorded in batches (issue 11, finding 1: one at a time, a burst took minutes).
 *
 * Everything a drone says about a backend applies only to backends assigned to that drone (its
 * node, hence its cluster); anything else is refused and logged with the drone's name (issue 10,
 * finding 3: a socket once set another cluster's backend `ready` at its own address). Refused
 * state events are acked like stale ones, so the answer tells a prober nothing. A connection
 * superseded by a newer one for the same name stops at its next heartbeat or resend round.
 */
import type { ControllerContext } from "./context.ts";
import type { ConnectionHandler, SocketConnection, SocketRole } from "./socket_session.ts";
import type { DroneSession } from "./sessions.ts";
import {
  type BackendActionMessage,
  type BackendStateMessage,
  MessageFromDrone,
  type MessageToDrone,
  Unreachable,
} from "../shared/mod.ts";
import {
  ackActions,
  backendAgeSeconds,
  holdsNode,
  isBackendOfDrone,
  notifyBackendMetrics,
  pendingActions,
  recordHeartbeat,
  registerDrone,
  renewKey,
  updateBackendState,
} from "./db/mod.ts";
import { AckBatcher } from "./ack_batcher.ts";
import { KeyedLanes } from "./keyed_lanes.ts";
import { ActionWindow } from "./action_window.ts";
import { every } from "./loop.ts";
import { sweepDrone } from "./sweeper.ts";

type Connection = SocketConnection<MessageToDrone>;

/**
 * State events applied at once per drone connection (different backends; one backend's in
 * order). Each takes a pooled database connection for a few milliseconds; 8 of the pool's 20
 * leave the rest to connects and other drones.
 */
const EVENT_CONCURRENCY = 8;

/** Longest wait between two looks for overdue or backlogged actions (Plane's 5 s round). */
const RESEND_CHECK_MS = 5_000;

/**
 * The drone socket role; `pool` comes from the socket URL's `?pool=` (plane-0.5.md §6.1 step 4).
 */
export function droneRole(
  ctx: ControllerContext,
  pool: string,
): SocketRole<MessageFromDrone, MessageToDrone> {
  return {
    kind: "Drone",
    prefix: "dr-",
    bindName: true,
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

  // Issue 11, finding 1: an action is re-sent only once overdue (a resend interval without its
  // ack, and the drone silent or past it), so resends do not race a busy drone's acks.
  const window = new ActionWindow({
    resendAfterMs: ctx.config.actionResendIntervalMs,
    now: Date.now(),
  });
  function sendAction(action: BackendActionMessage): boolean {
    const now = Date.now();
    // Sent moments ago (the live event and the queue read of one action): its ack is coming.
    if (!window.shouldSend(action.action_id, now)) return true;
    if (!connection.send({ Action: action })) return false;
    window.sent(action.action_id, now);
    return true;
  }
  /** Unacked actions may exist that are not in flight on this connection. */
  let backlog = true;
  let delivering: Promise<void> | null = null;
  let deliverAgain = false;
  /** Sends pending actions not in flight while the window has room; one round at a time. */
  function sendPending(): Promise<void> {
    if (delivering) {
      deliverAgain = true;
      return delivering;
    }
    delivering = (async () => {
      try {
        do {
          deliverAgain = false;
          await sendPendingOnce();
        } while (deliverAgain && !connection.signal.aborted);
      } finally {
        delivering = null;
      }
    })();
    return delivering;
  }
  async function sendPendingOnce() {
    if (!(await holdsNode(ctx.db, droneId, ctx.name, connection.connectionStart))) {
      closeSuperseded(connection);
      return;
    }
    window.expire(Date.now());
    const room = window.room;
    if (room === 0) return;
    const actions = await pendingActions(ctx.db, droneId, {
      limit: room,
      exclude: window.inFlight,
    });
    backlog = actions.length === room;
    for (const action of actions) {
      // A peer that stopped reading has been disconnected by `send`; nothing more to do.
      if (!sendAction(action)) return;
    }
  }
  /** The drone acked an action: with a backlog waiting, half a window freed sends more. */
  function actionAcked(actionId: string) {
    window.acked(actionId, Date.now());
    if (backlog && window.wantsMore && !connection.signal.aborted) {
      sendPending().catch((err) => log.error("Pending action delivery failed", { err }));
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
    // a duplicate delivery is harmless (at-least-once, plane-0.5.md §6.8).
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
    // Overdue acks are looked for at least every 5 s (Plane's resend period, plane-0.5.md §6.1)
    // even with a longer resend interval, so a re-send is late by at most that.
    every(Math.min(ctx.config.actionResendIntervalMs, RESEND_CHECK_MS), sendPending, {
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
  const owned = new OwnedBackends(ctx, connection);
  const events = new KeyedLanes(EVENT_CONCURRENCY);
  const acks = new AckBatcher(async (actionIds) => {
    const acked = new Set(await ackActions(ctx.db, actionIds, droneId));
    for (const actionId of actionIds) {
      if (acked.has(actionId)) actionAcked(actionId);
      else {
        window.acked(actionId, Date.now());
        log.warn("Ignored an ack for an unknown, already acked or another drone's action", {
          drone: connection.name,
          cluster: connection.cluster,
          actionId,
        });
      }
    }
  }, log);
  return {
    async onMessage(message) {
      // Once a state event could not be recorded the socket is closing, and nothing after it
      // may be applied: updates only move forward, so a later status recorded first would make
      // the failed one's replay stale, and it would be missing from the history for good.
      if (failed || connection.signal.aborted) return;
      if ("BackendEvent" in message) {
        // Issue 11, finding 1: events of different backends are applied side by side, each
        // backend's in order; this resolves once the event is admitted (backpressure).
        const event = message.BackendEvent;
        await events.run(event.backend_id, async () => {
          if (failed || connection.signal.aborted) return;
          if (!(await handleBackendEvent(ctx, connection, event))) {
            failed = true;
            // The drone replays every unacked event on its next connection (plane-0.5.md §6.2).
            connection.close(1011, "Could not record a backend event");
          }
        }, (err) => {
          // Unacked, the event would hold a slot of the drone's outbox window for good: close,
          // and the drone replays it on its next connection.
          log.error("Backend event handling failed", { err, backendId: event.backend_id });
          failed = true;
          connection.close(1011, "Could not record a backend event");
        });
        return;
      }
      if ("AckAction" in message) return acks.add(message.AckAction.action_id);
      const outcome = await handleMessage(ctx, connection, message, owned);
      if (outcome === "superseded") {
        failed = true;
        closeSuperseded(connection);
      }
    },
    takeUnordered(message) {
      // Acks commute with everything else: recorded at arrival, not after the events before them.
      if (!("AckAction" in message) || failed || connection.signal.aborted) return false;
      acks.add(message.AckAction.action_id);
      return true;
    },
    async onClose() {
      close();
      await Promise.all([...loops, events.idle(), acks.idle()]);
    },
  };
}

function closeSuperseded(connection: Connection) {
  connection.log.warn("Closing a drone connection superseded by a newer one for its name", {
    drone: connection.name,
    cluster: connection.cluster,
  });
  connection.close(1008, "Superseded by a newer connection for this drone name");
}

/**
 * Which backends this connection's drone may speak for (metrics, log lines), asked once per
 * backend: a backend never changes drone, so a yes is cached for the connection's life. A no is
 * not cached (a Spawn may be on its way) but is logged once per backend.
 */
class OwnedBackends {
  static readonly MAX_CACHED = 10_000;
  #yes = new Set<string>();
  #loggedNo = new Set<string>();
  #ctx: ControllerContext;
  #connection: Connection;
  constructor(ctx: ControllerContext, connection: Connection) {
    this.#ctx = ctx;
    this.#connection = connection;
  }

  async check(backendId: string, what: string): Promise<boolean> {
    if (this.#yes.has(backendId)) return true;
    if (await isBackendOfDrone(this.#ctx.db, backendId, this.#connection.nodeId)) {
      if (this.#yes.size >= OwnedBackends.MAX_CACHED) this.#yes.clear();
      this.#yes.add(backendId);
      return true;
    }
    if (!this.#loggedNo.has(backendId)) {
      if (this.#loggedNo.size >= OwnedBackends.MAX_CACHED) this.#loggedNo.clear();
      this.#loggedNo.add(backendId);
      refused(this.#connection, what, backendId);
    }
    return false;
  }
}

function refused(connection: Connection, what: string, backendId: string) {
  connection.log.warn(`Refused ${what}: the backend is not assigned to this drone`, {
    drone: connection.name,
    cluster: connection.cluster,
    backendId,
  });
}

/**
 * Records a drone's state event and acks it; false when it could not be recorded (not acked:
 * the caller closes the socket so that the drone reconnects and replays it).
 */
async function handleBackendEvent(
  ctx: ControllerContext,
  connection: Connection,
  event: BackendStateMessage,
): Promise<boolean> {
  const { nodeId: droneId, log } = connection;
  let applied: boolean;
  try {
    applied = await updateBackendState(ctx.db, event.backend_id, event.state, { droneId });
  } catch (err) {
    log.error("Could not record a backend event", { err, backendId: event.backend_id });
    return false;
  }
  if (applied && event.state.status === "ready") {
    // Spawn-to-ready (issue 15): measured in database time from the connect that made the row.
    const age = await backendAgeSeconds(ctx.db, event.backend_id).catch(() => null);
    if (age !== null) ctx.prometheus.spawnToReady(age);
  }
  if (!applied) {
    if (await isBackendOfDrone(ctx.db, event.backend_id, droneId)) {
      log.debug("Not updating backend status: not newer than the stored one", {
        backendId: event.backend_id,
        status: event.state.status,
      });
    } else {
      refused(connection, `a "${event.state.status}" state event`, event.backend_id);
    }
  }
  // Stale and refused events are acked too, or the drone would replay them forever (plane-0.5.md
  // §4.2).
  connection.send({ AckEvent: { "event_id": event.event_id } });
  return true;
}

type Outcome = "ok" | "superseded";

/** Heartbeats, key renewals, metrics and log lines, one at a time in arrival order. */
async function handleMessage(
  ctx: ControllerContext,
  connection: Connection,
  message: Exclude<MessageFromDrone, { BackendEvent: unknown } | { AckAction: unknown }>,
  owned: OwnedBackends,
): Promise<Outcome> {
  const { nodeId: droneId, log } = connection;
  if ("Heartbeat" in message) {
    const held = await recordHeartbeat(ctx.db, {
      droneId,
      controller: ctx.name,
      connectionStart: connection.connectionStart,
    }, message.Heartbeat.local_time);
    if (!held) return "superseded";
  } else if ("RenewKey" in message) {
    const { backend, "local_time": localTime } = message.RenewKey;
    if (!await renewKey(ctx.db, backend, ctx.config.keyLeaseMs, droneId)) {
      // Like Plane, nothing is sent back: the drone's own deadlines terminate the backend
      // (plane-0.5.md §5.5).
      log.warn("Refused a key renewal: no renewable key for a backend of this drone", {
        drone: connection.name,
        cluster: connection.cluster,
        backend,
      });
      return "ok";
    }
    // Deadlines are in the drone's clock, from the time it put in the request (plane-0.5.md §5.3).
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
    if (await owned.check(message.BackendMetrics.backend_id, "backend metrics")) {
      await notifyBackendMetrics(ctx.db, message.BackendMetrics);
    }
  } else if ("LogLines" in message) {
    // Relayed to viewers on every controller (decisions.md §3.4).
    if (await owned.check(message.LogLines.backend_id, "log lines")) {
      await ctx.logs.publish(message.LogLines);
    }
  } else {
    throw new Unreachable(message);
  }
  return "ok";
}
