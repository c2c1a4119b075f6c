/**
 * Test fixture: a fake controller speaking only the proxy socket (plane-0.5.md §1.3, §7.6),
 * as Plane's own proxy tests use. It answers `RouteInfoRequest`s from a table the test fills
 * (a token may be left pending and answered later), records every message, and can drop its
 * connections to exercise reconnects.
 */
import {
  type MessageFromProxy,
  type MessageToProxy,
  PLANE_HASH,
  PLANE_VERSION,
  type RouteInfo,
} from "../../shared/protocol.ts";

export interface FakeController extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** token → answer; "pending" (or a missing token with `unknownPending`) is not answered. */
  routes: Map<string, RouteInfo | null | "pending">;
  /** Leave unknown tokens unanswered instead of answering null. */
  unknownPending: boolean;
  /** Answer socket upgrades with 503 while true (a controller that is down). */
  refuse: boolean;
  /** Socket upgrade attempts answered 503 because of `refuse`. */
  readonly refused: number;
  /** Every message received after a handshake, in order, across connections. */
  readonly received: MessageFromProxy[];
  /** Handshake names and Authorization headers of each accepted connection. */
  readonly peers: { name: string; authorization: string | null; cluster: string }[];
  /** Sockets currently open and handshaken. */
  readonly open: number;
  /** Sends a message on every open socket. */
  send(message: MessageToProxy): void;
  /** Resolves with the first message received from index `since` on matching `match`. */
  next<T extends MessageFromProxy>(
    match: (m: MessageFromProxy) => boolean,
    options?: { since?: number; timeoutMs?: number },
  ): Promise<T>;
  /** Closes every open socket (the proxy should reconnect). */
  dropConnections(): void;
  close(): Promise<void>;
}

export function routeRequests(received: readonly MessageFromProxy[]): string[] {
  return received.flatMap((m) => "RouteInfoRequest" in m ? [m.RouteInfoRequest.token] : []);
}

export function keepAlives(received: readonly MessageFromProxy[]): string[] {
  return received.flatMap((m) => "KeepAlive" in m ? [m.KeepAlive] : []);
}

export function startFakeController(): FakeController {
  const sockets = new Set<WebSocket>();
  const received: MessageFromProxy[] = [];
  const waiters = new Set<() => void>();
  const peers: FakeController["peers"] = [];
  let refused = 0;
  const notify = () => {
    for (const w of waiters) w();
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const match = /^\/ctrl\/c\/([^/]+)\/proxy-socket$/.exec(new URL(req.url).pathname);
    if (!match) return new Response(null, { status: 404 });
    if (self.refuse) {
      refused++;
      return new Response(null, { status: 503 });
    }
    // Read first: the request's headers are gone once the upgrade starts.
    const authorization = req.headers.get("authorization");
    const cluster = decodeURIComponent(match[1]!);
    const { socket, response } = Deno.upgradeWebSocket(req);
    let handshaken = false;
    socket.onmessage = (event) => {
      const json = JSON.parse(String(event.data));
      if (!handshaken) {
        handshaken = true;
        peers.push({ name: json.name, authorization, cluster });
        sockets.add(socket);
        socket.send(JSON.stringify({
          version: { version: PLANE_VERSION, "git_hash": PLANE_HASH },
          name: "co-fakecontroller",
        }));
        return;
      }
      const message = json as MessageFromProxy;
      received.push(message);
      if ("RouteInfoRequest" in message) {
        const token = message.RouteInfoRequest.token;
        const answer = self.routes.get(token);
        const pending = answer === "pending" || (answer === undefined && self.unknownPending);
        if (!pending) {
          socket.send(JSON.stringify({
            RouteInfoResponse: { token, "route_info": answer ?? null },
          }));
        }
      }
      notify();
    };
    socket.onclose = () => {
      sockets.delete(socket);
      notify();
    };
    return response;
  });

  const self: FakeController = {
    url: `http://127.0.0.1:${server.addr.port}`,
    routes: new Map(),
    unknownPending: false,
    refuse: false,
    received,
    peers,
    get refused() {
      return refused;
    },
    get open() {
      return sockets.size;
    },
    send(message) {
      for (const socket of sockets) socket.send(JSON.stringify(message));
    },
    next<T extends MessageFromProxy>(
      match: (m: MessageFromProxy) => boolean,
      { since = 0, timeoutMs = 10_000 } = {},
    ) {
      return new Promise<T>((resolve, reject) => {
        let index = since;
        const check = () => {
          for (; index < received.length; index++) {
            if (match(received[index]!)) {
              cleanup();
              resolve(received[index] as T);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`Fake controller: no matching message within ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    dropConnections() {
      for (const socket of sockets) socket.close(1001, "Dropped by the test");
    },
    async close() {
      self.dropConnections();
      await server.shutdown();
    },
    [Symbol.asyncDispose]: () => self.close(),
  };
  return self;
}
