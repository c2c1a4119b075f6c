/**
 * The child processes of `bench_proxy.ts`, one role per process: `--role=backend-deno`,
 * `--role=backend-net`, `--role=engine` (`--port`, `--listener=deno|node`), `--role=relay`
 * (`--port`), `--role=ws-client`
 * (`--url`, `--conns`, `--seconds`). Each prints `READY <port>` (or `OPEN <n>`) first.
 *
 * @module
 */
import net from "node:net";
import { Buffer } from "node:buffer";
import { parseArgs } from "node:util";
import { createEngine } from "./engine.ts";
import { connectStream, ConnStream } from "./_conn_stream.ts";
import type { ByteStream } from "./_stream.ts";
import type { Header } from "./types.ts";

const encoder = new TextEncoder();

function out(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

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

/**
 * Opens `conns` WebSockets, prints OPEN, waits for "GO" on stdin, then each socket sends a
 * message and waits for its echo, for `seconds`; prints RESULT <messages> <ms>.
 */
async function wsClient(url: string, conns: number, seconds: number): Promise<void> {
  const sockets: WebSocket[] = [];
  let opened = 0;
  const batch = 100;
  for (let i = 0; i < conns; i += batch) {
    const group = [];
    for (let j = i; j < Math.min(conns, i + batch); j++) {
      const ws = new WebSocket(url);
      sockets.push(ws);
      group.push(
        new Promise<void>((resolve, reject) => {
          ws.onopen = () => {
            opened++;
            resolve();
          };
          ws.onerror = () => reject(new Error("Cannot open WebSocket"));
        }),
      );
    }
    await Promise.all(group);
  }
  out(`OPEN ${opened}`);
  const reader = Deno.stdin.readable.getReader();
  await reader.read();
  reader.releaseLock();
  let messages = 0;
  let running = true;
  const payload = "x".repeat(32);
  const start = performance.now();
  for (const ws of sockets) {
    ws.onmessage = () => {
      messages++;
      if (running) ws.send(payload);
    };
    ws.send(payload);
  }
  await new Promise((r) => setTimeout(r, seconds * 1000));
  running = false;
  const ms = performance.now() - start;
  out(`RESULT ${messages} ${ms.toFixed(0)}`);
  for (const ws of sockets) ws.close();
  Deno.exit(0);
}

function main(): Promise<void> | void {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      role: { type: "string" },
      port: { type: "string" },
      url: { type: "string" },
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
      return wsClient(values.url!, Number(values.conns), Number(values.seconds));
    default:
      throw new Error(`Cannot run role "${values.role}": unknown`);
  }
}

if (import.meta.main) await main();
