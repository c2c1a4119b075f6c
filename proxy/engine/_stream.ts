/**
 * The engine's view of a connection: bytes in, bytes out, half-close, backpressure. Two
 * implementations: over a `node:net`/`node:tls` socket (the contract's `handle`), and over a
 * Deno-native `Deno.Conn` (`handleConn`, and every upstream connection). The native one is
 * the fast path: Deno's `node:net` is a Node-streams layer over the same `Deno.Conn`, and on
 * this machine a native relay moved ~1.7× the requests of a `node:net` one (targets.md bench).
 */
import { Buffer } from "node:buffer";
import type net from "node:net";

export interface StreamHandler {
  onData(chunk: Buffer): void;
  /** The peer finished sending (FIN); we may still write. */
  onEnd(): void;
  /** Fully closed (after an error too); called once. */
  onClose(): void;
  /** The write buffer went below the high-water mark after `write` returned false. */
  onDrain(): void;
}

export interface ByteStream {
  setHandler(handler: StreamHandler): void;
  /** Queues bytes (the stream owns them from now on); false: wait for `onDrain`. */
  write(bytes: Uint8Array): boolean;
  /** Half-closes after pending writes. */
  end(): void;
  destroy(): void;
  pause(): void;
  resume(): void;
  readonly destroyed: boolean;
}

const NOOP_HANDLER: StreamHandler = {
  onData() {},
  onEnd() {},
  onClose() {},
  onDrain() {},
};

// ---- node:net ---------------------------------------------------------------------------

export function nodeSocketStream(socket: net.Socket): ByteStream {
  let handler = NOOP_HANDLER;
  socket.setNoDelay(true);
  socket.on("data", (chunk: Buffer) => handler.onData(chunk));
  socket.on("end", () => handler.onEnd());
  socket.on("close", () => handler.onClose());
  socket.on("drain", () => handler.onDrain());
  // Errors are followed by "close", where they are handled.
  socket.on("error", () => {});
  return {
    setHandler(h) {
      handler = h;
    },
    write: (bytes) => socket.write(bytes),
    end: () => socket.end(),
    destroy: () => socket.destroy(),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    get destroyed() {
      return socket.destroyed;
    },
  };
}

// ---- Deno.Conn --------------------------------------------------------------------------

/**
 * Reads start small, because a pending read pins its buffer and an idle tunnel has two of
 * them, and grow when a read fills the buffer (a bulk transfer).
 */
const READ_SIZE_MIN = 4 * 1024;
const READ_SIZE_MAX = 64 * 1024;
const COALESCE_MAX = 16 * 1024;
/** Queued bytes beyond which `write` asks the caller to wait. */
const HIGH_WATER = 64 * 1024;

/**
 * A `Deno.Conn` as a `ByteStream`. Writes made in one tick are coalesced into one write op
 * (a microtask flush: the effect of cork/uncork without the calls), reads copy out of a
 * per-connection buffer so handlers may keep the chunks.
 */
export class ConnStream implements ByteStream {
  #conn: Deno.Conn | null = null;
  #handler: StreamHandler = NOOP_HANDLER;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #flushing = false;
  #needDrain = false;
  #endRequested = false;
  #writeClosed = false;
  #readEnded = false;
  #paused = false;
  #wake: (() => void) | null = null;
  #closed = false;

  /** With `conn`, starts reading now; otherwise call `attach` once connected. */
  constructor(conn?: Deno.Conn) {
    if (conn !== undefined) this.attach(conn);
  }

  attach(conn: Deno.Conn): void {
    if (this.#closed) {
      try {
        conn.close();
      } catch { /* already closed */ }
      return;
    }
    this.#conn = conn;
    if (this.#queue.length > 0 || this.#endRequested) this.#scheduleFlush();
    this.#readLoop();
  }

  setHandler(handler: StreamHandler): void {
    this.#handler = handler;
  }

  get destroyed(): boolean {
    return this.#closed;
  }

  write(bytes: Uint8Array): boolean {
    if (this.#closed || this.#endRequested) return false;
    if (bytes.length === 0) return true;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    this.#scheduleFlush();
    if (this.#queued >= HIGH_WATER) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  end(): void {
    if (this.#closed || this.#endRequested) return;
    this.#endRequested = true;
    this.#scheduleFlush();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queued = 0;
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
    const handler = this.#handler;
    this.#handler = NOOP_HANDLER;
    handler.onClose();
  }

  #scheduled = false;
  #scheduleFlush(): void {
    if (this.#flushing || this.#scheduled || this.#conn === null) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  async #flush(): Promise<void> {
    const conn = this.#conn;
    if (this.#flushing || conn === null || this.#closed) return;
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const queue = this.#queue;
        this.#queue = [];
        // Small pieces (a head and its first body bytes) leave in one write; bulk data is
        // written piece by piece rather than copied into one more buffer.
        if (queue.length > 1 && this.#queued <= COALESCE_MAX) {
          queue.splice(0, queue.length, Buffer.concat(queue));
        }
        for (const chunk of queue) {
          let off = 0;
          while (off < chunk.length) off += await conn.write(chunk.subarray(off));
          this.#queued -= chunk.length;
          if (this.#closed) return;
        }
      }
    } catch {
      this.#flushing = false;
      this.destroy();
      return;
    }
    this.#flushing = false;
    if (this.#needDrain) {
      this.#needDrain = false;
      this.#handler.onDrain();
    }
    if (this.#endRequested && !this.#writeClosed && this.#queue.length === 0 && !this.#closed) {
      this.#writeClosed = true;
      try {
        await conn.closeWrite();
      } catch {
        this.destroy();
        return;
      }
      if (this.#readEnded) this.destroy();
    }
  }

  async #readLoop(): Promise<void> {
    const conn = this.#conn!;
    let buf = new Uint8Array(READ_SIZE_MIN);
    while (!this.#closed) {
      if (this.#paused) {
        await new Promise<void>((resolve) => this.#wake = resolve);
        continue;
      }
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch {
        this.destroy();
        return;
      }
      if (this.#closed) return;
      if (n === null) {
        this.#readEnded = true;
        this.#handler.onEnd();
        if (this.#writeClosed) this.destroy();
        return;
      }
      const chunk = Buffer.allocUnsafe(n);
      chunk.set(buf.subarray(0, n));
      if (n === buf.length && n < READ_SIZE_MAX) buf = new Uint8Array(READ_SIZE_MAX);
      this.#handler.onData(chunk);
    }
  }
}

/**
 * Connects to `hostname:port` natively. The stream accepts writes at once (they wait for
 * the connection); a failed or timed-out connect closes it, which the owner sees as a close
 * without a response.
 */
export function connectStream(hostname: string, port: number, timeoutMs: number): ConnStream {
  const stream = new ConnStream();
  const timer = setTimeout(() => stream.destroy(), timeoutMs);
  Deno.connect({ hostname, port }).then(
    (conn) => {
      clearTimeout(timer);
      conn.setNoDelay(true);
      stream.attach(conn);
    },
    () => {
      clearTimeout(timer);
      stream.destroy();
    },
  );
  return stream;
}
