/**
 * The child processes of `proxy.ts`, one role per process: `--role=backend-deno`,
 * `--role=backend-net`, `--role=engine` (`--port`, `--listener=deno|node`), `--role=relay`
 * (`--port`), `--role=ws-client` (`--port`, `--path`, `--host`, `--conns`, `--seconds`). Each
 * prints `READY <port>` (or `OPEN <opened> <failed>`) first.
 *
 * @module
 */
import net from "node:net";
import { Buffer } from "node:buffer";
import { parseArgs } from "node:util";
import { createEngine } from "../proxy/engine/engine.ts";
import { connectStream, ConnStream } from "../proxy/engine/_conn_stream.ts";
import type { ByteStream } from "../proxy/engine/_stream.ts";
import type { Header } from "../proxy/engine/types.ts";
import { delay } from "../shared/delay.ts";
import { out } from "./measure.ts";

const encoder = new TextEncoder();

const HELLO = "Hello, world";

/** `Deno.serve` hello world, plus a WebSocket echo on /ws. */
function backendDeno(): void {
  Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => out(`READY ${port}`) },
    (req) => {
      if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
        const { socket, response } = Deno.upgradeWebSocket(req);
        socket.onmessage = (e) => socket.send(e.data);
        return response;
      }
      return new Response(HELLO);
    },
  );
}

/** A minimal `node:net` HTTP/1.1 responder: one fixed response per request head. */
function backendNet(): void {
  const response = Buffer.from(
    `HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\ncontent-length: ${HELLO.length}\r\n\r\n${HELLO}`,
  );
  const crlf2 = Buffer.from("\r\n\r\n");
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let pending: Buffer | null = null;
    socket.on("data", (chunk: Buffer) => {
      let buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
      let n = 0;
      let i;
      while ((i = buf.indexOf(crlf2)) !== -1) {
        n++;
        buf = buf.subarray(i + 4);
      }
      pending = buf.length > 0 ? buf : null;
      if (n === 1) socket.write(response);
      else if (n > 1) socket.write(Buffer.concat(Array(n).fill(response)));
    });
    socket.on("error", () => {});
  });
  server.listen(0, "127.0.0.1", () => out(`READY ${(server.address() as net.AddressInfo).port}`));
}

async function engineRole(backendPort: number, listener: string): Promise<void> {
  const extra: Header = ["x-bench", "1"];
  const engine = createEngine({
    decide: (head) => ({
      kind: "forward",
      hostname: "127.0.0.1",
      port: backendPort,
      head: { ...head, headers: [...head.headers, extra] },
    }),
  });
  if (listener === "node") {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      engine.handle(socket, { remoteAddress: socket.remoteAddress ?? "", tls: false });
    });
    server.listen(0, "127.0.0.1", 1024, () => {
      out(`READY ${(server.address() as net.AddressInfo).port}`);
    });
    return;
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  out(`READY ${l.addr.port}`);
  for await (const conn of l) {
    engine.handleConn(conn, { remoteAddress: conn.remoteAddr.hostname, tls: false });
  }
}

/**
 * The floor of any proxy on this runtime: bytes piped between each client connection and
 * its own backend connection, with no HTTP work at all, on the engine's own `Deno.Conn`
 * streams. What it costs per request is what no amount of work in the engine can remove.
 */
async function relayRole(backendPort: number): Promise<void> {
  const pipe = (a: ByteStream, b: ByteStream): void => {
    a.setHandler({
      onData: (chunk) => void b.write(chunk),
      onEnd: () => b.end(),
      onClose: () => b.destroy(),
      onDrain: () => {},
    });
  };
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  out(`READY ${l.addr.port}`);
  for await (const conn of l) {
    conn.setNoDelay(true);
    const client = new ConnStream(conn);
    const upstream = connectStream("127.0.0.1", backendPort, 10_000);
    pipe(client, upstream);
    pipe(upstream, client);
  }
}

/** A masked client text frame (RFC 6455 §5.2) with a 32-byte payload; the mask is fixed. */
const WS_PAYLOAD = 32;
const WS_FRAME = (() => {
  const frame = new Uint8Array(2 + 4 + WS_PAYLOAD);
  frame[0] = 0x81; // FIN + text
  frame[1] = 0x80 | WS_PAYLOAD; // masked, 7-bit length
  frame.set([1, 2, 3, 4], 2);
  for (let i = 0; i < WS_PAYLOAD; i++) frame[6 + i] = 0x78 ^ [1, 2, 3, 4][i % 4]!;
  return frame;
})();
/** The server's echo: unmasked, so a 2-byte header and the payload. */
const WS_ECHO = 2 + WS_PAYLOAD;

/**
 * Opens one WebSocket on a raw TCP connection: the browser API cannot set `Host`, and
 * `plane proxy` routes by it. Resolves with the connection once the 101 head has been read.
 */
async function openRawWebSocket(port: number, path: string, host: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const head = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\n` +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n";
  await conn.write(encoder.encode(head));
  const buf = new Uint8Array(1024);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("Cannot open WebSocket: closed before the 101");
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  if (!text.startsWith("HTTP/1.1 101")) {
    conn.close();
    throw new Error(`Cannot open WebSocket: ${text.split("\r\n")[0]}`);
  }
  return conn;
}

/**
 * Opens `conns` WebSockets (raw TCP, `--port`, `--path`, `--host`), prints `OPEN <opened>
 * <failed>`, waits for "GO" on stdin, then every socket sends a 32-byte message and waits for
 * its echo, for `seconds`, timing each round trip; prints `RESULT <messages> <ms> <p50 ms>
 * <p99 ms>`. Sockets that cannot open are counted, not fatal: near the descriptor limit a
 * proxy must refuse some, and the bench reports how many.
 */
async function wsClient(
  port: number,
  path: string,
  host: string,
  conns: number,
  seconds: number,
): Promise<void> {
  const sockets: Deno.TcpConn[] = [];
  let failed = 0;
  const batch = 200;
  for (let i = 0; i < conns; i += batch) {
    const group = [];
    for (let j = i; j < Math.min(conns, i + batch); j++) {
      group.push(openRawWebSocket(port, path, host).then((c) => sockets.push(c), () => failed++));
    }
    await Promise.all(group);
  }
  out(`OPEN ${sockets.length} ${failed}`);
  const reader = Deno.stdin.readable.getReader();
  await reader.read();
  reader.releaseLock();
  const rtts: number[] = [];
  let running = true;
  const start = performance.now();
  const loops = sockets.map(async (conn) => {
    const buf = new Uint8Array(256);
    try {
      while (running) {
        const sent = performance.now();
        await conn.write(WS_FRAME);
        let got = 0;
        while (got < WS_ECHO) {
          const n = await conn.read(buf);
          if (n === null) return;
          got += n;
        }
        rtts.push(performance.now() - sent);
      }
    } catch {
      // Closed at the end of the run.
    }
  });
  await delay(seconds * 1000);
  running = false;
  const ms = performance.now() - start;
  const messages = rtts.length;
  const sorted = Float64Array.from(rtts).sort();
  const pct = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  out(`RESULT ${messages} ${ms.toFixed(0)} ${pct(0.5).toFixed(2)} ${pct(0.99).toFixed(2)}`);
  for (const conn of sockets) {
    try {
      conn.close();
    } catch { /* closed */ }
  }
  await Promise.race([Promise.all(loops), delay(1000)]);
  Deno.exit(0);
}

function main(): Promise<void> | void {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      role: { type: "string" },
      port: { type: "string" },
      path: { type: "string", default: "/ws" },
      host: { type: "string", default: "127.0.0.1" },
      conns: { type: "string", default: "1000" },
      seconds: { type: "string", default: "5" },
      listener: { type: "string", default: "deno" },
    },
  });
  switch (values.role) {
    case "backend-deno":
      return backendDeno();
    case "backend-net":
      return backendNet();
    case "engine":
      return engineRole(Number(values.port), values.listener);
    case "relay":
      return relayRole(Number(values.port));
    case "ws-client":
      return wsClient(
        Number(values.port),
        values.path,
        values.host,
        Number(values.conns),
        Number(values.seconds),
      );
    default:
      throw new Error(`Cannot run role "${values.role}": unknown`);
  }
}

if (import.meta.main) await main();
