/**
 * `GET /metrics` (issue 15, decisions.md §3.7): Prometheus text of this controller's
 * counters and the cluster's state. Behind the API key like `/ctrl/*` unless the controller runs
 * with `--metrics-public` (`app.ts`).
 */
import type { ControllerContext } from "../context.ts";
import type { Params, RequestInfo } from "../router.ts";
import { clusterMetrics } from "../db/mod.ts";
import { METRICS_CONTENT_TYPE } from "../../shared/mod.ts";

export async function handleMetrics(
  ctx: ControllerContext,
  _req: Request,
  _params: Params,
  _info: RequestInfo,
): Promise<Response> {
  const rows = await clusterMetrics(ctx.db);
  const text = ctx.prometheus.render(rows, {
    drones: ctx.sessions.drones.size,
    proxies: ctx.sessions.proxies.size,
  });
  return new Response(text, { headers: { "content-type": METRICS_CONTENT_TYPE } });
}
