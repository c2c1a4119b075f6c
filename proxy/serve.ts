/**
 * Listeners for a standalone proxy (plane-0.5.md §7.1): `node:net` (and `node:tls`) servers
 * handing each accepted socket to the engine, which asks the proxy's `decide`. With HTTPS the
 * plain port only redirects. Shutdown stops accepting, lets in-flight requests finish for up
 * to the grace period (Plane: 10 s), then closes what is left. `mod.ts` binds nothing; this
 * file is the port-binding shell around it.
 */
import net from "node:net";
import tls from "node:tls";
import { createEngine, type EngineLimits, type EngineStats } from "./engine/mod.ts";
import { acceptLoop, descriptorAlarm } from "./accept_loop.ts";
import { type ConnectionCap, refusedResponse } from "./connection_cap.ts";
import type { Proxy } from "./mod.ts";
import { engineErrorResponse } from "./request.ts";
import { isReservedHeader } from "./reserved_header.ts";
import { type CertPair, readCertFile, redirectDecision, watchCertFile } from "./tls.ts";
import type { Logger } from "../shared/mod.ts";

export interface ServeOptions {
  /** plane-0.5.md §7.1: all interfaces (`0.0.0.0`); tests use loopback. */
  hostname: string;
  /** Plain HTTP port (0 picks one); with `https` it only redirects. */
  httpPort: number;
  https?: { port: number; certPath: string; pollMs?: number } | undefined;
  limits?: Partial<EngineLimits>;
  /**
   * Share the port with other listeners (`SO_REUSEPORT`, Linux): each proxy worker binds its
   * own listener and the kernel spreads connections across them (`worker_pool.ts`).
   */
  reusePort?: boolean | undefined;
  /**
   * Open client connections allowed (shared by the workers of one proxy); past it a client
   * gets a 503 and is closed (issue 13). Omitted: no cap.
   */
  connectionCap?: ConnectionCap | undefined;
  log: Logger;
  /** Aborts the wait for an initial certificate. */
  signal?: AbortSignal;
}

export interface ProxyServer {
  /** Bound ports (useful with port 0). */
  readonly httpPort: number;
  readonly httpsPort: number | undefined;
  /** The proxy engine's live counters (requests served, open connections, …). */
  readonly stats: Readonly<EngineStats>;
  /** Stops accepting, waits for open connections up to `graceMs`, then closes them. */
  close(options?: { graceMs?: number }): Promise<void>;
}

function listen(
  server: net.Server,
  port: number,
  hostname: string,
  reusePort = false,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host: hostname, ...(reusePort && { reusePort: true }) }, () => {
      server.off("error", reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/**
 * Waits until the certificate file exists and parses (plane-0.5.md §7.1: no HTTPS until there is a
 * cert).
 */
async function waitForCert(
  path: string,
  log: Logger,
  options: { pollMs: number; signal?: AbortSignal | undefined },
): Promise<{ pair: CertPair; mtime: number | null }> {
  let warned = false;
  for (;;) {
    const found = await readCertFile(path);
    if (found !== null && !(found instanceof Error)) return found;
    if (!warned) {
      log.warn("Waiting for a valid certificate file before serving HTTPS", {
        path,
        problem: found instanceof Error ? found.message : "missing",
      });
      warned = true;
    }
    options.signal?.throwIfAborted();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, options.pollMs);
      function done() {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", done);
        resolve();
      }
      options.signal?.addEventListener("abort", done, { once: true });
    });
    options.signal?.throwIfAborted();
  }
}

/**
 * Forgets a connection once the engine is done with it (its close is wrapped), giving back its
 * slot under the connection cap once.
 */
function trackConn(conn: Deno.Conn, conns: Set<Deno.Conn>, cap: ConnectionCap | null): Deno.Conn {
  const close = conn.close.bind(conn);
  conn.close = () => {
    if (conns.delete(conn)) cap?.release();
    close();
  };
  return conn;
}

/** Answers a client refused at the cap with a 503 and closes it, without waiting on it. */
function refuseConn(conn: Deno.Conn): void {
  conn.write(refusedResponse()).catch(() => {}).finally(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  });
}

export async function serveProxy(proxy: Proxy, options: ServeOptions): Promise<ProxyServer> {
  const { log } = options;
  const sockets = new Set<net.Socket>();
  const servers: net.Server[] = [];
  const closers: (() => void)[] = [];
  function track(socket: net.Socket) {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  }

  const connectAlarm = descriptorAlarm(log);
  const cap = options.connectionCap ?? null;
  const engine = createEngine({
    decide: proxy.decide,
    errorResponse: proxy.errorResponse,
    // Issue 10, finding 2c: identity fields must not reach a backend as trailers either.
    dropRequestTrailer: isReservedHeader,
    // Issue 13: a 502 for want of a descriptor is logged (once per interval), not silent.
    onConnectError: (err) => connectAlarm("connect", err),
    ...(options.limits && { limits: options.limits }),
  });
  const engines = [engine];

  let httpsPort: number | undefined;
  let plain = engine;
  if (options.https) {
    const https = options.https;
    const pollMs = https.pollMs ?? 1_000;
    const initial = await waitForCert(https.certPath, log, { pollMs, signal: options.signal });
    // allowHalfOpen: a client that half-closes after its request must still get the answer
    // (proxy/engine/engine.ts).
    const server = tls.createServer({
      cert: initial.pair.cert,
      key: initial.pair.key,
      allowHalfOpen: true,
    });
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      if (cap !== null && !cap.tryAcquire()) {
        connectAlarm("refuse", cap.limit);
        socket.end(refusedResponse());
        return;
      }
      socket.once("close", () => cap?.release());
      track(socket);
      engine.handle(socket, { remoteAddress: socket.remoteAddress ?? "", tls: true });
    });
    // plane-0.5.md §7.1: handshake failures are logged with the peer address.
    server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => {
      log.warn("TLS handshake failed", { peer: socket.remoteAddress, err: err.message });
    });
    const watcher = watchCertFile(https.certPath, {
      onChange(pair) {
        // New handshakes use the new certificate; open connections keep theirs (plane-0.5.md §10.4
        // step 7).
        server.setSecureContext({ cert: pair.cert, key: pair.key });
        log.info("Certificate reloaded", { path: https.certPath });
      },
      onError(err) {
        log.error("Certificate file unusable; keeping the current certificate", { err });
      },
    }, { intervalMs: pollMs, initialMtime: initial.mtime });
    closers.push(() => watcher.close());
    servers.push(server);
    httpsPort = await listen(server, https.port, options.hostname, options.reusePort);
    // plane-0.5.md §7.1: in HTTPS mode the plain port answers everything with a redirect.
    plain = createEngine({ decide: redirectDecision, errorResponse: engineErrorResponse });
    engines.push(plain);
  }

  // Plain HTTP accepts native `Deno.Conn`s: the engine relays them ~1.5× faster than through
  // `node:net`'s stream layer (proxy/engine/engine.ts, `handleConn`).
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({
      hostname: options.hostname,
      port: options.httpPort,
      ...(options.reusePort && { reusePort: true }),
    });
  } catch (err) {
    for (const server of servers) server.close();
    for (const close of closers) close();
    await Promise.all(engines.map((engine) => engine.close({ signal: AbortSignal.abort() })));
    throw err;
  }
  const conns = new Set<Deno.Conn>();
  const accepting = acceptLoop(listener, (conn) => {
    if (cap !== null && !cap.tryAcquire()) {
      connectAlarm("refuse", cap.limit);
      refuseConn(conn);
      return;
    }
    conns.add(conn);
    const addr = conn.remoteAddr as Deno.NetAddr;
    plain.handleConn(trackConn(conn, conns, cap), { remoteAddress: addr.hostname, tls: false });
  }, { log });
  const httpPort = (listener.addr as Deno.NetAddr).port;

  let closing: Promise<void> | null = null;
  return {
    httpPort,
    httpsPort,
    stats: engine.stats,
    close({ graceMs = 10_000 } = {}) {
      closing ??= (async () => {
        const stopped = servers.map((server) =>
          new Promise<void>((resolve) => server.close(() => resolve()))
        );
        listener.close();
        await accepting;
        // The engines end idle keep-alive connections at once and let requests in flight
        // finish; past the grace period whatever is left is destroyed (plane-0.5.md §7.1: 10 s).
        const grace = new AbortController();
        const timer = setTimeout(() => grace.abort(), graceMs);
        await Promise.all(engines.map((engine) => engine.close({ signal: grace.signal })));
        clearTimeout(timer);
        for (const close of closers) close();
        // Sockets still in a TLS handshake were never handed to an engine.
        for (const socket of sockets) socket.destroy();
        for (const conn of conns) {
          try {
            conn.close();
          } catch {
            // The engine closed it already.
          }
        }
        await Promise.all(stopped);
      })();
      return closing;
    },
  };
}
