/**
 * The proxy's connection to a controller (plane-0.5.md §1.2, §1.3, §7.6): the shared socket
 * client on `/ctrl/c/{cluster}/proxy-socket`, handing every controller message to the proxy and
 * sending its route requests and keepalives. `/ready` is true exactly while a handshaken
 * connection is up.
 */
import {
  controllerSocketUrl,
  type Logger,
  type MessageFromProxy,
  MessageToProxy,
  type SocketClient,
  startSocketClient,
} from "../shared/mod.ts";

export interface ControllerLinkOptions {
  controllerUrl: string;
  cluster: string;
  /** The proxy's node name, `px-…`. */
  name: string;
  /** Cluster secret or API key, sent as `Authorization: Bearer` (decisions.md §3.1). */
  secret?: string | undefined;
  /**
   * Declares path routing (`?path_routing=true` on the socket URL, as a drone's pool rides on
   * its own): the controller resolves `_plane_backend=<id>` only for a socket that declared it,
   * and accepts the declaration only when started with `--allow-path-routing` (issue 10).
   */
  pathRouting?: boolean | undefined;
  backoffInitialMs?: number | undefined;
  backoffMaxMs?: number | undefined;
  /** Range of the periodic reconnect; Plane uses 50–70 min. */
  rebalanceMinMs?: number | undefined;
  rebalanceMaxMs?: number | undefined;
}

export interface ControllerLinkHandlers {
  /** A connection finished its handshake (first time or again). */
  onConnected(): void;
  /** That connection ended (before the link reconnects). */
  onDisconnected?(): void;
  /** A message from the controller, already validated. */
  onMessage(message: MessageToProxy): void;
}

export type ControllerLink = SocketClient<MessageFromProxy>;

/** The query that declares path routing on the proxy socket URL. */
export const PATH_ROUTING_QUERY = "?path_routing=true";

/**
 * The proxy socket URL (plane-0.5.md §1.2): `ws(s)://…/ctrl/c/{cluster}/proxy-socket`, credentials
 * stripped, with `?path_routing=true` for a path-routing proxy.
 */
export function proxySocketUrl(controllerUrl: string, cluster: string, pathRouting = false) {
  return controllerSocketUrl(
    controllerUrl,
    cluster,
    "proxy-socket",
    pathRouting ? PATH_ROUTING_QUERY : "",
  );
}

export function startControllerLink(
  options: ControllerLinkOptions,
  handlers: ControllerLinkHandlers,
  deps: { log: Logger },
): ControllerLink {
  const { pathRouting, ...rest } = options;
  return startSocketClient<MessageToProxy, MessageFromProxy>(
    {
      ...rest,
      kind: "proxy-socket",
      search: pathRouting ? PATH_ROUTING_QUERY : "",
      schema: MessageToProxy,
    },
    handlers,
    deps,
  );
}
