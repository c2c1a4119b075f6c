/**
 * Server side of the typed WebSocket framework (plane-0.5.md §1.3) for drones and proxies:
 * upgrade, read the peer's handshake, register the node, answer with our handshake, then hand
 * each parsed message to the role's handler strictly in order (plane-0.5.md §6.1: one peer's
 * messages are processed sequentially). Unparseable messages are logged and skipped; the node is
 * marked offline when the socket ends. A busy peer is never closed for queueing messages (issue 11,
 * finding 1; Plane closes past 1,024): only a flooding or stuck one (`inbound_queue.ts`).
 *
 * A drone name is bound to its live connection (issue 10, finding 3): a second socket for a
 * name whose connection still heartbeats is closed before our handshake (1008, with the reason)
 * and writes nothing, so it neither receives that drone's actions nor marks it offline when it
 * goes. The drone client logs the reason and retries with backoff.
 */
import type { z } from "zod";
import type { ControllerContext } from "./context.ts";
import { HttpError } from "./http_error.ts";
import { Handshake, type Logger, nameError, PLANE_HASH, PLANE_VERSION } from "../shared/mod.ts";
import { markNodeOffline, type NodeKind, registerNode } from "./db/mod.ts";
import { InboundQueue } from "./inbound_queue.ts";

/** How often a connection checks that its inbound queue still moves (`inbound_queue.ts`). */
const STALL_CHECK_MS = 5_000;
/** Outbound bytes buffered for a peer that does not read before it is disconnected. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** The peer must send its handshake within this time. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** A socket message larger than this is refused (Plane bounds nothing; we do). */
export const MAX_SOCKET_MESSAGE_BYTES = 1024 * 1024;

export interface SocketConnection<Out> {
  readonly nodeId: number;
  /** Identifies this registration of the node (a newer one supersedes it). */
  readonly connectionStart: Date;
  readonly name: string;
  /**
   * The cluster from the socket path; "" for a DNS server, which serves none (plane-0.5.md §8.2).
   */
  readonly cluster: string;
  readonly log: Logger;
  /** Aborted when the socket closes. */
  readonly signal: AbortSignal;
  /** Sends one message; returns false (and closes the socket) if the peer is not reading. */
  send(message: Out): boolean;
  close(code?: number, reason?: string): void;
}

export interface ConnectionHandler<In> {
  onMessage(message: In): Promise<void>;
  /**
   * Takes a message at arrival, ahead of the ordered queue, when it commutes with everything
   * else (a drone's action ack); returns false to queue it for `onMessage` as usual.
   */
  takeUnordered?(message: In): boolean;
  onClose?(): Promise<void> | void;
}

export interface SocketRole<In, Out> {
  kind: NodeKind;
  prefix: "dr-" | "px-" | "ns-";
  /** Refuse a second live connection for the same name (drones; see the module doc). */
  bindName?: boolean;
  schema: z.ZodType<In>;
  open(connection: SocketConnection<Out>): Promise<ConnectionHandler<In>>;
}

/** The session's bounds; tests pass small ones, the routes take the defaults above. */
export interface SocketLimits {
  handshakeTimeoutMs?: number;
  stallCheckMs?: number;
  /** The inbound queue's bounds (`inbound_queue.ts`). */
  queue?: { maxBytes?: number; stallMs?: number };
}
const SOCKET_LOG_NAMES: Record<NodeKind, string> = {
  Drone: "drone_socket",
  Proxy: "proxy_socket",
  AcmeDnsServer: "dns_socket",
};

export function acceptSocket<In, Out>(
  ctx: ControllerContext,
  req: Request,
  /** Null for a DNS server's socket: its node row has a NULL cluster (plane-0.5.md §8.2, §10.2). */
  cluster: string | null,
  remoteIp: string,
  role: SocketRole<In, Out>,
  limits: SocketLimits = {},
): Response {
  if ((req.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
    throw new HttpError(400, "InvalidRequest", "Expected a WebSocket upgrade request");
  }
  const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
  const closed = new AbortController();
  const log = ctx.log.child(SOCKET_LOG_NAMES[role.kind]);
  let handler: ConnectionHandler<In> | null = null;
  let chain: Promise<void> = Promise.resolve();
  // Issue 11, finding 1: a busy peer's messages queue here and are drained at our pace; only a
  // flooding or stuck connection is closed, with the reason logged.
  const queue = new InboundQueue(Date.now(), limits.queue);
  let handshakeDone = false;
  let peerName: string | null = null;

  const handshakeTimer = setTimeout(() => {
    if (!handshakeDone) socket.close(1008, "Handshake timeout");
  }, limits.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS);
  const stallTimer = setInterval(() => {
    const reason = queue.stalled(Date.now());
    if (reason === null || socket.readyState !== WebSocket.OPEN) return;
    log.error("Closing a socket whose messages are not being processed", {
      name: peerName,
      cluster,
      reason,
    });
    socket.close(1011, "No progress processing messages");
  }, limits.stallCheckMs ?? STALL_CHECK_MS);

  function enqueue(task: () => Promise<void>, bytes: number, force = false) {
    if (force) queue.force(bytes, Date.now());
    else {
      const admitted = queue.admit(bytes, Date.now());
      if (!admitted.ok) {
        if (socket.readyState === WebSocket.OPEN) {
          log.warn("Closing a socket that floods messages", {
            name: peerName,
            cluster,
            reason: admitted.reason,
          });
          socket.close(1008, "Too many queued messages");
        }
        return;
      }
    }
    chain = chain.then(task).catch((err) => log.error("Socket message handling failed", { err }))
      .finally(() => queue.done(bytes, Date.now()));
  }

  socket.onmessage = (event) => {
    if (typeof event.data !== "string") return; // Binary frames are ignored (plane-0.5.md §1.3).
    if (event.data.length > MAX_SOCKET_MESSAGE_BYTES) {
      log.warn("Dropping an oversized socket message", { bytes: event.data.length });
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(event.data);
    } catch {
      if (!handshakeDone) return void socket.close(1008, "Invalid handshake");
      log.warn("Skipping a socket message that is not JSON", { cluster });
      return;
    }
    if (!handshakeDone) {
      handshakeDone = true;
      clearTimeout(handshakeTimer);
      const hs = Handshake.safeParse(json);
      if (!hs.success || nameError(hs.data.name, role.prefix) !== null) {
        log.warn("Refusing a socket with an invalid handshake", { cluster });
        socket.close(1008, "Invalid handshake");
        return;
      }
      const handshake = hs.data;
      peerName = handshake.name;
      if (handshake.version.version !== PLANE_VERSION) {
        log.warn("Peer runs another version", { peer: handshake.version, name: handshake.name });
      }
      enqueue(() =>
        start(handshake).catch((err) => {
          // Half set up (a database error): a socket without a handler would swallow every
          // message for good, so close it and let the peer reconnect and try again.
          socket.close(1011, "Connection setup failed");
          throw err;
        }), event.data.length);
      return;
    }
    const parsed = role.schema.safeParse(json);
    if (!parsed.success) {
      log.warn("Skipping an unparseable socket message", {
        cluster,
        issue: parsed.error.issues[0],
      });
      return;
    }
    const message = parsed.data;
    // Issue 11, finding 1: an ack queued behind a burst of state events arrived in time but was
    // seen late, and the resend it should have prevented went out.
    if (handler && !closed.signal.aborted && handler.takeUnordered?.(message)) return;
    enqueue(async () => {
      if (handler && !closed.signal.aborted) await handler.onMessage(message);
    }, event.data.length);
  };

  let registered: { id: number; connectionStart: Date } | null = null;
  async function start(handshake: Handshake) {
    const result = await registerNode(
      ctx.db,
      {
        kind: role.kind,
        name: handshake.name,
        cluster,
        version: handshake.version.version,
        hash: handshake.version.git_hash,
        controller: ctx.name,
        ip: remoteIp,
      },
      role.bindName
        ? { holdMs: ctx.config.nodeNameHoldMs, unhealthyMs: ctx.config.unhealthyMs }
        : undefined,
    );
    if (!result.ok) {
      log.warn("Refused a socket: the name is held by a live connection", {
        node: handshake.name,
        cluster,
        ip: remoteIp,
        heldBy: result.heldBy,
      });
      // Close reasons are at most 123 bytes; names are at most 45 characters.
      socket.close(1008, `Name ${handshake.name} is in use by a live connection; retry later`);
      return;
    }
    registered = { id: result.id, connectionStart: result.connectionStart };
    if (closed.signal.aborted || socket.readyState !== WebSocket.OPEN) return;
    // Our handshake only once the node is ours: a refused peer never sees one.
    socket.send(JSON.stringify({
      version: { version: PLANE_VERSION, git_hash: PLANE_HASH },
      name: ctx.name,
    }));
    const connection: SocketConnection<Out> = {
      nodeId: registered.id,
      connectionStart: registered.connectionStart,
      name: handshake.name,
      cluster: cluster ?? "",
      log: log,
      signal: closed.signal,
      send(message: Out) {
        if (socket.readyState !== WebSocket.OPEN) return false;
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          log.warn("Peer is not reading; closing", { name: handshake.name });
          socket.close(1008, "Peer not reading");
          return false;
        }
        socket.send(JSON.stringify(message));
        return true;
      },
      close(code = 1000, reason = "") {
        socket.close(code, reason);
      },
    };
    handler = await role.open(connection);
    log.info("Node connected", { name: handshake.name, nodeId: registered.id, cluster });
  }

  socket.onclose = () => {
    clearTimeout(handshakeTimer);
    clearInterval(stallTimer);
    closed.abort();
    enqueue(
      async () => {
        await handler?.onClose?.();
        if (registered) {
          await markNodeOffline(ctx.db, registered.id, ctx.name, registered.connectionStart);
          log.info("Node disconnected", { nodeId: registered.id, cluster });
        }
      },
      0,
      true,
    );
  };
  socket.onerror = () => {}; // onclose follows and does the work.
  // The controller closing aborts every socket it holds.
  ctx.signal.addEventListener("abort", () => socket.close(1001, "Controller shutting down"), {
    once: true,
    signal: closed.signal,
  });
  return response;
}
