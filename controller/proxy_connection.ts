/**
 * The controller's side of one proxy socket (plane-0.5.md §7.6): route info (held for pending
 * backends), keepalives (plane-0.5.md §7.5), the certificate lease (plane-0.5.md §10.3), and the
 * two pushes proxies get — `BackendRemoved` once a backend is terminating (Plane: terminated) and
 * `TokenRevoked` for revoked tokens, both only for the proxy's own cluster (decisions.md §2.4,
 * §2.15, issue 10 finding 5). `_plane_backend=<id>` resolves only for a socket that declared path
 * routing (issue 10 finding 1).
 *
 * Each connection subscribes to the event bus itself rather than through one controller-wide
 * subscription: the subscriptions then live and die with the socket (no start/stop wiring in
 * `createController`), and filtering by cluster per connection costs the same as
 * `sessions.proxiesOf(cluster)` would.
 */
import { z } from "zod";
import type { ControllerContext } from "./context.ts";
import type { ConnectionHandler, SocketConnection, SocketRole } from "./socket_session.ts";
import type { ProxySession } from "./sessions.ts";
import {
  acquireCertLease,
  type EventRecord,
  type FindRouteOptions,
  findRouteTarget,
  recordKeepAlive,
  releaseCertLease,
  type RouteTarget,
  setCertTxtRecord,
} from "./db/mod.ts";
import {
  type BackendName,
  BackendState,
  isPathRouteToken,
  isTerminatingOrBeyond,
  MessageFromProxy,
  type MessageToProxy,
  type RouteInfo,
} from "../shared/mod.ts";

/** `backend_state` event payloads as `db/backend_state.ts` writes them. */
const BackendStateEventData = z.object({
  backend_id: z.string(),
  cluster: z.string(),
  state: BackendState,
});

/** `token_revoked` event payloads as `db/revoke.ts` writes them. */
const TokenRevokedEventData = z.object({
  cluster: z.string(),
  backend_id: z.string(),
  tokens: z.array(z.string()),
});

/** What to answer for a token right now, or "pending" when the backend is not ready yet. */
export type RouteDecision = { answer: RouteInfo | null } | "pending";

/**
 * plane-0.5.md §7.6: unknown token → null; terminating or later → null; ready → the route; earlier
 * statuses → pending.
 */
export function decideRoute(target: RouteTarget | null): RouteDecision {
  if (target === null) return { answer: null };
  const { state } = target;
  if (state.status === "ready") return { answer: routeInfoOf(target, state.address) };
  if (isTerminatingOrBeyond(state.status)) return { answer: null };
  return "pending";
}

/**
 * A token of another cluster is unknown to this proxy (issue 10): its answer would carry that
 * cluster's secret token and user, and a proxy is trusted with its own cluster only.
 */
function ofCluster(target: RouteTarget | null, cluster: string): RouteTarget | null {
  return target !== null && target.cluster === cluster ? target : null;
}

function routeInfoOf(target: RouteTarget, address: string): RouteInfo {
  return {
    "backend_id": target.backendId as BackendName,
    address,
    "secret_token": target.secretToken,
    cluster: target.cluster,
    user: target.user,
    "user_data": target.userData ?? null,
    subdomain: target.subdomain,
  };
}

/** What a proxy declared when it opened its socket. */
export interface ProxyDeclaration {
  /** `?path_routing=true`: routes `/_plane_backend=<id>/` (accepted with `--allow-path-routing`). */
  pathRouting: boolean;
}

export function proxyRole(
  ctx: ControllerContext,
  declaration: ProxyDeclaration = { pathRouting: false },
): SocketRole<MessageFromProxy, MessageToProxy> {
  return {
    kind: "Proxy",
    prefix: "px-",
    schema: MessageFromProxy,
    open: (connection) => Promise.resolve(openProxyConnection(ctx, connection, declaration)),
  };
}

interface Waiter {
  /** Ends the wait; sends `info` unless it is undefined (a silent give-up). */
  finish(info: RouteInfo | null | undefined): void;
}

function openProxyConnection(
  ctx: ControllerContext,
  connection: SocketConnection<MessageToProxy>,
  declaration: ProxyDeclaration,
): ConnectionHandler<MessageFromProxy> {
  const { cluster, nodeId, log } = connection;
  const routeOptions: FindRouteOptions = declaration.pathRouting
    ? { pathRoutingCluster: cluster }
    : {};
  /** Pending route-info waits by token; one per token is enough, the answer names the token. */
  const waiters = new Map<string, Waiter>();

  const session: ProxySession = {
    nodeId,
    name: connection.name,
    cluster,
    send: (message) => void connection.send(message),
  };
  ctx.sessions.proxies.set(nodeId, session);

  function onBackendState(event: EventRecord) {
    const parsed = BackendStateEventData.safeParse(event.data);
    if (!parsed.success) return;
    const { data } = parsed;
    // decisions.md §2.15: only proxies of the backend's own cluster hear about it (plane-0.5.md
    // §14.9 #17). Plane sends it at `terminated`; we send it from `terminating` on, so a cached
    // route stops taking new requests during the grace period (the controller already answers null
    // then, plane-0.5.md §7.6); a proxy only evicts routes on it, so tunnels already open stay
    // until the backend exits. Repeats (terminating, hard-terminating, terminated) are harmless.
    if (data.cluster !== cluster || !isTerminatingOrBeyond(data.state.status)) return;
    connection.send({ BackendRemoved: { backend: data.backend_id as BackendName } });
  }

  function onTokenRevoked(event: EventRecord) {
    const parsed = TokenRevokedEventData.safeParse(event.data);
    if (!parsed.success || parsed.data.cluster !== cluster) return;
    for (const token of parsed.data.tokens) {
      // A revoked token must not be answered by a wait that began before the revocation.
      waiters.get(token)?.finish(undefined);
      connection.send({ TokenRevoked: { token } });
    }
  }

  const unsubscribes = [
    ctx.bus.subscribe("backend_state", null, onBackendState),
    ctx.bus.subscribe("token_revoked", cluster, onTokenRevoked),
  ];

  let cleanedUp = false;
  function cleanup() {
    if (cleanedUp) return;
    cleanedUp = true;
    for (const unsubscribe of unsubscribes) unsubscribe();
    for (const waiter of [...waiters.values()]) waiter.finish(undefined);
    if (ctx.sessions.proxies.get(nodeId) === session) ctx.sessions.proxies.delete(nodeId);
  }
  // The signal aborts as soon as the socket closes, before queued messages drain: pending
  // waits stop at once instead of outliving the socket.
  connection.signal.addEventListener("abort", cleanup, { once: true });

  async function waitForReady(token: string, target: RouteTarget) {
    let done = false;
    const waiter: Waiter = {
      finish(info) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsubscribe();
        if (waiters.get(token) === waiter) waiters.delete(token);
        if (info !== undefined) {
          connection.send({ RouteInfoResponse: { token, "route_info": info } });
        }
      },
    };
    // Subscribe first, then re-query once: a change committed in between is seen either by
    // the query or by the subscription (plane-0.5.md §7.6).
    const unsubscribe = ctx.bus.subscribe("backend_state", target.backendId, (event) => {
      const parsed = BackendStateEventData.safeParse(event.data);
      if (!parsed.success) return;
      const { state } = parsed.data;
      if (state.status === "ready") waiter.finish(routeInfoOf(target, state.address));
      else if (isTerminatingOrBeyond(state.status)) waiter.finish(null);
    });
    // plane-0.5.md §7.6 (Plane: 30 minutes): give up silently; the proxy's own wait times out
    // (decisions.md §2.10).
    const timer = setTimeout(() => waiter.finish(undefined), ctx.config.routeWaitMs);
    waiters.set(token, waiter);
    try {
      const decision = decideRoute(
        ofCluster(await findRouteTarget(ctx.db, token, routeOptions), cluster),
      );
      if (decision !== "pending") waiter.finish(decision.answer);
    } catch (err) {
      log.error("Route info re-query failed", { err, backend: target.backendId });
      waiter.finish(undefined);
    }
  }

  let warnedPathRoute = false;
  async function handleRouteInfoRequest(token: string) {
    // A wait for this token is already running on this socket; its answer will serve both.
    if (waiters.has(token)) return;
    if (isPathRouteToken(token) && !declaration.pathRouting) {
      // A backend id is public: only a proxy that declared path routing may name one (issue 10).
      // Logged once per socket: a Plane 0.5 proxy forwards every such request it gets.
      if (!warnedPathRoute) {
        warnedPathRoute = true;
        log.warn(
          "Refusing path routes from a proxy that did not declare path routing (further ones " +
            "on this socket are refused silently)",
          { proxy: connection.name, cluster },
        );
      }
      connection.send({ RouteInfoResponse: { token, "route_info": null } });
      return;
    }
    const target = ofCluster(await findRouteTarget(ctx.db, token, routeOptions), cluster);
    const decision = decideRoute(target);
    if (decision !== "pending") {
      connection.send({ RouteInfoResponse: { token, "route_info": decision.answer } });
      return;
    }
    if (target && !connection.signal.aborted) await waitForReady(token, target);
  }

  async function handleCertRequest(
    request: Extract<MessageFromProxy, { CertManagerRequest: unknown }>["CertManagerRequest"],
  ) {
    // plane-0.5.md §10.3: a database error refuses the request rather than dropping it.
    try {
      if (request === "CertLeaseRequest") {
        const accepted = await acquireCertLease(ctx.db, cluster, nodeId);
        connection.send({ CertManagerResponse: { CertLeaseResponse: { accepted } } });
      } else if (request === "ReleaseCertLease") {
        await releaseCertLease(ctx.db, cluster, nodeId);
      } else {
        const accepted = await setCertTxtRecord(
          ctx.db,
          cluster,
          nodeId,
          request.SetTxtRecord.txt_value,
        );
        connection.send({ CertManagerResponse: { SetTxtRecordResponse: { accepted } } });
      }
    } catch (err) {
      log.error("Certificate lease request failed", { err, cluster });
      if (request === "CertLeaseRequest") {
        connection.send({ CertManagerResponse: { CertLeaseResponse: { accepted: false } } });
      } else if (request !== "ReleaseCertLease") {
        connection.send({ CertManagerResponse: { SetTxtRecordResponse: { accepted: false } } });
      }
    }
  }

  return {
    async onMessage(message) {
      if ("RouteInfoRequest" in message) {
        await handleRouteInfoRequest(message.RouteInfoRequest.token);
      } else if ("KeepAlive" in message) {
        const backend = message.KeepAlive;
        if (!(await recordKeepAlive(ctx.db, backend, cluster))) {
          // plane-0.5.md §7.5: unknown or terminated; the proxy stops routing to it.
          log.warn("Keepalive for an unknown or terminated backend", { backend });
          connection.send({ BackendRemoved: { backend } });
        }
      } else {
        await handleCertRequest(message.CertManagerRequest);
      }
    },
    onClose: cleanup,
  };
}
