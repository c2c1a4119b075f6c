/**
 * The controller's fetch handler: the route table of plane-0.5.md §2.11 plus the extensions
 * of decisions.md §3, authentication for `/ctrl/*`, CORS for `/pub/*`, and the one place where
 * errors become responses.
 */
import type { ControllerContext } from "./context.ts";
import { HttpError, jsonResponse, toErrorResponse } from "./http_error.ts";
import { type AuthScope, checkBearer, checkForwardAuth } from "./auth.ts";
import { type Params, Router } from "./router.ts";
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
import { isJamsocketPath, JAMSOCKET_ROUTES, jamsocketFallback } from "./jamsocket/routes.ts";

export interface RequestInfo {
  /** The peer's IP address as seen by the listener ("0.0.0.0" when unknown). */
  remoteIp: string;
}

export type Handler = (
  ctx: ControllerContext,
  req: Request,
  params: Params,
  info: RequestInfo,
) => Promise<Response> | Response;

interface RouteEntry {
  /** "metrics": the API key unless the controller runs with `--metrics-public`. */
  auth: AuthScope | "public" | "metrics";
  run: Handler;
}

function route(method: string, pattern: string, auth: RouteEntry["auth"], run: Handler) {
  return { method, pattern, handler: { auth, run } };
}

const ROUTES = new Router<RouteEntry>([
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
  // The Jamsocket-compatible API: each handler authenticates itself and answers Jamsocket's
  // error envelope, so the table sees them as public.
  ...JAMSOCKET_ROUTES.map((r) => route(r.method, r.pattern, "public", r.run)),
]);

/** plane-0.5.md §2.9: any origin, GET and POST, `Content-Type`. */
function withCors(response: Response): Response {
  try {
    response.headers.set("access-control-allow-origin", "*");
    response.headers.set("access-control-allow-methods", "GET, POST");
    response.headers.set("access-control-allow-headers", "Content-Type");
  } catch {
    // Immutable headers (a WebSocket upgrade response): nothing to add.
  }
  return response;
}

export function createApp(ctx: ControllerContext) {
  return async function fetch(req: Request, info?: RequestInfo): Promise<Response> {
    const url = new URL(req.url);
    const isPublic = url.pathname.startsWith("/pub/");
    try {
      if (isPublic && req.method === "OPTIONS") {
        return withCors(new Response(null, { status: 204 }));
      }
      const match = ROUTES.match(req.method, url.pathname);
      if (match.kind === "not_found") {
        throw new HttpError(404, "NotFound", `No route for ${req.method} ${url.pathname}`);
      }
      if (match.kind === "method_not_allowed") {
        throw new HttpError(
          405,
          "MethodNotAllowed",
          `Method ${req.method} is not allowed on ${url.pathname}: use ${match.allowed.join(", ")}`,
        );
      }
      const { run } = match.handler;
      const auth = match.handler.auth === "metrics"
        ? (ctx.config.metricsPublic ? "public" : "api")
        : match.handler.auth;
      if (auth !== "public") {
        checkBearer(ctx.config, req, auth);
        if (ctx.config.forwardAuth) await checkForwardAuth(ctx.config.forwardAuth, req, ctx.signal);
      }
      const response = await run(ctx, req, match.params, info ?? { remoteIp: "0.0.0.0" });
      return isPublic ? withCors(response) : response;
    } catch (err) {
      // Jamsocket's clients parse only their own envelope (jamsocket-api.md §2.3).
      if (isJamsocketPath(url.pathname)) return jamsocketFallback(ctx, req, err);
      const response = toErrorResponse(err, ctx.log.child("http"), {
        method: req.method,
        path: url.pathname,
      });
      return isPublic ? withCors(response) : response;
    }
  };
}

export { jsonResponse };
