/**
 * The engine's view of a connection: bytes in, bytes out, half-close, backpressure. Two
 * implementations: over a `node:net`/`node:tls` socket (the contract's `handle`, here), and
 * over a Deno-native `Deno.Conn` (`handleConn`, and every upstream connection:
 * `_conn_stream.ts`). The native one is the fast path: Deno's `node:net` is a Node-streams
 * layer over the same `Deno.Conn`, and on this machine a native relay moved ~1.7× the
 * requests of a `node:net` one (targets.md §1).
 */
import type { Buffer } from "node:buffer";
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

export const NOOP_HANDLER: StreamHandler = {
  onData() {},
  onEnd() {},
  onClose() {},
  onDrain() {},
};

// ---- node:net ---------------------------------------------------------------------------

/** Where a client stream counts the bytes it sends (the engine's stats). */
export interface Traffic {
  bytesOut: number;
}

/** For streams whose bytes nobody counts (upstream connections). */
export const UNCOUNTED: Traffic = { bytesOut: 0 };

export function nodeSocketStream(socket: net.Socket, traffic: Traffic = UNCOUNTED): ByteStream {
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
    write(bytes) {
      traffic.bytesOut += bytes.length;
      return socket.write(bytes);
    },
    end: () => socket.end(),
    destroy: () => socket.destroy(),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    get destroyed() {
      return socket.destroyed;
    },
  };
}
