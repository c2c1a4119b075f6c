/**
 * The drone's connection to a controller (plane-0.5.md §1.3, §6.4): the shared socket client on
 * `/ctrl/c/{cluster}/drone-socket[?pool=…]`; on each connection a heartbeat every 7 s with the
 * local time (the first at once), metrics every 10 s, the outbox replayed; each action applied
 * concurrently and acked once applied.
 */
import {
  controllerSocketUrl,
  type Logger,
  type MessageFromDrone,
  MessageToDrone,
  startSocketClient,
} from "../shared/mod.ts";
import type { DroneCore } from "./drone.ts";
import type { Clock } from "./clock.ts";

export interface ControllerLinkOptions {
  controllerUrl: string;
  cluster: string;
  pool: string;
  name: string;
  /** Cluster secret or API key, sent as `Authorization: Bearer` (decisions.md §3.1). */
  secret?: string | undefined;
  heartbeatMs?: number;
  /** Resource metrics period (Plane: 10 s, plane-0.5.md §3.8). */
  metricsMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Range of the periodic reconnect; Plane uses 50–70 min. */
  rebalanceMinMs?: number;
  rebalanceMaxMs?: number;
}

export interface LinkStatus {
  connected: boolean;
  connections: number;
}

function poolQuery(pool: string): string {
  return pool ? `?pool=${encodeURIComponent(pool)}` : "";
}

/**
 * The drone socket URL: `ws(s)://…/ctrl/c/{cluster}/drone-socket[?pool=…]`, credentials stripped
 * (plane-0.5.md §1.2).
 */
export function droneSocketUrl(controllerUrl: string, cluster: string, pool: string) {
  return controllerSocketUrl(controllerUrl, cluster, "drone-socket", poolQuery(pool));
}

/** Stays connected (reconnecting as needed) until `signal` aborts. */
export async function runControllerLink(
  core: DroneCore,
  options: ControllerLinkOptions,
  deps: { log: Logger; clock: Clock; signal: AbortSignal; status?: LinkStatus },
): Promise<void> {
  const { log, clock, signal } = deps;
  const status = deps.status ?? { connected: false, connections: 0 };
  let timers: ReturnType<typeof setInterval>[] = [];
  const client = startSocketClient<MessageToDrone, MessageFromDrone>(
    { ...options, kind: "drone-socket", search: poolQuery(options.pool), schema: MessageToDrone },
    {
      onConnected() {
        status.connected = true;
        status.connections++;
        const heartbeat = () => client.send({ Heartbeat: { "local_time": clock.now() } });
        heartbeat();
        timers = [
          setInterval(heartbeat, options.heartbeatMs ?? 7_000),
          setInterval(() => void core.sendMetrics(), options.metricsMs ?? 10_000),
        ];
        core.attach(
          {
            renewKey: (backend, localTime) =>
              client.send({ RenewKey: { backend, "local_time": localTime } }),
            metrics: (sample) => client.send({ BackendMetrics: sample }),
            logs: (lines) => client.send({ LogLines: lines }),
          },
          (message) => void client.send({ BackendEvent: message }),
        );
      },
      onDisconnected() {
        status.connected = false;
        for (const timer of timers) clearInterval(timer);
        timers = [];
        core.detach();
      },
      onMessage(message) {
        if ("Action" in message) {
          // Each action in its own task (plane-0.5.md §6.4 step 6); ack only after it was applied.
          const action = message.Action;
          core.applyAction(action).then(
            (outcome) => {
              if (outcome === "applied") {
                client.send({ AckAction: { "action_id": action.action_id } });
              }
            },
            (err) =>
              log.warn("Action failed; it will be re-sent", { err, action: action.action_id }),
          );
        } else if ("AckEvent" in message) {
          core.ackEvent(message.AckEvent.event_id);
        } else if ("RenewKeyResponse" in message) {
          core.keyRenewed(message.RenewKeyResponse.backend, message.RenewKeyResponse.deadlines);
        } else {
          const { backend_id: backendId, request, lease_ms: leaseMs, tail } = message.FollowLogs;
          core.followLogs(backendId, request, clock.now() + leaseMs, tail);
        }
      },
    },
    { log },
  );
  if (!signal.aborted) {
    await new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true })
    );
  }
  await client.close();
}
