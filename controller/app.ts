/**
 * The controller's fetch handler: the route table of plane-0.5.md §2.11 plus the extensions
 * of decisions.md §3, authentication for `/ctrl/*`, CORS for `/pub/*`, and the one place where
 * errors become responses.
 */
import type { ControllerContext } from "./context.ts";
import { type ErrorFormat, HttpError, toErrorResponse } from "./http_error.ts";
import { checkBearer, checkForwardAuth } from "./auth.ts";
import {
  type Handler,
  type RequestInfo,
  type RouteAuth,
  type RouteEntry,
  Router,
} from "./router.ts";
import { type CorsPolicy, preflight, withCors } from "./cors.ts";
import { handleHealth, handleStatus } from "./routes/health.ts";
import { handleConnect } from "./routes/connect.ts";
import { handleDroneSocket } from "./routes/drone_socket.ts";
import { handleProxySocket } from "./routes/proxy_socket.ts";
import { handleDnsSocket } from "./routes/dns_socket.ts";
import { handleClusterState, handleDrain, handleUndrain } from "./routes/drones.ts";
import { handleTerminate } from "./routes/terminate.ts";
import { handleRevoke } from "./routes/revoke.ts";
import { handleBackendStatus, handleStatusStream } from "./routes/backend_status.ts";
import { handleBackendInfo, handleListBackends } from "./routes/backends.ts";
import { handleBackendLogs } from "./routes/logs.ts";
import {
  handleBackendUsage,
  handleClusters,
  handleClusterStatusStream,
  handleDroneList,
} from "./routes/dashboard_data.ts";
import { serveDashboard } from "./dashboard/serve_dashboard.ts";
import { handleMetrics } from "./routes/metrics.ts";
import { isJamsocketPath, JAMSOCKET_ROUTES } from "./jamsocket/routes.ts";

/** A Plane route: errors as `{id, kind, message}`, CORS on `/pub/*` only (plane-0.5.md §2.9). */
function route(method: string, pattern: string, auth: RouteAuth, run: Handler): RouteEntry {
  const cors = pattern.startsWith("/pub/") ? "plane" : "none";
  return { method, pattern, auth, errors: "plane", cors, run };
}

/**
 * Every route the controller serves, each declaring what `createApp` applies before and after
 * its handler: who may call it, how its errors look, and its CORS. No handler authenticates.
 */
export const ROUTE_TABLE: readonly RouteEntry[] = [
  route("POST", "/ctrl/connect", "api", handleConnect),
  route("GET", "/ctrl/status", "api", handleStatus),
  route("GET", "/ctrl/c/:cluster/state", "api", handleClusterState),
  route("GET", "/ctrl/c/:cluster/drone-socket", "socket", handleDroneSocket),
  route("GET", "/ctrl/c/:cluster/proxy-socket", "socket", handleProxySocket),
  route("GET", "/ctrl/dns-socket", "socket", handleDnsSocket),
  route("POST", "/ctrl/c/:cluster/d/:drone/drain", "api", handleDrain),
  route("POST", "/ctrl/c/:cluster/d/:drone/undrain", "api", handleUndrain),
  route("GET", "/ctrl/c/:cluster/backends", "api", handleListBackends),
  // The dashboard's reads (decisions.md §3.10).
  route("GET", "/ctrl/clusters", "api", handleClusters),
  route("GET", "/ctrl/c/:cluster/drones", "api", handleDroneList),
  route("GET", "/ctrl/c/:cluster/status-stream", "api", handleClusterStatusStream),
  route("GET", "/ctrl/b/:backend/usage", "api", handleBackendUsage),
  route("POST", "/ctrl/b/revoke", "api", handleRevoke),
  // Plane's own client posts here (plane-0.5.md §2.4); both paths work.
  route("POST", "/ctrl/revoke", "api", handleRevoke),
  route("GET", "/ctrl/b/:backend", "api", handleBackendInfo),
  route("GET", "/ctrl/b/:backend/logs", "api", handleBackendLogs),
  route(
    "POST",
    "/ctrl/b/:backend/soft-terminate",
    "api",
    (c, r, p, i) => handleTerminate(c, r, p, i, "soft"),
  ),
  route(
    "POST",
    "/ctrl/b/:backend/hard-terminate",
    "api",
    (c, r, p, i) => handleTerminate(c, r, p, i, "hard"),
  ),
  route("GET", "/metrics", "metrics", handleMetrics),
  route("GET", "/pub/health", "public", handleHealth),
  // The dashboard's files hold no data: public, like /pub (its API calls are authenticated).
  route("GET", "/dashboard", "public", (_c, req) => serveDashboard("page", req)),
  route("GET", "/dashboard/", "public", (_c, req) => serveDashboard("page", req)),
  route("GET", "/dashboard/app.js", "public", (_c, req) => serveDashboard("script", req)),
  route("GET", "/dashboard/app.css", "public", (_c, req) => serveDashboard("style", req)),
  route("GET", "/pub/b/:backend/status", "public", handleBackendStatus),
  route("GET", "/pub/b/:backend/status-stream", "public", handleStatusStream),
  // The Jamsocket-compatible API: Jamsocket's error envelope and CORS on every answer.
  ...JAMSOCKET_ROUTES,
];

const ROUTES = new Router(
  ROUTE_TABLE.map((e) => ({ method: e.method, pattern: e.pattern, handler: e })),
);

/** How a request answers when no route entry says: a path no route serves, or a bad parameter. */
export interface Edge {
  errors: ErrorFormat;
  cors: CorsPolicy;
}

/**
 * The edge of a path by its family: Jamsocket's paths answer in its envelope with its CORS
 * (its clients parse only their own envelope, jamsocket-api.md §2.3), `/pub/*` with Plane's
 * CORS, everything else Plane's errors without CORS.
 */
export function edgeOfPath(pathname: string): Edge {
  if (isJamsocketPath(pathname)) return { errors: "jamsocket", cors: "jamsocket" };
  if (pathname.startsWith("/pub/")) return { errors: "plane", cors: "plane" };
  return { errors: "plane", cors: "none" };
}

/** Checks `auth` for `req`; throws a 401 `HttpError` (502 when forward auth is unreachable). */
async function authenticate(ctx: ControllerContext, req: Request, auth: RouteAuth) {
  const scope = auth === "metrics" ? (ctx.config.metricsPublic ? "public" : "api") : auth;
  if (scope === "public") return;
  checkBearer(ctx.config, req, scope);
  if (ctx.config.forwardAuth) await checkForwardAuth(ctx.config.forwardAuth, req, ctx.signal);
}

export function createApp(ctx: ControllerContext) {
  return async function fetch(req: Request, info?: RequestInfo): Promise<Response> {
    const url = new URL(req.url);
    let edge: Edge = edgeOfPath(url.pathname);
    try {
      // Preflights are answered wherever the path's answers carry CORS, before auth
      // (plane-0.5.md §2.9).
      if (req.method === "OPTIONS" && edge.cors !== "none") return preflight(edge.cors);
      const match = ROUTES.match(req.method, url.pathname);
      if (match.kind === "not_found") {
        throw new HttpError(404, "NotFound", `No route for ${req.method} ${url.pathname}`);
      }
      if (match.kind === "method_not_allowed") {
        edge = match.handlers[0]!;
        // Jamsocket's CORS policy advertises OPTIONS (`cors.ts`); Plane's does not.
        const allowed = edge.cors === "jamsocket" ? [...match.allowed, "OPTIONS"] : match.allowed;
        throw new HttpError(
          405,
          "MethodNotAllowed",
          `Method ${req.method} is not allowed on ${url.pathname}: use ${allowed.join(", ")}`,
        );
      }
      const entry = match.handler;
      edge = entry;
      await authenticate(ctx, req, entry.auth);
      const response = await entry.run(ctx, req, match.params, info ?? { remoteIp: "0.0.0.0" });
      return withCors(response, entry.cors);
    } catch (err) {
      const response = toErrorResponse(err, edge.errors, ctx.log.child(LOGGER[edge.errors]), {
        method: req.method,
        path: url.pathname,
      });
      return withCors(response, edge.cors);
    }
  };
}

/** The logger name of each error format's lines. */
const LOGGER: Record<ErrorFormat, string> = { plane: "http", jamsocket: "jamsocket" };
