/** Fixtures for the engine's socket tests: loopback listeners, a probe backend, a raw client. */
import net from "node:net";
import { Buffer } from "node:buffer";
import { createEngine, type Engine } from "./engine.ts";
import type { EngineOptions } from "./types.ts";

export interface Listening extends AsyncDisposable {
  port: number;
}

/** A loopback `node:net` server, closed (with its sockets) on dispose. */
export async function listen(onSocket: (socket: net.Socket) => void): Promise<Listening> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback `Deno.listen` listener handing each connection to `onConn`. */
export function listenDeno(onConn: (conn: Deno.TcpConn) => void): Listening {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    try {
      for await (const conn of listener) onConn(conn);
    } catch { /* closed */ }
  })();
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
    },
  };
}

export interface EngineFixture extends AsyncDisposable {
  engine: Engine;
  port: number;
}

export type ListenerKind = "node" | "deno";

/** An engine behind a loopback listener: `node:net` (`handle`) or `Deno.listen` (`handleConn`). */
export async function serveEngine(
  options: EngineOptions,
  { listener = "deno" }: { listener?: ListenerKind } = {},
): Promise<EngineFixture> {
  const engine = createEngine(options);
  const listening = listener === "node"
    ? await listen((socket) =>
      engine.handle(socket, { remoteAddress: socket.remoteAddress ?? "", tls: false })
    )
    : listenDeno((conn) =>
      engine.handleConn(conn, { remoteAddress: conn.remoteAddr.hostname, tls: false })
    );
  return {
    engine,
    port: listening.port,
    async [Symbol.asyncDispose]() {
      // Tunnels outlive a graceful close; tests bound it short.
      const done = engine.close({ signal: AbortSignal.timeout(300) });
      await listening[Symbol.asyncDispose]();
      await done;
    },
  };
}

export interface Probe extends Listening {
  /** Everything every connection sent, concatenated in arrival order. */
  received(): string;
  connections(): number;
  /** Connections still open now. */
  open(): number;
}

/**
 * A raw backend that records every byte it receives. With `respond`, it answers each request
 * head it sees with that response (enough for bodiless requests).
 */
export async function probeBackend(respond?: string): Promise<Probe> {
  const chunks: Buffer[] = [];
  let count = 0;
  let open = 0;
  const listening = await listen((socket) => {
    count++;
    open++;
    // The listener is half-open: the peer closing shows as "end" first.
    let counted = true;
    const gone = () => {
      if (counted) open--;
      counted = false;
    };
    socket.on("end", gone);
    socket.on("close", gone);
    let pending = "";
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (respond === undefined) return;
      pending += chunk.toString("latin1");
      let i;
      while ((i = pending.indexOf("\r\n\r\n")) !== -1) {
        pending = pending.slice(i + 4);
        socket.write(respond);
      }
    });
    socket.on("error", () => {});
  });
  return {
    port: listening.port,
    received: () => Buffer.concat(chunks).toString("latin1"),
    connections: () => count,
    open: () => open,
    [Symbol.asyncDispose]: () => listening[Symbol.asyncDispose](),
  };
}

export interface RawResult {
  /** Everything the server sent. */
  response: string;
  /** The server closed the connection before the deadline. */
  closed: boolean;
}

/**
 * Sends `parts` (written one after another, `gapMs` apart when given) and collects what the
 * server sends until it closes or `deadlineMs` passes.
 */
export function rawExchange(
  port: number,
  parts: (string | Uint8Array)[],
  { deadlineMs = 3000, gapMs = 0, until }: {
    deadlineMs?: number;
    gapMs?: number;
    /** Stop (without waiting for a close) once the response satisfies this. */
    until?: (response: string) => boolean;
  } = {},
): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let settled = false;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      socket.destroy();
      resolve({ response: Buffer.concat(chunks).toString("latin1"), closed });
    };
    timers.push(setTimeout(() => finish(false), deadlineMs));
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      if (until?.(Buffer.concat(chunks).toString("latin1"))) finish(false);
    });
    socket.on("end", () => finish(true));
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
    socket.on("connect", () => {
      if (gapMs === 0) {
        for (const p of parts) socket.write(p);
        return;
      }
      parts.forEach((p, i) => {
        timers.push(setTimeout(() => {
          if (!settled && !socket.destroyed) socket.write(p);
        }, i * gapMs));
      });
    });
  });
}

/** The forward decision every engine test uses: to `port` on loopback, head unchanged. */
export function forwardTo(port: number): EngineOptions["decide"] {
  return (head) => ({ kind: "forward", hostname: "127.0.0.1", port, head });
}
