/**
 * The drone's connection to a controller (behaviour doc §1.3, §6.4): dial the drone socket,
 * handshake, heartbeat every 7 s with the local time, replay the outbox, apply each action
 * concurrently and ack it once applied; reconnect with backoff after a failure and every
 * 50–70 minutes to rebalance across controllers (#876).
 */
import { Handshake, MessageToDrone, PLANE_HASH, PLANE_VERSION } from "../shared/protocol.ts";
import type { MessageFromDrone } from "../shared/protocol.ts";
import type { Logger } from "../shared/log.ts";
import type { DroneCore } from "./drone.ts";
import type { Clock } from "./clock.ts";

export interface ControllerLinkOptions {
  controllerUrl: string;
  cluster: string;
  pool: string;
  name: string;
  /** Cluster secret or API key, sent as `Authorization: Bearer` (decisions.md ext. 1). */
  secret?: string | undefined;
  heartbeatMs?: number;
  /** Resource metrics period (Plane: 10 s, §3.8). */
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

/** The drone socket URL: `ws(s)://…/ctrl/c/{cluster}/drone-socket[?pool=…]`, credentials stripped (§1.2). */
export function droneSocketUrl(controllerUrl: string, cluster: string, pool: string): {
  url: string;
  bearer: string | null;
} {
  const base = new URL(controllerUrl);
  const bearer = base.username ? decodeURIComponent(base.username) : null;
  base.username = "";
  base.password = "";
  base.protocol = base.protocol === "https:" || base.protocol === "wss:" ? "wss:" : "ws:";
  const path = base.pathname.replace(/\/$/, "");
  base.pathname = `${path}/ctrl/c/${encodeURIComponent(cluster)}/drone-socket`;
  base.search = pool ? `?pool=${encodeURIComponent(pool)}` : "";
  return { url: base.href, bearer };
}

export function runControllerLink(
  core: DroneCore,
  options: ControllerLinkOptions,
  deps: { log: Logger; clock: Clock; signal: AbortSignal; status?: LinkStatus },
): Promise<void> {
  const { log, signal } = deps;
  const status = deps.status ?? { connected: false, connections: 0 };
  const initial = options.backoffInitialMs ?? 1_000;
  const max = options.backoffMaxMs ?? 60_000;
  return (async () => {
    let delay = initial;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        await connectOnce(core, options, { ...deps, status });
      } catch (err) {
        if (!signal.aborted) log.warn("Controller connection failed", { err: String(err) });
      }
      status.connected = false;
      if (signal.aborted) break;
      // Plane resets the backoff once a connection stayed up for 60 s.
      if (Date.now() - started > 60_000) delay = initial;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
      delay = Math.min(Math.round(delay * 1.1), max);
    }
  })();
}

async function connectOnce(
  core: DroneCore,
  options: ControllerLinkOptions,
  deps: { log: Logger; clock: Clock; signal: AbortSignal; status: LinkStatus },
): Promise<void> {
  const { log, clock, signal } = deps;
  const { url, bearer } = droneSocketUrl(options.controllerUrl, options.cluster, options.pool);
  const token = options.secret ?? bearer;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const ws = new WebSocket(url, { headers } as unknown as string[]);
  const timers: ReturnType<typeof setTimeout>[] = [];
  let attached = false;
  function send(message: MessageFromDrone): boolean {
    if (ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  }
  await new Promise<void>((resolve, reject) => {
    let handshakeDone = false;
    const onAbort = () => ws.close(1000, "Drone shutting down");
    signal.addEventListener("abort", onAbort, { once: true });
    ws.onopen = () => {
      ws.send(JSON.stringify({
        version: { version: PLANE_VERSION, "git_hash": PLANE_HASH },
        name: options.name,
      }));
    };
    ws.onerror = () => {};
    ws.onclose = (event) => {
      signal.removeEventListener("abort", onAbort);
      for (const timer of timers) clearTimeout(timer);
      if (attached) core.detach();
      deps.status.connected = false;
      if (handshakeDone) resolve();
      else reject(new Error(`Socket closed before the handshake (code ${event.code})`));
    };
    ws.onmessage = (event) => {
      if (typeof event.data !== "string") return;
      let json: unknown;
      try {
        json = JSON.parse(event.data);
      } catch {
        log.warn("Skipping a controller message that is not JSON");
        return;
      }
      if (!handshakeDone) {
        const hs = Handshake.safeParse(json);
        if (!hs.success) return void ws.close(1008, "Invalid handshake");
        handshakeDone = true;
        deps.status.connected = true;
        deps.status.connections++;
        log.info("Connected to controller", { controller: hs.data.name });
        const heartbeat = () => send({ Heartbeat: { "local_time": clock.now() } });
        heartbeat();
        timers.push(setInterval(heartbeat, options.heartbeatMs ?? 7_000));
        const min = options.rebalanceMinMs ?? 50 * 60_000;
        const max = options.rebalanceMaxMs ?? 70 * 60_000;
        timers.push(
          setTimeout(() => ws.close(1000, "Rebalancing"), min + Math.random() * (max - min)),
        );
        timers.push(setInterval(() => void core.sendMetrics(), options.metricsMs ?? 10_000));
        core.attach(
          {
            renewKey: (backend, localTime) =>
              send({ RenewKey: { backend, "local_time": localTime } }),
            metrics: (sample) => send({ BackendMetrics: sample }),
            logs: (lines) => send({ LogLines: lines }),
          },
          (message) => void send({ BackendEvent: message }),
        );
        attached = true;
        return;
      }
      const parsed = MessageToDrone.safeParse(json);
      if (!parsed.success) {
        log.warn("Skipping an unparseable controller message", { issue: parsed.error.issues[0] });
        return;
      }
      const message = parsed.data;
      if ("Action" in message) {
        // Each action in its own task (§6.4 step 6); ack only after it was applied.
        core.applyAction(message.Action).then(
          (outcome) => {
            if (outcome === "applied") {
              send({ AckAction: { "action_id": message.Action.action_id } });
            }
          },
          (err) =>
            log.warn("Action failed; it will be re-sent", {
              err,
              action: message.Action.action_id,
            }),
        );
      } else if ("AckEvent" in message) {
        core.ackEvent(message.AckEvent.event_id);
      } else if ("RenewKeyResponse" in message) {
        core.keyRenewed(message.RenewKeyResponse.backend, message.RenewKeyResponse.deadlines);
      } else {
        const { backend_id: backendId, request, lease_ms: leaseMs, tail } = message.FollowLogs;
        core.followLogs(backendId, request, clock.now() + leaseMs, tail);
      }
    };
  });
}
