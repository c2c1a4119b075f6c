/**
 * The ports of `plane dns` (plane-0.5.md §10.2): UDP and TCP on one port number. UDP answers
 * each datagram; TCP reads length-prefixed messages (RFC 1035 §4.2.2), answers them in order
 * and closes a connection idle for 10 s. Every message goes through `DnsServer.answer`, which
 * drops what does not parse, so malformed input costs one decode and nothing else.
 */
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import type { DnsServer } from "./mod.ts";
import type { Logger } from "../shared/mod.ts";

export interface DnsServeOptions {
  hostname: string;
  /** UDP and TCP port (0: the kernel picks one for UDP and TCP uses the same). */
  port: number;
  /**
   * plane-0.5.md §10.2: a TCP connection with no complete message for this long is closed (10 s).
   */
  tcpIdleMs?: number | undefined;
  log: Logger;
}

export interface DnsListeners {
  readonly port: number;
  close(): Promise<void>;
}

/** RFC 1035 §4.2.2: each TCP message is prefixed by its two-byte length. */
async function serveTcpConn(conn: Deno.Conn, server: DnsServer, idleMs: number, log: Logger) {
  let buffer = new Uint8Array(0);
  const chunk = new Uint8Array(64 * 1024);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => conn.close(), idleMs);
  };
  arm();
  try {
    for (;;) {
      while (buffer.length >= 2) {
        const length = (buffer[0]! << 8) | buffer[1]!;
        if (buffer.length < 2 + length) break;
        const message = buffer.slice(2, 2 + length);
        buffer = buffer.slice(2 + length);
        const reply = await server.answer(message);
        if (reply === null) continue;
        const framed = new Uint8Array(2 + reply.length);
        framed[0] = reply.length >> 8;
        framed[1] = reply.length & 0xff;
        framed.set(reply, 2);
        for (let written = 0; written < framed.length;) {
          written += await conn.write(framed.subarray(written));
        }
        arm();
      }
      const read = await conn.read(chunk);
      if (read === null) break;
      const next = new Uint8Array(buffer.length + read);
      next.set(buffer);
      next.set(chunk.subarray(0, read), buffer.length);
      buffer = next;
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.BadResource || err instanceof Deno.errors.ConnectionReset)) {
      log.debug("DNS TCP connection failed", { err });
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the idle timer already.
    }
  }
}

/** Binds UDP, then TCP on the same port; with port 0, tries again when TCP's is taken. */
async function bindBoth(
  hostname: string,
  port: number,
): Promise<{ udp: dgram.Socket; listener: Deno.TcpListener; port: number }> {
  for (let attempt = 0;; attempt++) {
    const udp = dgram.createSocket(hostname.includes(":") ? "udp6" : "udp4");
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(port, hostname, () => {
        udp.off("error", reject);
        resolve();
      });
    });
    const bound = udp.address().port;
    try {
      return { udp, listener: Deno.listen({ hostname, port: bound }), port: bound };
    } catch (err) {
      udp.close();
      if (port !== 0 || attempt >= 20 || !(err instanceof Deno.errors.AddrInUse)) throw err;
    }
  }
}

export async function serveDns(server: DnsServer, options: DnsServeOptions): Promise<DnsListeners> {
  const { log } = options;
  const idleMs = options.tcpIdleMs ?? 10_000;
  const { udp, listener, port } = await bindBoth(options.hostname, options.port);
  udp.on("error", (err) => log.error("DNS UDP socket error", { err }));
  udp.on("message", (message: Buffer, peer: dgram.RemoteInfo) => {
    server.answer(new Uint8Array(message)).then((reply) => {
      if (reply !== null) udp.send(reply, peer.port, peer.address);
    }).catch((err) => log.error("Cannot answer a DNS query", { err }));
  });

  const conns = new Set<Deno.Conn>();
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        serveTcpConn(conn, server, idleMs, log).finally(() => conns.delete(conn));
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.BadResource)) log.error("DNS TCP accept failed", { err });
    }
  })();

  let closing: Promise<void> | null = null;
  return {
    port,
    close() {
      closing ??= (async () => {
        listener.close();
        await accepting;
        for (const conn of conns) {
          try {
            conn.close();
          } catch {
            // Already closed.
          }
        }
        await new Promise<void>((resolve) => udp.close(() => resolve()));
      })();
      return closing;
    },
  };
}
