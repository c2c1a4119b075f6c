/**
 * `plane proxy --workers N` (issue 13): N Deno `Worker`s, each with its own engine and listener
 * on one port (`SO_REUSEPORT`: the kernel spreads connections across them), and one controller
 * socket in this thread. Controller messages (route answers, `BackendRemoved`, `TokenRevoked`)
 * reach every worker; route requests for a token already asked are not asked again; a backend's
 * keepalives reach the controller once per interval however many workers see its traffic
 * (plane-0.5.md §7.5). A worker that dies is logged and replaced; `close` drains every worker.
 */
import { startControllerLink } from "./controller_link.ts";
import type { EngineStats } from "./engine/mod.ts";
import type { ProxyMetricsSnapshot } from "./metrics.ts";
import type { FromWorker, ToWorker, WorkerSetup } from "./worker_protocol.ts";
import type { Logger, MessageFromProxy, MessageToProxy } from "../shared/mod.ts";
import { ConnectionCap } from "./connection_cap.ts";
import type { CertLinkClient } from "./cert_manager.ts";

export interface ProxyWorkersOptions
  extends Omit<WorkerSetup, "index" | "connected" | "keepAliveIntervalMs" | "connectionCap"> {
  /** Worker count (≥ 1). */
  workers: number;
  /** Open client connections allowed across all workers (`connection_cap.ts`); absent: no cap. */
  maxConnections?: number | undefined;
  controllerUrl: string;
  secret?: string | undefined;
  /** Keepalive revisit interval (plane-0.5.md §7.5: 7 s). */
  keepAliveIntervalMs?: number | undefined;
  backoffInitialMs?: number | undefined;
  backoffMaxMs?: number | undefined;
  /**
   * The ACME certificate manager: lease answers go to it, not to the workers (plane-0.5.md §10.3).
   */
  certClient?: CertLinkClient | undefined;
  log: Logger;
}

export interface ProxyWorkers {
  readonly name: string;
  readonly httpPort: number;
  readonly httpsPort: number | undefined;
  readonly workers: number;
  /** Workers replaced after dying. */
  readonly restarts: number;
  /** True while the controller connection is up (every worker's `/ready` says the same). */
  ready(): boolean;
  /** Each worker's engine counters, in worker order (null for a worker that did not answer). */
  stats(): Promise<(EngineStats | null)[]>;
  /** Each worker's metrics (engine and route cache), in worker order (null: no answer). */
  snapshots(): Promise<(ProxyMetricsSnapshot | null)[]>;
  /** Tests: makes worker `index` die of an uncaught error. */
  crash(index: number): void;
  /** Stops every worker's listener, drains them (up to `graceMs`), closes the controller link. */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** Deno refuses `reusePort` without `--unstable-net` (or `"unstable": ["net"]` in deno.json). */
export class ReusePortUnavailableError extends Error {
  constructor(workers: number) {
    super(
      `Cannot start ${workers} proxy workers on one port: Deno needs --unstable-net for ` +
        `reusePort (deno task plane passes it); or run one with --workers 1`,
    );
    this.name = "ReusePortUnavailableError";
  }
}

/**
 * Whether Deno lets a listener share its port. Asking `Deno.listen({ reusePort: true })` without
 * the flag does not throw: Deno ends the whole process (exit code 70). The unstable `net` APIs
 * exist on the namespace only when the flag is on, so their presence tells.
 */
export function reusePortAvailable(): boolean {
  return typeof (Deno as { listenDatagram?: unknown }).listenDatagram === "function";
}

const WORKER_URL = new URL("./proxy_worker.ts", import.meta.url);
/** How long a route answer is handed to workers that ask again instead of asking the controller. */
const RECENT_ANSWER_MS = 1_000;
/** Longest a worker may take to answer a stats request. */
const STATS_TIMEOUT_MS = 2_000;

interface Slot {
  index: number;
  worker: Worker;
  listening: boolean;
  /** Resolves when the worker has drained (or died) after `stop`. */
  stopped: PromiseWithResolvers<void> | null;
}

/**
 * Claims `port` (0: any free one) with an ordinary bind and releases it, returning the port.
 * `SO_REUSEPORT` joins any listener of the same user that also set it, so a second proxy (or a
 * test's) on the port, or a kernel-chosen port 0 that already has such a listener, would silently
 * share traffic with it; an ordinary bind fails on any existing listener instead, with a message.
 */
export function claimPort(hostname: string, port: number): number {
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname, port });
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `Cannot listen on ${hostname}:${port}: the port is in use (is another proxy still ` +
          `running?); stop it or choose another port`,
        { cause: err },
      );
    }
    throw err;
  }
  const claimed = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return claimed;
}

/** Starts the link and `options.workers` workers; resolves once every one is listening. */
export async function startProxyWorkers(options: ProxyWorkersOptions): Promise<ProxyWorkers> {
  if (!reusePortAvailable()) throw new ReusePortUnavailableError(options.workers);
  const { hostname } = options;
  const claimedHttp = claimPort(hostname, options.httpPort);
  const claimedHttps = options.https?.port === undefined
    ? undefined
    : claimPort(hostname, options.https.port);
  const { log } = options;
  const intervalMs = options.keepAliveIntervalMs ?? 7_000;
  const slots: Slot[] = [];
  /** Tokens asked and not yet answered on this connection: asked once for every worker. */
  const asked = new Set<string>();
  /**
   * Answers of the last second, oldest first: a worker may ask just before the broadcast answer
   * reaches it; it gets this one back instead of the controller being asked again.
   */
  const recent = new Map<string, { message: MessageToProxy; at: number }>();
  /** Backend → when its last keepalive went to the controller. */
  const keptAlive = new Map<string, number>();
  const statsWaiters = new Map<number, (snapshot: ProxyMetricsSnapshot) => void>();
  let statsId = 0;
  let restarts = 0;
  let closing = false;
  let ports: { httpPort: number; httpsPort: number | undefined } | null = null;

  function broadcast(message: ToWorker) {
    for (const slot of slots) slot.worker.postMessage(message);
  }

  const link = startControllerLink(
    {
      controllerUrl: options.controllerUrl,
      cluster: options.cluster,
      name: options.name,
      secret: options.secret,
      pathRouting: options.pathRouting,
      backoffInitialMs: options.backoffInitialMs,
      backoffMaxMs: options.backoffMaxMs,
    },
    {
      onConnected() {
        // Answers owed by the previous connection are lost with it; workers re-ask.
        asked.clear();
        recent.clear();
        broadcast({ kind: "link", connected: true });
        options.certClient?.onConnected();
      },
      onDisconnected() {
        broadcast({ kind: "link", connected: false });
      },
      onMessage(message: MessageToProxy) {
        if ("CertManagerResponse" in message) {
          options.certClient?.onResponse(message.CertManagerResponse);
          return;
        }
        if ("RouteInfoResponse" in message) {
          const { token } = message.RouteInfoResponse;
          asked.delete(token);
          const now = Date.now();
          recent.delete(token);
          recent.set(token, { message, at: now });
          for (const [old, entry] of recent) {
            if (now - entry.at < RECENT_ANSWER_MS) break;
            recent.delete(old);
          }
        } else if ("BackendRemoved" in message) {
          const { backend } = message.BackendRemoved;
          keptAlive.delete(backend);
          for (const [token, { message: answer }] of recent) {
            if (
              "RouteInfoResponse" in answer &&
              answer.RouteInfoResponse.route_info?.backend_id === backend
            ) recent.delete(token);
          }
        } else if ("TokenRevoked" in message) {
          recent.delete(message.TokenRevoked.token);
        }
        broadcast({ kind: "message", message });
      },
    },
    { log: log.child("link") },
  );
  options.certClient?.attach(link);

  function forward(message: MessageFromProxy, from: Slot) {
    if ("RouteInfoRequest" in message) {
      const { token } = message.RouteInfoRequest;
      if (asked.has(token)) return;
      const answered = recent.get(token);
      if (answered !== undefined && Date.now() - answered.at < RECENT_ANSWER_MS) {
        from.worker.postMessage({ kind: "message", message: answered.message } satisfies ToWorker);
        return;
      }
      if (link.send(message)) asked.add(token);
    } else if ("KeepAlive" in message) {
      // Each worker's monitor sends on first sight and every interval; one per interval is
      // enough for the controller's idle sweep (plane-0.5.md §6.7). The slack absorbs timer jitter.
      const now = Date.now();
      const last = keptAlive.get(message.KeepAlive);
      if (last !== undefined && now - last < intervalMs * 0.9) return;
      if (!link.send(message)) return;
      keptAlive.set(message.KeepAlive, now);
      if (keptAlive.size > 10_000) {
        for (const [backend, at] of keptAlive) {
          if (now - at > 2 * intervalMs) keptAlive.delete(backend);
        }
      }
    } else {
      link.send(message);
    }
  }

  const cap = options.maxConnections === undefined
    ? null
    : new ConnectionCap(options.maxConnections, { slots: options.workers });

  function spawn(index: number, httpPort: number, httpsPort: number | undefined) {
    const worker = new Worker(WORKER_URL, { type: "module", name: `proxy-worker-${index}` });
    const slot: Slot = { index, worker, listening: false, stopped: null };
    slots[index] = slot;
    const listening = Promise.withResolvers<{ httpPort: number; httpsPort: number | undefined }>();
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      switch (message.kind) {
        case "listening":
          slot.listening = true;
          listening.resolve(message);
          break;
        case "failed":
          listening.reject(new Error(message.message));
          break;
        case "send":
          forward(message.message, slot);
          break;
        case "stats":
          statsWaiters.get(message.id)?.(message.snapshot);
          break;
        case "stopped":
          slot.stopped?.resolve();
          break;
      }
    };
    worker.onerror = (event) => {
      // Without preventDefault an uncaught error in a worker also ends this thread.
      event.preventDefault();
      worker.terminate();
      listening.reject(new Error(`Proxy worker ${index} died: ${event.message}`));
      if (slot.stopped !== null) {
        slot.stopped.resolve();
        return;
      }
      if (closing || slots[index] !== slot) return;
      restarts++;
      // Its connections closed with it.
      cap?.resetSlot(index);
      log.error("Proxy worker died; starting a new one", { worker: index, err: event.message });
      const replacement = spawn(index, ports?.httpPort ?? httpPort, ports?.httpsPort ?? httpsPort);
      replacement.catch((err) => {
        log.error("Cannot restart a proxy worker", { worker: index, err });
      });
    };
    const setup: WorkerSetup = {
      index,
      name: options.name,
      cluster: options.cluster,
      rootRedirectUrl: options.rootRedirectUrl,
      pathRouting: options.pathRouting,
      routeWaitMs: options.routeWaitMs,
      keepAliveIntervalMs: intervalMs,
      hostname: options.hostname,
      httpPort,
      https: options.https && httpsPort !== undefined
        ? { ...options.https, port: httpsPort }
        : options.https,
      limits: options.limits,
      connectionCap: cap === null ? undefined : { limit: cap.limit, buffer: cap.buffer },
      logLevel: options.logLevel,
      connected: link.connected,
    };
    worker.postMessage({ kind: "setup", setup } satisfies ToWorker);
    return listening.promise;
  }

  async function stopAll(graceMs: number) {
    closing = true;
    await Promise.all(slots.map((slot) => {
      slot.stopped = Promise.withResolvers();
      slot.worker.postMessage({ kind: "stop", graceMs } satisfies ToWorker);
      return slot.stopped.promise;
    }));
    for (const slot of slots) slot.worker.terminate();
    await link.close();
  }

  try {
    // Every worker joins the claimed port (port 0 was resolved by the claim).
    ports = await spawn(0, claimedHttp, claimedHttps);
    const { httpPort, httpsPort } = ports;
    await Promise.all(
      Array.from({ length: options.workers - 1 }, (_, i) => spawn(i + 1, httpPort, httpsPort)),
    );
  } catch (err) {
    await stopAll(0);
    throw err;
  }

  /** Asks every worker for its counters; a worker silent for 2 s counts as null. */
  function snapshots(): Promise<(ProxyMetricsSnapshot | null)[]> {
    return Promise.all(slots.map((slot) => {
      const id = ++statsId;
      return new Promise<ProxyMetricsSnapshot | null>((resolve) => {
        const timer = setTimeout(() => {
          statsWaiters.delete(id);
          resolve(null);
        }, STATS_TIMEOUT_MS);
        statsWaiters.set(id, (snapshot) => {
          clearTimeout(timer);
          statsWaiters.delete(id);
          resolve(snapshot);
        });
        slot.worker.postMessage({ kind: "stats", id } satisfies ToWorker);
      });
    }));
  }

  let closed: Promise<void> | null = null;
  return {
    name: options.name,
    httpPort: ports.httpPort,
    httpsPort: ports.httpsPort,
    workers: options.workers,
    get restarts() {
      return restarts;
    },
    ready: () => link.connected,
    async stats() {
      return (await snapshots()).map((s) => s?.engine ?? null);
    },
    snapshots,
    crash(index) {
      slots[index]?.worker.postMessage({ kind: "crash" } satisfies ToWorker);
    },
    close({ graceMs = 10_000 } = {}) {
      closed ??= stopAll(graceMs);
      return closed;
    },
  };
}
