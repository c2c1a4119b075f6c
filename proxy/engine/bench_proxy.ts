/**
 * `deno task bench:proxy`: the engine against nginx on one backend, in one run (targets.md:
 * only side-by-side ratios mean anything on these shared machines). Everything runs on
 * loopback as child processes: backends, nginx (1 worker, upstream keep-alive), our engine
 * with a `decide` that forwards and adds one header; load from wrk (-t1 -c50 -d8s) and a
 * WebSocket load generator (1,000 sockets). Prints req/s, p50/p99 and ratios vs nginx.
 *
 * Roles (the same file, run as child processes): `--role=backend-deno`, `--role=backend-net`,
 * `--role=engine`, `--role=ws-client`.
 *
 * @module
 */
import net from "node:net";
import { Buffer } from "node:buffer";
import { parseArgs } from "node:util";
import { createEngine } from "./engine.ts";
import type { Header } from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function out(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

const HELLO = "Hello, world";

// ---- roles --------------------------------------------------------------------------------

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

// ---- orchestration ------------------------------------------------------------------------

interface Child {
  pid: number;
  port: number;
  process: Deno.ChildProcess;
  lines: AsyncIterator<string>;
  stop(): Promise<void>;
}

async function* linesOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let i;
    while ((i = pending.indexOf("\n")) !== -1) {
      yield pending.slice(0, i);
      pending = pending.slice(i + 1);
    }
  }
}

async function spawnRole(args: string[], stdin: "piped" | "null" = "null"): Promise<Child> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", import.meta.filename!, ...args],
    stdout: "piped",
    stderr: "inherit",
    stdin,
  }).spawn();
  const lines = linesOf(process.stdout);
  const first = await lines.next();
  const port = first.done ? 0 : Number(first.value.split(" ")[1]);
  return {
    pid: process.pid,
    port,
    process,
    lines,
    async stop() {
      try {
        process.kill("SIGKILL");
      } catch { /* already gone */ }
      await process.status;
    },
  };
}

/** nginx's worker: the master's first child. */
function firstChild(pid: number): number {
  try {
    const children = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
    return Number(children.split(/\s+/)[0] ?? NaN);
  } catch {
    return NaN;
  }
}

function rssKiB(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = status.match(/VmRSS:\s+(\d+) kB/);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

async function which(cmd: string): Promise<boolean> {
  const r = await new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
    .output();
  return r.success;
}

async function ensureTools(): Promise<{ nginx: string | null; wrk: boolean }> {
  const nginxPath = async () => {
    for (const p of ["/usr/sbin/nginx", "/usr/bin/nginx"]) {
      try {
        await Deno.stat(p);
        return p;
      } catch { /* next */ }
    }
    return (await which("nginx")) ? "nginx" : null;
  };
  let nginx = await nginxPath();
  let wrk = await which("wrk");
  if (nginx === null || !wrk) {
    const missing = [nginx === null ? "nginx" : "", wrk ? "" : "wrk"].filter(Boolean);
    out(`installing ${missing.join(" ")} with apt-get…`);
    const install = () =>
      new Deno.Command("apt-get", {
        args: ["install", "-y", "-qq", ...missing],
        stdout: "null",
        stderr: "null",
        env: { DEBIAN_FRONTEND: "noninteractive" },
      }).output().catch(() => ({ success: false }));
    let r = await install();
    if (!r.success) {
      await new Deno.Command("apt-get", { args: ["update", "-qq"], stdout: "null", stderr: "null" })
        .output().catch(() => null);
      r = await install();
    }
    nginx = await nginxPath();
    wrk = await which("wrk");
    if (nginx === null) out("nginx could not be installed: measuring without it");
    if (!wrk) out("wrk could not be installed: HTTP throughput cannot be measured");
  }
  return { nginx, wrk };
}

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
}

function parseLatencyMs(text: string): number {
  const m = text.match(/^([\d.]+)(us|ms|s)$/);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

async function runWrk(port: number, seconds: number): Promise<WrkResult> {
  const r = await new Deno.Command("wrk", {
    args: ["-t1", "-c50", `-d${seconds}s`, "--latency", `http://127.0.0.1:${port}/`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = decoder.decode(r.stdout);
  const rps = Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN);
  const p50 = parseLatencyMs(text.match(/\s50%\s+(\S+)/)?.[1] ?? "");
  const p99 = parseLatencyMs(text.match(/\s99%\s+(\S+)/)?.[1] ?? "");
  if (/Non-2xx|Socket errors/.test(text)) {
    out(`  wrk reported errors on :${port}: ${text.match(/(Non-2xx.*|Socket errors.*)/)?.[0]}`);
  }
  return { rps, p50, p99 };
}

interface Nginx {
  port: number;
  workerPid(): number;
  stop(): Promise<void>;
}

async function startNginx(binary: string, backendPort: number): Promise<Nginx> {
  const dir = await Deno.makeTempDir({ prefix: "bench_nginx_" });
  const port = freePort();
  const conf = `
worker_processes 1;
daemon off;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream backend { server 127.0.0.1:${backendPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} backlog=1024;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Bench 1;
      proxy_read_timeout 3600s;
    }
  }
}
`;
  await Deno.writeTextFile(`${dir}/nginx.conf`, conf);
  const process = new Deno.Command(binary, {
    args: ["-p", dir, "-c", `${dir}/nginx.conf`],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitForPort(port);
  return {
    port,
    workerPid: () => firstChild(process.pid),
    async stop() {
      try {
        process.kill("SIGQUIT");
      } catch { /* gone */ }
      const timer = setTimeout(() => {
        try {
          process.kill("SIGKILL");
        } catch { /* gone */ }
      }, 3000);
      await process.status;
      clearTimeout(timer);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitForPort(port: number): Promise<void> {
  const end = Date.now() + 5000;
  while (Date.now() < end) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error(`Cannot reach 127.0.0.1:${port}: nothing listening after 5 s`);
}

interface WsResult {
  rate: number;
  kibPerConn: number;
}

async function runWs(
  port: number,
  pid: () => number,
  conns: number,
  seconds: number,
): Promise<WsResult> {
  const before = rssKiB(pid());
  const client = await spawnRole(
    [
      "--role=ws-client",
      `--url=ws://127.0.0.1:${port}/ws`,
      `--conns=${conns}`,
      `--seconds=${seconds}`,
    ],
    "piped",
  );
  // spawnRole consumed the first line (OPEN n) as the "port".
  if (client.port !== conns) {
    throw new Error(`Cannot open ${conns} WebSockets: opened ${client.port}`);
  }
  const open = rssKiB(pid());
  const writer = client.process.stdin.getWriter();
  await writer.write(encoder.encode("GO\n"));
  const line = await client.lines.next();
  await writer.close().catch(() => {});
  await client.process.status;
  const [, messages, ms] = (line.value ?? "RESULT 0 1").split(" ").map(Number);
  return { rate: messages! / (ms! / 1000), kibPerConn: (open - before) / conns };
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      role: { type: "string" },
      port: { type: "string" },
      url: { type: "string" },
      conns: { type: "string", default: "1000" },
      seconds: { type: "string", default: "8" },
      "ws-seconds": { type: "string", default: "5" },
      backends: { type: "string", default: "deno,net" },
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
    case "ws-client":
      return wsClient(values.url!, Number(values.conns), Number(values.seconds));
  }

  const seconds = Number(values.seconds);
  const wsSeconds = Number(values["ws-seconds"]);
  const conns = Number(values.conns);
  const tools = await ensureTools();
  out(
    `proxy bench: wrk -t1 -c50 -d${seconds}s on loopback; ${Deno.version.deno}; ${navigator.hardwareConcurrency} cores`,
  );
  const children: { stop(): Promise<void> }[] = [];
  try {
    for (const backendKind of values.backends.split(",")) {
      const backend = await spawnRole([`--role=backend-${backendKind}`]);
      children.push(backend);
      const engine = await spawnRole(["--role=engine", `--port=${backend.port}`]);
      children.push(engine);
      const engineNode = await spawnRole([
        "--role=engine",
        `--port=${backend.port}`,
        "--listener=node",
      ]);
      children.push(engineNode);
      const nginx = tools.nginx !== null ? await startNginx(tools.nginx, backend.port) : null;
      if (nginx !== null) children.push(nginx);
      out(
        `\nbackend: ${
          backendKind === "deno" ? "Deno.serve hello world" : "node:net raw responder"
        }`,
      );
      if (!tools.wrk) continue;
      // Short warm-up so the JIT and the upstream pools are in their steady state.
      await runWrk(engine.port, 1);
      await runWrk(engineNode.port, 1);
      if (nginx !== null) await runWrk(nginx.port, 1);
      const direct = await runWrk(backend.port, seconds);
      const viaNginx = nginx !== null ? await runWrk(nginx.port, seconds) : null;
      const viaEngine = await runWrk(engine.port, seconds);
      const viaEngineNode = await runWrk(engineNode.port, seconds);
      const rows: [string, WrkResult | null][] = [
        ["direct", direct],
        ["nginx", viaNginx],
        ["engine (Deno.listen → handleConn)", viaEngine],
        ["engine (node:net → handle)", viaEngineNode],
      ];
      out("| path | req/s | p50 ms | p99 ms | added p99 ms | req/s vs nginx |");
      out("|---|---|---|---|---|---|");
      for (const [name, r] of rows) {
        if (r === null) continue;
        const ratio = viaNginx !== null ? r.rps / viaNginx.rps : NaN;
        out(
          `| ${name} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${
            name === "direct" ? "-" : fmt(r.p99 - direct.p99, 2)
          } | ${fmt(ratio, 2)}× |`,
        );
      }
      if (backendKind === "deno" && conns > 0) {
        out(
          `\nWebSockets: ${conns} concurrent echo sockets, ${wsSeconds}s, one message in flight each`,
        );
        out("| proxy | messages/s | RSS KiB per connection | msgs/s vs nginx |");
        out("|---|---|---|---|");
        const wsNginx = nginx !== null
          ? await runWs(nginx.port, () => nginx.workerPid(), conns, wsSeconds)
          : null;
        const wsEngine = await runWs(engine.port, () => engine.pid, conns, wsSeconds);
        for (const [name, r] of [["nginx", wsNginx], ["engine", wsEngine]] as const) {
          if (r === null) continue;
          out(
            `| ${name} | ${fmt(r.rate)} | ${fmt(r.kibPerConn, 1)} | ${
              wsNginx !== null ? fmt(r.rate / wsNginx.rate, 2) : "n/a"
            }× |`,
          );
        }
      }
      for (const c of children.splice(0)) await c.stop();
    }
  } finally {
    for (const c of children) await c.stop();
  }
}

if (import.meta.main) await main();
