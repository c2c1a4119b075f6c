/** `GET /ctrl/dns-socket` (plane-0.5.md §2.8, §10.2): a `plane dns` server's socket. */
import type { ControllerContext } from "../context.ts";
import type { Params, RequestInfo } from "../router.ts";
import { acceptSocket } from "../socket_session.ts";
import { dnsRole } from "../dns_connection.ts";

export function handleDnsSocket(
  ctx: ControllerContext,
  req: Request,
  _params: Params,
  info: RequestInfo,
): Response {
  // A DNS server answers for every cluster: its node has no cluster (plane-0.5.md §8.2).
  return acceptSocket(ctx, req, null, info.remoteIp, dnsRole(ctx));
}
