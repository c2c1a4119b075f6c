/**
 * A tiny DNS client for tests: build a query, send it over UDP or TCP to a loopback port, and
 * decode the reply (with its rcode, which dns-packet's types omit).
 */
// @ts-types="@types/dns-packet"
import * as dnsPacket from "dns-packet";
import dgram from "node:dgram";
import { Buffer } from "node:buffer";

export type DecodedReply = dnsPacket.DecodedPacket & { rcode: string };

export function encodeQuery(
  name: string,
  options: { type?: dnsPacket.RecordType; flags?: number; id?: number } = {},
): Uint8Array {
  return new Uint8Array(dnsPacket.encode({
    type: "query",
    id: options.id ?? 4242,
    flags: dnsPacket.RECURSION_DESIRED | (options.flags ?? 0),
    questions: [{ type: options.type ?? "TXT", name, class: "IN" }],
  }));
}

export function decodeReply(bytes: Uint8Array): DecodedReply {
  return dnsPacket.decode(Buffer.from(bytes)) as DecodedReply;
}

/** The TXT strings of a reply's answers. */
export function txtValues(reply: DecodedReply): string[] {
  return (reply.answers ?? []).flatMap((a) =>
    a.type === "TXT" ? (Array.isArray(a.data) ? a.data : [a.data]).map(String) : []
  );
}

/** Sends one datagram to 127.0.0.1:`port`; resolves with the reply, or null after `timeoutMs`. */
export function askUdp(port: number, bytes: Uint8Array, timeoutMs = 3_000) {
  return new Promise<Uint8Array | null>((resolve) => {
    const socket = dgram.createSocket("udp4");
    const timer = setTimeout(() => finish(null), timeoutMs);
    function finish(reply: Uint8Array | null) {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    }
    socket.on("message", (message: Buffer) => finish(new Uint8Array(message)));
    socket.send(bytes, port, "127.0.0.1");
  });
}

/** Sends length-prefixed messages on one TCP connection and reads one reply per message. */
export async function askTcp(port: number, messages: Uint8Array[]): Promise<Uint8Array[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    for (const message of messages) {
      const framed = new Uint8Array(2 + message.length);
      framed[0] = message.length >> 8;
      framed[1] = message.length & 0xff;
      framed.set(message, 2);
      await conn.write(framed);
    }
    const replies: Uint8Array[] = [];
    let buffer = new Uint8Array(0);
    const chunk = new Uint8Array(65536);
    while (replies.length < messages.length) {
      while (buffer.length >= 2 && buffer.length >= 2 + ((buffer[0]! << 8) | buffer[1]!)) {
        const length = (buffer[0]! << 8) | buffer[1]!;
        replies.push(buffer.slice(2, 2 + length));
        buffer = buffer.slice(2 + length);
      }
      if (replies.length >= messages.length) break;
      const read = await conn.read(chunk);
      if (read === null) break;
      const next = new Uint8Array(buffer.length + read);
      next.set(buffer);
      next.set(chunk.subarray(0, read), buffer.length);
      buffer = next;
    }
    return replies;
  } finally {
    conn.close();
  }
}
