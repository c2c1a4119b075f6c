/**
 * Upstream connections and their keep-alive pool, one LIFO stack per `host:port` (the most
 * recently used socket is the least likely to have been closed by the backend). Reuse saves
 * a TCP handshake per request, which is most of nginx's advantage over a naive relay.
 */
import type { Buffer } from "node:buffer";
import type { ByteStream, StreamHandler } from "./_stream.ts";

/** What an upstream connection reports to the exchange currently using it. */
export interface UpstreamOwner {
  onUpstreamData(chunk: Buffer): void;
  onUpstreamEnd(): void;
  onUpstreamClose(): void;
  onUpstreamDrain(): void;
}

export class UpstreamConnection implements StreamHandler {
  readonly stream: ByteStream;
  readonly key: string;
  owner: UpstreamOwner | null = null;
  /** Taken from the pool rather than freshly connected (a stale-socket failure may be retried). */
  reused = false;
  ended = false;
  paused = false;
  idleSince = 0;
  #pool: UpstreamPool;

  constructor(pool: UpstreamPool, key: string, stream: ByteStream) {
    this.#pool = pool;
    this.key = key;
    this.stream = stream;
    stream.setHandler(this);
  }

  onData(chunk: Buffer): void {
    if (this.owner !== null) this.owner.onUpstreamData(chunk);
    // RFC 9112 §9.3: bytes on an idle connection answer no request; it cannot be trusted.
    else this.stream.destroy();
  }

  onEnd(): void {
    this.ended = true;
    if (this.owner !== null) this.owner.onUpstreamEnd();
    else this.stream.destroy();
  }

  onClose(): void {
    const owner = this.owner;
    this.owner = null;
    if (owner !== null) owner.onUpstreamClose();
    else this.#pool.forget(this);
  }

  onDrain(): void {
    this.owner?.onUpstreamDrain();
  }

  write(bytes: Uint8Array): boolean {
    return this.stream.write(bytes);
  }

  pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.stream.pause();
    }
  }

  resume(): void {
    if (this.paused) {
      this.paused = false;
      this.stream.resume();
    }
  }

  destroy(): void {
    this.owner = null;
    this.stream.destroy();
  }
}

export interface PoolOptions {
  /** Opens a connection (tests and benches substitute in-memory streams). */
  connect(hostname: string, port: number, timeoutMs: number): ByteStream;
  connectTimeoutMs: number;
  clock: { now: number };
  idleTimeoutMs: number;
  maxIdlePerKey: number;
  counters: { upstreamConnects: number; upstreamReuses: number };
}

export class UpstreamPool {
  #idle = new Map<string, UpstreamConnection[]>();
  #options: PoolOptions;
  // The last key made: a proxy sends request after request to the same few backends, and
  // the string concatenation is the costliest part of a pooled `acquire`.
  #lastHost = "";
  #lastPort = -1;
  #lastKey = "";
  closed = false;

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  /** A pooled connection to `hostname:port`, or a new one (with `fresh`, always new). */
  acquire(
    hostname: string,
    port: number,
    owner: UpstreamOwner,
    fresh: boolean,
  ): UpstreamConnection {
    let key = this.#lastKey;
    if (hostname !== this.#lastHost || port !== this.#lastPort) {
      key = this.#lastKey = hostname + ":" + port;
      this.#lastHost = hostname;
      this.#lastPort = port;
    }
    if (!fresh) {
      const stack = this.#idle.get(key);
      while (stack !== undefined && stack.length > 0) {
        const conn = stack.pop()!;
        if (conn.stream.destroyed || conn.ended) continue;
        conn.owner = owner;
        conn.reused = true;
        this.#options.counters.upstreamReuses++;
        return conn;
      }
    }
    this.#options.counters.upstreamConnects++;
    // Plane: TCP connect timeout 10 s → 502 (plane-0.5.md §7.2 step 8): the owner sees a close.
    const stream = this.#options.connect(hostname, port, this.#options.connectTimeoutMs);
    const conn = new UpstreamConnection(this, key, stream);
    conn.owner = owner;
    return conn;
  }

  /** Returns a connection whose last exchange ended cleanly. */
  release(conn: UpstreamConnection): void {
    conn.owner = null;
    conn.resume();
    if (this.closed || conn.stream.destroyed || conn.ended) {
      conn.destroy();
      return;
    }
    let stack = this.#idle.get(conn.key);
    if (stack === undefined) this.#idle.set(conn.key, stack = []);
    if (stack.length >= this.#options.maxIdlePerKey) {
      conn.destroy();
      return;
    }
    conn.reused = false;
    conn.idleSince = this.#options.clock.now;
    stack.push(conn);
  }

  forget(conn: UpstreamConnection): void {
    const stack = this.#idle.get(conn.key);
    if (stack === undefined) return;
    const i = stack.indexOf(conn);
    if (i !== -1) stack.splice(i, 1);
    if (stack.length === 0) this.#idle.delete(conn.key);
  }

  /** Closes idle connections older than the idle timeout. */
  sweep(now: number): void {
    for (const stack of this.#idle.values()) {
      // Oldest first (bottom of the stack).
      while (stack.length > 0 && now - stack[0]!.idleSince > this.#options.idleTimeoutMs) {
        stack.shift()!.destroy();
      }
    }
  }

  get idleCount(): number {
    let n = 0;
    for (const stack of this.#idle.values()) n += stack.length;
    return n;
  }

  close(): void {
    this.closed = true;
    for (const stack of this.#idle.values()) {
      for (const conn of stack) conn.destroy();
    }
    this.#idle.clear();
  }
}
