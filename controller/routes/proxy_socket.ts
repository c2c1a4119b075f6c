/** `GET /ctrl/c/{cluster}/proxy-socket[?path_routing=true]` (plane-0.5.md §2.8, §7.6). */
import type { ControllerContext } from "../context.ts";
import { HttpError } from "../http_error.ts";
import type { Params, RequestInfo } from "../router.ts";
import { clusterNameError } from "../../shared/mod.ts";
import { acceptSocket } from "../socket_session.ts";
import { proxyRole } from "../proxy_connection.ts";

export function handleProxySocket(
  ctx: ControllerContext,
  req: Request,
  params: Params,
  info: RequestInfo,
): Response {
  const cluster = params.cluster ?? "";
  // plane-0.5.md §2.8: the cluster must be host[:port], checked before the upgrade.
  const error = clusterNameError(cluster);
  if (error) {
    throw new HttpError(400, "InvalidClusterName", `Invalid cluster name "${cluster}": ${error}`);
  }
  const pathRouting = pathRoutingParam(new URL(req.url).searchParams.get("path_routing"));
  if (pathRouting && !ctx.config.allowPathRouting) {
    // Issue 10 finding 1: path routing makes a backend id (public) enough to reach a backend,
    // so a controller serves it only when its operator said so.
    throw new HttpError(
      403,
      "Forbidden",
      `Cannot accept a path-routing proxy for cluster "${cluster}": this controller does not ` +
        "allow path routing: start it with --allow-path-routing (PLANE_ALLOW_PATH_ROUTING=true; " +
        "local development only), or start the proxy without --path-routing",
    );
  }
  return acceptSocket(ctx, req, cluster, info.remoteIp, proxyRole(ctx, { pathRouting }));
}

/** `?path_routing=`: absent or `false` is off, `true` is on; anything else is refused. */
function pathRoutingParam(value: string | null): boolean {
  if (value === null || value === "false") return false;
  if (value === "true") return true;
  throw new HttpError(
    400,
    "InvalidRequest",
    `Invalid path_routing query parameter "${value.slice(0, 20)}": must be true or false`,
  );
}
