/**
 * The proxy's connection to a controller (behaviour doc §1.2, §1.3, §7.6): the shared socket
 * client on `/ctrl/c/{cluster}/proxy-socket`, handing every controller message to the proxy and
 * sending its route requests and keepalives. `/ready` is true exactly while a handshaken
 * connection is up.
 */
import { MessageToProxy } from "../shared/protocol.ts";
import type { MessageFromProxy } from "../shared/protocol.ts";
import type { Logger } from "../shared/log.ts";
import {
  controllerSocketUrl,
  type SocketClient,
  startSocketClient,
} from "../shared/socket_client.ts";

export interface ControllerLinkOptions {
  controllerUrl: string;
  cluster: string;
  /** The proxy's node name, `px-…`. */
  name: string;
  /** Cluster secret or API key, sent as `Authorization: Bearer` (decisions.md ext. 1). */
  secret?: string | undefined;
  backoffInitialMs?: number | undefined;
  backoffMaxMs?: number | undefined;
  /** Range of the periodic reconnect; Plane uses 50–70 min. */
  rebalanceMinMs?: number | undefined;
  rebalanceMaxMs?: number | undefined;
}

export interface ControllerLinkHandlers {
  /** A connection finished its handshake (first time or again). */
  onConnected(): void;
  /** A message from the controller, already validated. */
  onMessage(message: MessageToProxy): void;
}

export type ControllerLink = SocketClient<MessageFromProxy>;

/** The proxy socket URL (§1.2): `ws(s)://…/ctrl/c/{cluster}/proxy-socket`, credentials stripped. */
export function proxySocketUrl(controllerUrl: string, cluster: string) {
  return controllerSocketUrl(controllerUrl, cluster, "proxy-socket");
}

export function startControllerLink(
  options: ControllerLinkOptions,
  handlers: ControllerLinkHandlers,
  deps: { log: Logger },
): ControllerLink {
  return startSocketClient<MessageToProxy, MessageFromProxy>(
    { ...options, kind: "proxy-socket", schema: MessageToProxy },
    handlers,
    deps,
  );
}
