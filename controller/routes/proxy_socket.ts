/** `GET /ctrl/c/{cluster}/proxy-socket` (behaviour doc §2.8, §7.6). */
import type { ControllerContext } from "../context.ts";
import { HttpError } from "../http_error.ts";
import type { Params } from "../router.ts";
import type { RequestInfo } from "../app.ts";
import { clusterNameError } from "../../shared/cluster.ts";
import { acceptSocket } from "../socket_session.ts";
import { proxyRole } from "../proxy_connection.ts";

export function handleProxySocket(
  ctx: ControllerContext,
  req: Request,
  params: Params,
  info: RequestInfo,
): Response {
  const cluster = params.cluster ?? "";
  // §2.8: the cluster must be host[:port], checked before the upgrade.
  const error = clusterNameError(cluster);
  if (error) {
    throw new HttpError(400, "InvalidClusterName", `Invalid cluster name "${cluster}": ${error}`);
  }
  return acceptSocket(ctx, req, cluster, info.remoteIp, proxyRole(ctx));
}
