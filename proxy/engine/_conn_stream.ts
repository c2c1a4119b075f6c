/**
 * A Deno-native `Deno.Conn` as a `ByteStream`: the fast path for client connections
 * (`handleConn`) and for every upstream connection. Per request the engine does one read and
 * one write on each side, so what costs is the work around each op, not the op itself:
 *
 * - Writes go straight to `conn.write` when nothing is in flight (Deno runs the write
 *   syscall eagerly, inside the call); only bytes written while one is in flight wait in a
 *   queue, and leave together in the next write. The engine itself puts a head and its first
 *   body bytes in one buffer, so a response normally leaves in one write and one segment.
 * - Reads land in a slab that is handed out by views rather than copied: each chunk is a
 *   region of the slab that is never written again, so handlers may keep it; a new slab is
 *   taken when the room left is small.
 *
 * Completion callbacks are created once per stream, not per op.
 */
import { Buffer } from "node:buffer";
import {
  type ByteStream,
  NOOP_HANDLER,
  type StreamHandler,
  type Traffic,
  UNCOUNTED,
} from "./_stream.ts";

/**
 * Slabs start small, because a pending read pins its slab and an idle tunnel has two of
 * them, and grow when a read fills the room it was given (a bulk transfer).
 */
const SLAB_MIN = 4 * 1024;
const SLAB_MAX = 64 * 1024;
/** A read gets at least this much room; below it the rest of the slab is left unused. */
const ROOM_MIN = 1024;
/** Queued pieces up to this total are joined into one write (one segment). */
const COALESCE_MAX = 16 * 1024;
/** Queued bytes (in flight included) beyond which `write` asks the caller to wait. */
const HIGH_WATER = 64 * 1024;

export class ConnStream implements ByteStream {
  #conn: Deno.Conn | null = null;
  #handler: StreamHandler = NOOP_HANDLER;
  /** Bytes waiting behind the write in flight. */
  #queue: Uint8Array[] = [];
  /** Bytes accepted and not yet written (in flight included). */
  #queued = 0;
  /** The bytes of the write op in flight, or null. */
  #inFlight: Uint8Array | null = null;
  #needDrain = false;
  #endRequested = false;
  #writeClosed = false;
  #readEnded = false;
  #paused = false;
  #wake: (() => void) | null = null;
  #closed = false;

  readonly #traffic: Traffic;

  /** With `conn`, starts reading now; otherwise call `attach` once connected. */
  constructor(conn?: Deno.Conn, traffic: Traffic = UNCOUNTED) {
    this.#traffic = traffic;
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
    // Writes made before the connection was up leave together.
    if (this.#queue.length > 0) this.#sendQueued();
    else if (this.#endRequested) this.#closeWrite();
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
    this.#traffic.bytesOut += bytes.length;
    this.#queued += bytes.length;
    if (this.#inFlight === null && this.#conn !== null) this.#send(bytes);
    else this.#queue.push(bytes);
    if (this.#queued >= HIGH_WATER) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  end(): void {
    if (this.#closed || this.#endRequested) return;
    this.#endRequested = true;
    if (this.#inFlight === null && this.#conn !== null) this.#closeWrite();
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
    this.#inFlight = null;
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

  // ---- writing ----------------------------------------------------------------------------

  #send(bytes: Uint8Array): void {
    this.#inFlight = bytes;
    this.#conn!.write(bytes).then(this.#written, this.#writeFailed);
  }

  /** Sends what queued up behind the last write: small pieces joined, bulk ones one by one. */
  #sendQueued(): void {
    const queue = this.#queue;
    if (queue.length === 1) {
      this.#queue = [];
      this.#send(queue[0]!);
    } else if (this.#queued <= COALESCE_MAX) {
      this.#queue = [];
      this.#send(Buffer.concat(queue));
    } else this.#send(queue.shift()!);
  }

  #written = (n: number): void => {
    const bytes = this.#inFlight;
    if (this.#closed || bytes === null) return;
    this.#queued -= n;
    if (n < bytes.length) {
      this.#send(bytes.subarray(n));
      return;
    }
    if (this.#queue.length > 0) {
      this.#sendQueued();
      return;
    }
    this.#inFlight = null;
    if (this.#needDrain) {
      this.#needDrain = false;
      // May write again, which starts a new op at once.
      this.#handler.onDrain();
    }
    if (this.#endRequested && this.#inFlight === null && !this.#closed) this.#closeWrite();
  };

  #writeFailed = (): void => {
    this.destroy();
  };

  async #closeWrite(): Promise<void> {
    const conn = this.#conn;
    if (this.#writeClosed || this.#closed || conn === null) return;
    this.#writeClosed = true;
    try {
      await conn.closeWrite();
    } catch {
      this.destroy();
      return;
    }
    if (this.#readEnded) this.destroy();
  }

  // ---- reading ----------------------------------------------------------------------------

  async #readLoop(): Promise<void> {
    const conn = this.#conn!;
    let size = SLAB_MIN;
    let slab = Buffer.allocUnsafeSlow(size);
    let off = 0;
    while (!this.#closed) {
      if (this.#paused) {
        await new Promise<void>((resolve) => this.#wake = resolve);
        continue;
      }
      if (slab.length - off < ROOM_MIN) {
        slab = Buffer.allocUnsafeSlow(size);
        off = 0;
      }
      const room = slab.length - off;
      let n: number | null;
      try {
        n = await conn.read(off === 0 ? slab : slab.subarray(off));
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
      const chunk = slab.subarray(off, off + n);
      off += n;
      if (n === room && size < SLAB_MAX) size = SLAB_MAX;
      this.#handler.onData(chunk);
    }
  }
}

/**
 * Connects to `hostname:port` natively. The stream accepts writes at once (they wait for
 * the connection); a failed or timed-out connect closes it, which the owner sees as a close
 * without a response.
 */
export function connectStream(
  hostname: string,
  port: number,
  timeoutMs: number,
  onError?: (err: unknown) => void,
): ConnStream {
  const stream = new ConnStream();
  const timer = setTimeout(() => stream.destroy(), timeoutMs);
  Deno.connect({ hostname, port }).then(
    (conn) => {
      clearTimeout(timer);
      conn.setNoDelay(true);
      stream.attach(conn);
    },
    (err) => {
      clearTimeout(timer);
      stream.destroy();
      onError?.(err);
    },
  );
  return stream;
}
