/**
 * @module
 * The Plane proxy's routing side (plane-0.5.md §7): `createProxy()` wires the controller
 * link, the route cache and the connection monitor behind one `decide` function that the
 * byte-moving engine (`proxy/engine/`) calls for every request head. It binds no port, so the
 * same object serves `plane proxy` and a proxy embedded in a drone (decisions.md §3.9).
 */
import type { ConnectionInfo, Decision, EngineErrorResponse, RequestHead } from "./engine/mod.ts";
import { type ControllerLinkHandlers, startControllerLink } from "./controller_link.ts";
import { RouteCache } from "./route_cache.ts";
import { type BackendCounter, ConnectionMonitor } from "./connection_monitor.ts";
import { TunnelRegistry } from "./tunnel_registry.ts";
import {
  engineErrorResponse,
  preroute,
  routeDecision,
  type RoutedRequest,
  type RouteResult,
} from "./request.ts";
import type { RouteHooks } from "./prepared_route.ts";
import {
  type BackendName,
  type Logger,
  type MessageFromProxy,
  type MessageToProxy,
  randomProxyName,
  Unreachable,
} from "../shared/mod.ts";
import type { CertLinkClient } from "./cert_manager.ts";

export interface ProxyOptions {
  /** The cluster this proxy serves (`host[:port]`), named in the socket path. */
  cluster: string;
  /** Controller URL; a bearer secret may ride as the URL's username (plane-0.5.md §1.2). */
  controllerUrl: string;
  /** Node name, `px-…` (default random). */
  name?: string | undefined;
  /** Cluster secret for the proxy socket (decisions.md §3.1). */
  secret?: string | undefined;
  /** `GET /` answers 301 to this URL instead of 400 (plane-0.5.md §7.2 step 2). */
  rootRedirectUrl?: string | undefined;
  /** Route by `/_plane_backend=<id>/` instead of tokens (jamsocket-api.md §10.2; dev only). */
  pathRouting?: boolean | undefined;
  /** Longest wait for a pending route before 504 (decisions.md §2.10: 5 min). */
  routeWaitMs?: number | undefined;
  /** Keepalive revisit interval (plane-0.5.md §7.5: 7 s). */
  keepAliveIntervalMs?: number | undefined;
  /** Controller reconnect backoff (plane-0.5.md §1.3: 1 s initial, 60 s cap). */
  backoffInitialMs?: number | undefined;
  backoffMaxMs?: number | undefined;
  /**
   * Replaces the controller socket: a proxy worker (`proxy_worker.ts`) talks to the one socket
   * its main thread holds (`worker_pool.ts`) instead of dialling its own.
   */
  link?: ((handlers: ControllerLinkHandlers) => ProxyLink) | undefined;
  /**
   * The ACME certificate manager, fed the lease answers of this proxy's socket (plane-0.5.md
   * §10.3).
   */
  certClient?: CertLinkClient | undefined;
  log: Logger;
}

/** What the proxy needs from its controller connection. */
export interface ProxyLink {
  readonly connected: boolean;
  /** Sends now; false (and nothing sent) while disconnected. */
  send(message: MessageFromProxy): boolean;
  close(): Promise<void>;
}

export interface Proxy {
  readonly name: string;
  /** For the engine: what to do with a request head. */
  decide(head: RequestHead, connection: ConnectionInfo): Decision | Promise<Decision>;
  /**
   * For the engine: responses it generates itself (400, 408, 502, …): the JSON error body, or
   * the HTML page when the request (if one was parsed) prefers HTML, with CORS and Server
   * headers.
   */
  errorResponse(status: number, reason: string, head?: RequestHead): EngineErrorResponse;
  /** True while connected to a controller (`/ready`). */
  ready(): boolean;
  /** Observability and tests: the route cache, connection monitor and open tunnels. */
  readonly routes: RouteCache;
  readonly monitor: ConnectionMonitor;
  readonly tunnels: TunnelRegistry;
  /** Ends pending waits, stops keepalives and closes the controller socket. */
  close(): Promise<void>;
}

const NO_HOOKS: RouteHooks = Object.freeze({});

export function createProxy(options: ProxyOptions): Proxy {
  const log = options.log;
  const name = options.name ?? randomProxyName();
  // The link, cache and monitor refer to each other; `link` is assigned just below.
  // deno-lint-ignore prefer-const
  let link: ProxyLink;
  const routes = new RouteCache(
    (token) => link.send({ RouteInfoRequest: { token } }),
    { waitMs: options.routeWaitMs },
  );
  const monitor = new ConnectionMonitor(
    (backend) => void link.send({ KeepAlive: backend as BackendName }),
    { intervalMs: options.keepAliveIntervalMs },
  );
  const tunnels = new TunnelRegistry();

  function onMessage(message: MessageToProxy) {
    if ("RouteInfoResponse" in message) {
      const { token, "route_info": route } = message.RouteInfoResponse;
      routes.answer(token, route);
    } else if ("BackendRemoved" in message) {
      const backend = message.BackendRemoved.backend;
      routes.backendRemoved(backend);
      monitor.remove(backend);
    } else if ("TokenRevoked" in message) {
      const { token } = message.TokenRevoked;
      routes.tokenRevoked(token);
      // Issue 10 finding 5: a revoked token's open WebSockets end too, not just its requests.
      const closed = tunnels.revoke(token);
      if (closed > 0) log.info("Closed tunnels of a revoked token", { tunnels: closed });
    } else if ("CertManagerResponse" in message) {
      // Without ACME nobody asked; the answer is ignored.
      options.certClient?.onResponse(message.CertManagerResponse);
    } else {
      throw new Unreachable(message);
    }
  }

  const handlers = {
    onConnected() {
      routes.connected();
      options.certClient?.onConnected();
    },
    onMessage,
  };
  link = options.link?.(handlers) ?? startControllerLink(
    {
      controllerUrl: options.controllerUrl,
      cluster: options.cluster,
      name,
      secret: options.secret,
      pathRouting: options.pathRouting,
      backoffInitialMs: options.backoffInitialMs,
      backoffMaxMs: options.backoffMaxMs,
    },
    handlers,
    { log: log.child("link") },
  );
  options.certClient?.attach(link);

  /**
   * The monitor and tunnel hooks of one cached route (token), made when its first request is
   * decided and reused by the rest (issue 13: no closures per request). plane-0.5.md §7.5: a plain
   * response counts once, when its head arrives; an upgrade counts while open.
   */
  function routeHooks(token: string, backend: string): RouteHooks {
    // Sighted at the first response, not before: a request that never reaches the backend
    // keeps nothing alive.
    let counter: BackendCounter | null = null;
    return {
      onResponse(status) {
        if (status === 101) return;
        if (counter === null || !counter.live) counter = monitor.sight(backend);
        counter.requests++;
      },
      onUpgrade(close) {
        const monitored = monitor.openConnection(backend);
        // The engine always passes `close`; a caller that does not cannot be revoked early.
        const registered = tunnels.open(token, close ?? (() => {}));
        return () => {
          monitored();
          registered();
        };
      },
    };
  }

  function finish(
    head: RequestHead,
    connection: ConnectionInfo,
    request: RoutedRequest,
    result: RouteResult,
  ): Decision {
    if (result.kind === "timeout") {
      log.warn("Route still pending at the wait limit", { token: request.token.slice(0, 8) });
    }
    let hooks = NO_HOOKS;
    if (result.kind === "found") {
      const prepared = result.prepared;
      hooks = prepared === undefined
        ? routeHooks(request.token, result.route.backend_id)
        : (prepared.hooks ??= routeHooks(request.token, result.route.backend_id));
    }
    const { decision, skipped } = routeDecision(head, connection, request, result, hooks);
    if (skipped.length > 0) {
      const backend = result.kind === "found" ? result.route.backend_id : "";
      log.error("Skipped headers with invalid values", { headers: skipped, backend });
    }
    return decision;
  }

  return {
    name,
    decide(head, connection) {
      const pre = preroute(head, {
        ready: link.connected,
        rootRedirectUrl: options.rootRedirectUrl,
        pathRouting: options.pathRouting,
      });
      if (pre.kind === "respond") return pre;
      const result = routes.lookup(pre.token);
      // A cached route is decided synchronously: no extra turn of the event loop.
      if (!(result instanceof Promise)) return finish(head, connection, pre, result);
      return result.then((r) => finish(head, connection, pre, r));
    },
    errorResponse: engineErrorResponse,
    ready: () => link.connected,
    routes,
    monitor,
    tunnels,
    async close() {
      routes.close();
      monitor.close();
      await link.close();
    },
  };
}

// What the CLI and the other roles use from this folder (style.md §3: mod.ts is the door).
export { createAcmeOrderer } from "./acme_order.ts";
export { startCertManager } from "./cert_manager.ts";
export type { CertManager } from "./cert_manager.ts";
export { ProxyConfig } from "./config.ts";
export type { ProxyConfigInput } from "./config.ts";
export {
  ConnectionCap,
  defaultMaxConnections,
  parseSoftDescriptorLimit,
} from "./connection_cap.ts";
export { proxyFamilies, takeSnapshot } from "./metrics.ts";
export { serveProxy } from "./serve.ts";
export type { ProxyServer } from "./serve.ts";
export { ReusePortUnavailableError, startProxyWorkers } from "./worker_pool.ts";
export type { ProxyWorkers } from "./worker_pool.ts";
