/**
 * The proxy's byte-moving HTTP/1.1 engine. The caller owns the listener (`node:net` or
 * `node:tls`) and hands each accepted socket to `handle`; the engine frames requests itself
 * (`parse_head.ts`), asks `decide` what to do with each one, and relays bytes to pooled
 * upstream connections with backpressure. Why sockets and not `fetch`: targets.md §1 (a `fetch`
 * relay reaches a quarter of nginx's throughput; a socket relay matches it).
 *
 * Create the listener with `allowHalfOpen: true`: otherwise Node ends our side as soon as a
 * client half-closes after its request, and that request can no longer be answered.
 *
 * @module
 */
import type net from "node:net";
import { ClientConnection } from "./_client.ts";
import type { Core, EngineStats } from "./_core.ts";
import { connectStream, ConnStream } from "./_conn_stream.ts";
import { type ByteStream, nodeSocketStream } from "./_stream.ts";
import { UpstreamPool } from "./_upstream.ts";
import type { ConnectionInfo, EngineLimits, EngineOptions } from "./types.ts";
import { createHistogram, LATENCY_BUCKETS } from "../../shared/mod.ts";

export type { EngineStats } from "./_core.ts";

export interface Engine {
  /** Serves HTTP/1.1 on an accepted `node:net`/`node:tls` socket until either side closes it. */
  handle(socket: net.Socket, info: ConnectionInfo): void;
  /**
   * The same on a Deno-native connection (`Deno.listen`/`Deno.listenTls`): the fast path,
   * since Deno's `node:net` is a streams layer over the same connection (bench/proxy.ts).
   */
  handleConn(conn: Deno.Conn, info: ConnectionInfo): void;
  /**
   * Stops taking requests: idle connections end now, in-flight requests finish (answered with
   * `Connection: close`), upgraded tunnels run until they close. Resolves when every client
   * connection is gone; aborting `signal` destroys whatever is left (the caller's bound).
   */
  close(options?: { signal?: AbortSignal }): Promise<void>;
  /** Live counters (read-only view). */
  readonly stats: Readonly<EngineStats>;
}

export const DEFAULT_LIMITS: Readonly<EngineLimits> = Object.freeze({
  maxHeadBytes: 16 * 1024,
  headTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  connectTimeoutMs: 10_000,
});

const NO_ERROR_BODY = Object.freeze({ headers: Object.freeze([]), body: "" });

/** Idle upstream connections kept per backend address. */
const MAX_IDLE_PER_BACKEND = 256;
/** Idle upstream connections are closed before common backend keep-alive timeouts (5 s+). */
const UPSTREAM_IDLE_MS = 4_000;

export function createEngine(options: EngineOptions): Engine {
  const onError = options.onConnectError;
  return createEngineWith(
    options,
    onError === undefined
      ? connectStream
      : (hostname, port, timeoutMs) => connectStream(hostname, port, timeoutMs, onError),
  );
}

/**
 * `createEngine` with the upstream connector given: in-memory streams let the per-request
 * CPU cost be measured without sockets (`bench/engine_bench.ts`).
 */
export function createEngineWith(
  options: EngineOptions,
  connect: (hostname: string, port: number, timeoutMs: number) => ByteStream,
): Engine & { serve(stream: ByteStream, info: ConnectionInfo): void } {
  const limits: EngineLimits = { ...DEFAULT_LIMITS, ...options.limits };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(`Cannot create engine: limit "${name}" must be positive, got ${value}`);
    }
  }
  const stats: EngineStats = {
    connections: 0,
    upgrades: 0,
    requests: 0,
    rejected: 0,
    badGateway: 0,
    upstreamConnects: 0,
    upstreamReuses: 0,
    droppedHeaders: 0,
    bytesIn: 0,
    bytesOut: 0,
    responses: new Float64Array(6),
    duration: createHistogram(LATENCY_BUCKETS),
  };
  const clock = { now: Date.now() };
  const pool = new UpstreamPool({
    connect,
    connectTimeoutMs: limits.connectTimeoutMs,
    idleTimeoutMs: Math.min(UPSTREAM_IDLE_MS, limits.idleTimeoutMs),
    maxIdlePerKey: MAX_IDLE_PER_BACKEND,
    counters: stats,
    clock,
  });
  const errorResponse = options.errorResponse;
  const core: Core = {
    options,
    limits,
    stats,
    pool,
    closing: false,
    get now() {
      return clock.now;
    },
    set now(value: number) {
      clock.now = value;
    },
    errorResponse: (status, reason, head) => errorResponse?.(status, reason, head) ?? NO_ERROR_BODY,
  };
  const clients = new Set<ClientConnection>();
  const waiters: (() => void)[] = [];
  // One coarse interval drives every timeout (head, idle, linger, pooled upstreams) instead of
  // a timer per request; its granularity is a quarter of the shortest limit.
  const tickMs = Math.max(
    10,
    Math.min(1000, limits.headTimeoutMs / 4, limits.bodyTimeoutMs / 4, limits.idleTimeoutMs / 4),
  );
  let ticker: ReturnType<typeof setInterval> | undefined;

  function tick(): void {
    const now = core.now = Date.now();
    for (const c of clients) c.tick(now);
    pool.sweep(now);
    if (clients.size === 0 && pool.idleCount === 0) stopTicker();
  }

  function stopTicker(): void {
    if (ticker !== undefined) {
      clearInterval(ticker);
      ticker = undefined;
    }
  }

  function gone(c: ClientConnection): void {
    if (!clients.delete(c)) return;
    stats.connections--;
    if (clients.size === 0 && core.closing) {
      stopTicker();
      for (const resolve of waiters.splice(0)) resolve();
    }
  }

  function serve(stream: ByteStream, info: ConnectionInfo): void {
    stats.connections++;
    if (ticker === undefined) core.now = Date.now();
    clients.add(new ClientConnection(core, stream, info, gone));
    if (ticker === undefined) {
      const t = setInterval(tick, tickMs);
      Deno.unrefTimer(t);
      ticker = t;
    }
  }

  return {
    stats,
    serve,
    handle(socket, info) {
      if (core.closing) {
        socket.destroy();
        return;
      }
      serve(nodeSocketStream(socket, stats), info);
    },
    handleConn(conn, info) {
      if (core.closing) {
        conn.close();
        return;
      }
      (conn as Partial<Deno.TcpConn>).setNoDelay?.(true);
      serve(new ConnStream(conn, stats), info);
    },
    close({ signal } = {}) {
      core.closing = true;
      pool.close();
      for (const c of clients) c.shutdown();
      if (clients.size === 0) {
        stopTicker();
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const abort = () => {
          for (const c of clients) c.destroy();
        };
        waiters.push(() => {
          signal?.removeEventListener("abort", abort);
          resolve();
        });
        if (signal?.aborted) abort();
        else signal?.addEventListener("abort", abort, { once: true });
      });
    },
  };
}
