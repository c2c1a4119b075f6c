/**
 * One client connection: buffers inbound bytes, parses request heads one at a time (pipelined
 * requests are answered strictly in order, RFC 9112 §9.3.2), asks `decide` for each, and
 * hands the bytes of the current request to its exchange. After an Upgrade it becomes a
 * tunnel.
 */
import { Buffer } from "node:buffer";
import type { Core } from "./_core.ts";
import { Exchange } from "./_exchange.ts";
import { PAUSE_BUFFER, type Tunnel } from "./_tunnel.ts";
import { parseHead } from "./parse_head.ts";
import { errorBytes } from "./_write_head.ts";
import type { ByteStream, StreamHandler } from "./_stream.ts";
import type { ConnectionInfo, Decision } from "./types.ts";

/** After we end a connection, how long we keep reading and dropping before a hard close. */
const LINGER_MS = 2000;

export class ClientConnection implements StreamHandler {
  readonly stream: ByteStream;
  readonly info: ConnectionInfo;
  /** Bytes received and not yet consumed (a partial head, body bytes, pipelined requests). */
  buf: Buffer | null = null;
  ex: Exchange | null = null;
  /** The socket is gone (or being destroyed): nothing more is written. */
  closed = false;
  /** Answer the current request with Connection: close (engine shutting down). */
  closeAfter = false;
  #core: Core;
  #onGone: (c: ClientConnection) => void;
  #tunnel: Tunnel | null = null;
  /** We ended our side and only drain what still arrives (lingering close). */
  #ending = false;
  #endingSince = 0;
  #headSince = 0;
  /** When the current request's body last made progress (a byte in, or reading resumed). */
  #bodyActive = 0;
  #idleSince: number;
  #paused = 0;
  #processing = false;
  #bufferLimit: number;
  #limits: { maxHeadBytes: number };

  constructor(
    core: Core,
    stream: ByteStream,
    info: ConnectionInfo,
    onGone: (c: ClientConnection) => void,
  ) {
    this.#core = core;
    this.stream = stream;
    this.info = info;
    this.#onGone = onGone;
    this.#idleSince = core.now;
    this.#limits = { maxHeadBytes: core.limits.maxHeadBytes };
    this.#bufferLimit = Math.max(2 * core.limits.maxHeadBytes, 64 * 1024);
    stream.setHandler(this);
  }

  onDrain(): void {
    if (this.#tunnel !== null) this.#tunnel.onClientDrain();
    else this.ex?.onClientDrain();
  }

  onData(chunk: Buffer): void {
    this.#core.stats.bytesIn += chunk.length;
    if (this.#tunnel !== null) {
      this.#tunnel.write(chunk);
      return;
    }
    if (this.#ending || this.closed) return;
    this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    const ex = this.ex;
    if (ex !== null) {
      this.#bodyActive = this.#core.now;
      if (!ex.reqDone) ex.pumpRequestBody();
      this.checkBuffer();
      return;
    }
    this.#processHeads();
  }

  /** Stops reading while too many bytes wait behind the current exchange. */
  checkBuffer(): void {
    if (this.buf !== null && this.buf.length > this.#bufferLimit) this.pause(PAUSE_BUFFER);
    else this.resume(PAUSE_BUFFER);
  }

  #processHeads(): void {
    if (this.#processing) return;
    this.#processing = true;
    try {
      while (this.ex === null && this.buf !== null && !this.#ending && !this.closed) {
        if (this.#core.closing) {
          this.#end();
          return;
        }
        const r = parseHead(this.buf, 0, this.#limits);
        if (!r.ok) {
          if (r.incomplete) {
            if (this.#headSince === 0) this.#headSince = this.#core.now;
            this.checkBuffer();
            return;
          }
          this.#reject(r.status, r.reason);
          return;
        }
        this.#headSince = 0;
        this.buf = r.consumed === this.buf.length ? null : this.buf.subarray(r.consumed);
        this.#core.stats.requests++;
        const ex = new Exchange(this, this.#core, r);
        this.ex = ex;
        let decision: Decision | Promise<Decision>;
        try {
          decision = this.#core.options.decide(r.head, this.info);
        } catch {
          ex.failed();
          continue;
        }
        if (decision instanceof Promise) {
          decision.then((d) => ex.start(d), () => ex.failed());
          return;
        }
        ex.start(decision);
      }
    } finally {
      this.#processing = false;
    }
  }

  /** An engine-made 4xx for a head that cannot be framed, then close (RFC 9112 §11.2). */
  #reject(status: number, reason: string): void {
    this.#core.stats.rejected++;
    this.#core.stats.responses[status / 100 | 0]!++;
    this.buf = null;
    this.stream.write(errorBytes(this.#core, status, reason, true, "Connection: close\r\n"));
    this.#end();
  }

  /** The current exchange is over; go on with the next request or close. */
  exchangeDone(keepAlive: boolean): void {
    this.ex = null;
    if (this.closed) return;
    if (!keepAlive || this.closeAfter || this.#core.closing) {
      this.#end();
      return;
    }
    this.#paused = 0;
    this.stream.resume();
    this.#idleSince = this.#core.now;
    if (this.buf !== null) this.#processHeads();
  }

  /** The exchange is over and `tunnel` carries the connection from now on. */
  startTunnel(tunnel: Tunnel): void {
    this.#tunnel = tunnel;
    this.ex = null;
    this.#headSince = 0;
    this.#paused = 0;
    this.stream.resume();
    const buf = this.buf;
    this.buf = null;
    if (buf !== null) tunnel.write(buf);
  }

  /** The request body's inactivity clock starts again (the exchange began reading it). */
  bodyProgress(): void {
    this.#bodyActive = this.#core.now;
  }

  pause(reason: number): void {
    if (this.#paused === 0) this.stream.pause();
    this.#paused |= reason;
  }

  resume(reason: number): void {
    if ((this.#paused & reason) === 0) return;
    this.#paused &= ~reason;
    if (this.#paused === 0) this.stream.resume();
  }

  /** Ends our side after pending writes, then drains what still arrives (lingering close). */
  #end(): void {
    if (this.#ending || this.closed) return;
    this.#ending = true;
    this.#endingSince = this.#core.now;
    this.buf = null;
    this.#paused = 0;
    this.stream.resume();
    this.stream.end();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.destroy();
  }

  onEnd(): void {
    if (this.#tunnel !== null) {
      this.#tunnel.end();
      return;
    }
    const ex = this.ex;
    // A request whose body never completed cannot be answered meaningfully.
    if (ex !== null && !ex.reqDone) {
      this.destroy();
      return;
    }
    // Half-closed after a complete request: answer it, then close. With nothing in flight,
    // whatever partial head is left can never complete.
    if (ex !== null) this.closeAfter = true;
    else this.#end();
  }

  onClose(): void {
    this.closed = true;
    const ex = this.ex;
    this.ex = null;
    ex?.clientClosed();
    this.#tunnel?.closed();
    this.#onGone(this);
  }

  /** Timers, driven by the engine's coarse ticker (one interval for all connections). */
  tick(now: number): void {
    if (this.#tunnel !== null || this.closed) return;
    if (this.#ending) {
      if (now - this.#endingSince > LINGER_MS) this.destroy();
      return;
    }
    const limits = this.#core.limits;
    const ex = this.ex;
    if (ex !== null) {
      if (!ex.readingBody) return;
      // Paused by us (backpressure), the client is not the one stalling.
      if (this.#paused !== 0) this.#bodyActive = now;
      else if (now - this.#bodyActive > limits.bodyTimeoutMs) ex.bodyTimedOut();
      return;
    }
    if (this.#headSince !== 0) {
      // Slowloris: a head that trickles in (RFC 9110 §15.5.9, 408).
      if (now - this.#headSince > limits.headTimeoutMs) this.#reject(408, "head timeout");
    } else if (this.buf === null && now - this.#idleSince > limits.idleTimeoutMs) {
      // RFC 9112 §9.5: an idle persistent connection may be closed at any time.
      this.#end();
    }
  }

  /** Engine shutdown: finish what is in flight, take no new request. */
  shutdown(): void {
    if (this.#tunnel !== null) return;
    if (this.ex !== null) this.closeAfter = true;
    else this.#end();
  }

  get tunnel(): boolean {
    return this.#tunnel !== null;
  }
}
