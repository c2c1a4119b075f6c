/**
 * The proxy's connection to a controller (behaviour doc §1.2, §1.3, §7.6): dial
 * `/ctrl/c/{cluster}/proxy-socket`, handshake, hand every controller message to the proxy,
 * and send its route requests and keepalives. Reconnects forever with backoff (1 s × 1.1,
 * capped at 60 s, reset after a minute up) and every 50–70 minutes to rebalance across
 * controllers (#876). `/ready` is true exactly while a handshaken connection is up.
 * Shaped like the drone's link (`drone/controller_link.ts`), which it may not import.
 */
import {
  Handshake,
  type MessageFromProxy,
  MessageToProxy,
  PLANE_HASH,
  PLANE_VERSION,
} from "../shared/protocol.ts";
import type { Logger } from "../shared/log.ts";

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

export interface ControllerLink {
  /** True while a handshaken connection is up. */
  readonly connected: boolean;
  /** Handshaken connections so far. */
  readonly connections: number;
  /** Sends a message now; false (and nothing sent) while disconnected. */
  send(message: MessageFromProxy): boolean;
  /** Closes the socket and stops reconnecting; resolves once the socket is closed. */
  close(): Promise<void>;
}

/** The proxy socket URL (§1.2): `ws(s)://…/ctrl/c/{cluster}/proxy-socket`, credentials stripped. */
export function proxySocketUrl(controllerUrl: string, cluster: string): {
  url: string;
  bearer: string | null;
} {
  const base = new URL(controllerUrl);
  const bearer = base.username ? decodeURIComponent(base.username) : null;
  base.username = "";
  base.password = "";
  base.protocol = base.protocol === "https:" || base.protocol === "wss:" ? "wss:" : "ws:";
  const path = base.pathname.replace(/\/$/, "");
  base.pathname = `${path}/ctrl/c/${encodeURIComponent(cluster)}/proxy-socket`;
  base.search = "";
  base.hash = "";
  return { url: base.href, bearer };
}

export function startControllerLink(
  options: ControllerLinkOptions,
  handlers: ControllerLinkHandlers,
  deps: { log: Logger },
): ControllerLink {
  const { log } = deps;
  const abort = new AbortController();
  const signal = abort.signal;
  const initial = options.backoffInitialMs ?? 1_000;
  const max = options.backoffMaxMs ?? 60_000;
  let socket: WebSocket | null = null;
  let connected = false;
  let connections = 0;

  function connectOnce(): Promise<void> {
    const { url, bearer } = proxySocketUrl(options.controllerUrl, options.cluster);
    const token = options.secret ?? bearer;
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    // Deno's WebSocket takes request headers in its second argument.
    const ws = new WebSocket(url, { headers } as unknown as string[]);
    socket = ws;
    let rebalance: ReturnType<typeof setTimeout> | undefined;
    return new Promise<void>((resolve, reject) => {
      let handshakeDone = false;
      const onAbort = () => ws.close(1000, "Proxy shutting down");
      signal.addEventListener("abort", onAbort, { once: true });
      ws.onopen = () => {
        ws.send(JSON.stringify({
          version: { version: PLANE_VERSION, "git_hash": PLANE_HASH },
          name: options.name,
        }));
      };
      ws.onerror = () => {};
      ws.onclose = (event) => {
        signal.removeEventListener("abort", onAbort);
        clearTimeout(rebalance);
        connected = false;
        socket = null;
        if (handshakeDone) resolve();
        else reject(new Error(`Socket closed before the handshake (code ${event.code})`));
      };
      ws.onmessage = (event) => {
        // §1.3: only text frames carry messages; unparseable ones are skipped.
        if (typeof event.data !== "string") return;
        let json: unknown;
        try {
          json = JSON.parse(event.data);
        } catch {
          log.warn("Skipping a controller message that is not JSON");
          return;
        }
        if (!handshakeDone) {
          const hs = Handshake.safeParse(json);
          if (!hs.success) return void ws.close(1008, "Invalid handshake");
          handshakeDone = true;
          connected = true;
          connections++;
          if (hs.data.version.version !== PLANE_VERSION) {
            log.warn("Controller speaks another version", { controller: hs.data.version });
          }
          log.info("Connected to controller", { controller: hs.data.name });
          const min = options.rebalanceMinMs ?? 50 * 60_000;
          const max = options.rebalanceMaxMs ?? 70 * 60_000;
          rebalance = setTimeout(
            () => ws.close(1000, "Rebalancing"),
            min + Math.random() * (max - min),
          );
          handlers.onConnected();
          return;
        }
        const parsed = MessageToProxy.safeParse(json);
        if (!parsed.success) {
          log.warn("Skipping an unparseable controller message", { issue: parsed.error.issues[0] });
          return;
        }
        handlers.onMessage(parsed.data);
      };
    });
  }

  const done = (async () => {
    let delay = initial;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        await connectOnce();
        if (!signal.aborted) log.warn("Controller connection closed; reconnecting");
      } catch (err) {
        if (!signal.aborted) log.warn("Controller connection failed", { err: String(err) });
      }
      if (signal.aborted) break;
      // §1.3: the backoff resets once a connection stayed up for 60 s.
      if (Date.now() - started > 60_000) delay = initial;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, delay);
        function done() {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        }
        signal.addEventListener("abort", done, { once: true });
      });
      delay = Math.min(Math.round(delay * 1.1), max);
    }
  })();

  return {
    get connected() {
      return connected;
    },
    get connections() {
      return connections;
    },
    send(message) {
      if (!connected || socket === null || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(message));
      return true;
    },
    async close() {
      abort.abort();
      await done;
    },
  };
}
