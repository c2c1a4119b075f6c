/** `GET /ctrl/c/{cluster}/drone-socket[?pool=…]` (plane-0.5.md §2.8, §6.1). */
import type { ControllerContext } from "../context.ts";
import { HttpError } from "../http_error.ts";
import type { Params, RequestInfo } from "../router.ts";
import { acceptSocket } from "../socket_session.ts";
import { droneRole } from "../drone_connection.ts";
import { clusterParam } from "./drones.ts";

/** `drone.pool` is varchar(255). */
const MAX_POOL_LENGTH = 255;

export function handleDroneSocket(
  ctx: ControllerContext,
  req: Request,
  params: Params,
  info: RequestInfo,
): Response {
  const cluster = clusterParam(params);
  const pool = new URL(req.url).searchParams.get("pool") ?? "";
  if (pool.length > MAX_POOL_LENGTH) {
    throw new HttpError(
      400,
      "InvalidRequest",
      `Invalid pool: must be at most ${MAX_POOL_LENGTH} characters (got ${pool.length})`,
    );
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(pool)) {
    throw new HttpError(400, "InvalidRequest", "Invalid pool: must not contain control characters");
  }
  return acceptSocket(ctx, req, cluster, info.remoteIp, droneRole(ctx, pool));
}
