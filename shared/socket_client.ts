/**
 * The client side of the typed WebSocket framework (plane-0.5.md §1.2, §1.3), shared by the
 * drone's and the proxy's links to a controller: dial `/ctrl/c/{cluster}/{kind}`, send the
 * handshake, validate every controller message with the given schema (unparseable ones are
 * skipped), reconnect forever with backoff (1 s × 1.1, capped at 60 s, reset after a minute up)
 * and every 50–70 minutes to rebalance across controllers (#876). Uses only web APIs
 * (`WebSocket`, timers), so it runs wherever the socket's peers do.
 */
import type { z } from "zod";
import { Handshake, PLANE_HASH, PLANE_VERSION } from "./protocol.ts";
import type { Logger } from "./log.ts";
import { Backoff } from "./backoff.ts";
import { delay } from "./delay.ts";

export type SocketKind = "drone-socket" | "proxy-socket" | "dns-socket";

/**
 * `ws(s)://…/ctrl/c/{cluster}/{kind}[?search]` (`/ctrl/dns-socket` for a DNS server, which
 * serves no one cluster, plane-0.5.md §10.2), with a bearer secret riding as the URL's username
 * taken out (plane-0.5.md §1.2: it is sent as `Authorization: Bearer`, never in the URL).
 */
export function controllerSocketUrl(
  controllerUrl: string,
  cluster: string | null,
  kind: SocketKind,
  search = "",
): { url: string; bearer: string | null } {
  const base = new URL(controllerUrl);
  const bearer = base.username ? decodeURIComponent(base.username) : null;
  base.username = "";
  base.password = "";
  base.protocol = base.protocol === "https:" || base.protocol === "wss:" ? "wss:" : "ws:";
  const path = base.pathname.replace(/\/$/, "");
  base.pathname = cluster === null
    ? `${path}/ctrl/${kind}`
    : `${path}/ctrl/c/${encodeURIComponent(cluster)}/${kind}`;
  base.search = search;
  base.hash = "";
  return { url: base.href, bearer };
}

export interface SocketClientOptions<In> {
  controllerUrl: string;
  /** Null for the DNS server's socket (`/ctrl/dns-socket`). */
  cluster: string | null;
  kind: SocketKind;
  /** Query string for the socket URL (`?pool=…` for drones), or "". */
  search?: string | undefined;
  /** This node's name (`dr-…`, `px-…`, `ns-…`), sent in the handshake. */
  name: string;
  /**
   * The cluster secret (decisions.md §3.1; sockets take no API key); wins over a username in the
   * URL.
   */
  secret?: string | undefined;
  /** Schema of the controller's messages. */
  schema: z.ZodType<In>;
  backoffInitialMs?: number | undefined;
  backoffMaxMs?: number | undefined;
  rebalanceMinMs?: number | undefined;
  rebalanceMaxMs?: number | undefined;
}

export interface SocketClientHandlers<In> {
  /** A connection finished its handshake (first time or again). */
  onConnected(): void;
  /** That connection ended (before the client reconnects). */
  onDisconnected?(): void;
  /** A message from the controller, already validated. */
  onMessage(message: In): void;
}

export interface SocketClient<Out> {
  /** True while a handshaken connection is up. */
  readonly connected: boolean;
  /** Handshaken connections so far. */
  readonly connections: number;
  /** Sends a message now; false (and nothing sent) while disconnected. */
  send(message: Out): boolean;
  /** Closes the socket and stops reconnecting; resolves once the socket is closed. */
  close(): Promise<void>;
}

export function startSocketClient<In, Out>(
  options: SocketClientOptions<In>,
  handlers: SocketClientHandlers<In>,
  deps: { log: Logger },
): SocketClient<Out> {
  const { log } = deps;
  const abort = new AbortController();
  const signal = abort.signal;
  let socket: WebSocket | null = null;
  let connected = false;
  let connections = 0;

  function connectOnce(): Promise<void> {
    const { url, bearer } = controllerSocketUrl(
      options.controllerUrl,
      options.cluster,
      options.kind,
      options.search ?? "",
    );
    const token = options.secret ?? bearer;
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    // Deno's WebSocket takes request headers in its second argument.
    const ws = new WebSocket(url, { headers } as unknown as string[]);
    socket = ws;
    let rebalance: ReturnType<typeof setTimeout> | undefined;
    return new Promise<void>((resolve, reject) => {
      let handshakeDone = false;
      const onAbort = () => ws.close(1000, "Shutting down");
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
        const wasConnected = connected;
        connected = false;
        socket = null;
        if (wasConnected) handlers.onDisconnected?.();
        if (handshakeDone) resolve();
        // A refusal (a bound drone name, bad credentials) says why in the close reason; the
        // loop logs it and retries with backoff.
        else {
          reject(
            new Error(
              `Socket closed before the handshake (code ${event.code}` +
                `${event.reason ? `: ${event.reason}` : ""})`,
            ),
          );
        }
      };
      ws.onmessage = (event) => {
        // plane-0.5.md §1.3: only text frames carry messages; unparseable ones are skipped.
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
        const parsed = options.schema.safeParse(json);
        if (!parsed.success) {
          log.warn("Skipping an unparseable controller message", { issue: parsed.error.issues[0] });
          return;
        }
        handlers.onMessage(parsed.data);
      };
    });
  }

  const done = (async () => {
    const backoff = new Backoff({
      initialMs: options.backoffInitialMs ?? 1_000,
      maxMs: options.backoffMaxMs ?? 60_000,
      factor: 1.1,
    });
    while (!signal.aborted) {
      const started = Date.now();
      try {
        await connectOnce();
        if (!signal.aborted) log.warn("Controller connection closed; reconnecting");
      } catch (err) {
        if (!signal.aborted) log.warn("Controller connection failed", { err: String(err) });
      }
      if (signal.aborted) break;
      // plane-0.5.md §1.3: the backoff resets once a connection stayed up for 60 s.
      if (Date.now() - started > 60_000) backoff.reset();
      await delay(backoff.next(), { signal });
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
