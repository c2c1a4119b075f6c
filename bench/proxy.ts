/**
 * `deno task bench:proxy`: the product against nginx and HAProxy on one backend, in one run
 * (targets.md: only side-by-side ratios mean anything on these shared machines). Everything
 * runs on loopback as child processes. The headline row is `plane proxy` started the way users
 * start it (`proxy_plane.ts`: deno.json's `plane` permissions, default flags and log
 * level) behind a fake controller whose route carries a `user` and a `user_data` object;
 * requests go through `/<token>/` with the cluster as `Host`. nginx (1 worker) and HAProxy
 * (`nbthread 1`) route the same URL and set the same six headers (`proxy_nginx.ts`,
 * `proxy_haproxy.ts`). Beneath them: the engine alone with a `decide` that forwards and
 * adds one header (`proxy_roles.ts`), and the floor. Load from wrk (-t1 -c50) and a
 * WebSocket load generator (10,000 sockets, or as many as the descriptor limit allows, through
 * fresh nginx, `plane proxy` and engine processes: messages/s, RSS per socket, p50/p99 round
 * trip).
 *
 * Throughput on these machines swings 2× within minutes, so one long run per path compares
 * whatever the neighbours were doing at the time. Instead every path runs in several short
 * rounds, interleaved and in alternating order, and the bench reports medians with their
 * spread. The steadier figure is CPU time per request of each proxy process (utime + stime
 * from /proc over the round, all threads, divided by the requests wrk counted): a noisy
 * neighbour slows a proxy down but hardly changes what each request costs it.
 *
 * The last row is the floor: a byte relay on the same `Deno.Conn` streams with no HTTP work
 * at all (`--role=relay`). Its CPU per request against nginx's bounds what any engine on this
 * runtime can reach; `plane proxy`'s distance from it is what routing and HTTP cost. The
 * targets (issue 13) are printed beneath the table: `plane proxy` CPU/req ≤ 1.15× the floor's,
 * req/s ≥ 0.9× the floor's, added p99 ≤ 1.5× nginx's.
 *
 * Options: `--rounds=5 --seconds=3 --backends=deno,net --conns=10000 --ws-seconds=5`
 * (`--conns=0` skips WebSockets), `--plane-args="--flag value"` (appended to `plane proxy`'s
 * command line), `--plane-ref=DIR` (adds a row for `plane proxy` from another checkout, e.g.
 * `git archive main | tar -x -C DIR`: before and after a change, in the same run).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ensureTools, startNginx } from "./proxy_nginx.ts";
import { startHaproxy } from "./proxy_haproxy.ts";
import { startPlaneProxy } from "./proxy_plane.ts";
import { measureWorkerSpread } from "./proxy_worker_spread.ts";
import { cpuSeconds, linesOf, median, out, rssKiB, spread } from "./measure.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ROLES = new URL("./proxy_roles.ts", import.meta.url).pathname;

// ---- orchestration ------------------------------------------------------------------------

interface Child {
  pid: number;
  port: number;
  process: Deno.ChildProcess;
  lines: AsyncIterator<string>;
  stop(): Promise<void>;
}

async function spawnRole(args: string[], stdin: "piped" | "null" = "null"): Promise<Child> {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", ROLES, ...args],
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

interface WrkResult {
  rps: number;
  requests: number;
  p50: number;
  p99: number;
}

function parseLatencyMs(text: string): number {
  const m = text.match(/^([\d.]+)(us|ms|s)$/);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

/** Where wrk sends its requests: a path (default `/`) and a `Host` (default the address). */
interface Target {
  path?: string;
  host?: string;
}

async function runWrk(port: number, seconds: number, target: Target = {}): Promise<WrkResult> {
  const host = target.host === undefined ? [] : ["-H", `Host: ${target.host}`];
  const r = await new Deno.Command("wrk", {
    args: [
      "-t1",
      "-c50",
      `-d${seconds}s`,
      "--latency",
      ...host,
      `http://127.0.0.1:${port}${target.path ?? "/"}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = decoder.decode(r.stdout);
  const rps = Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN);
  const requests = Number(text.match(/(\d+) requests in/)?.[1] ?? NaN);
  const p50 = parseLatencyMs(text.match(/\s50%\s+(\S+)/)?.[1] ?? "");
  const p99 = parseLatencyMs(text.match(/\s99%\s+(\S+)/)?.[1] ?? "");
  if (/Non-2xx|Socket errors/.test(text)) {
    out(`  wrk reported errors on :${port}: ${text.match(/(Non-2xx.*|Socket errors.*)/)?.[0]}`);
  }
  return { rps, requests, p50, p99 };
}

interface Path extends Target {
  name: string;
  port: number;
  /** The process whose CPU time per request is reported (none for direct). */
  pid: (() => number) | null;
}

interface Sample extends WrkResult {
  /** Microseconds of proxy CPU per request served. */
  cpuUs: number;
}

/** One wrk round on `path`, with the proxy's CPU time over it. */
async function measure(path: Path, seconds: number): Promise<Sample> {
  const pid = path.pid?.() ?? NaN;
  const before = cpuSeconds(pid);
  const r = await runWrk(path.port, seconds, path);
  const cpuUs = (cpuSeconds(pid) - before) * 1e6 / r.requests;
  return { ...r, cpuUs };
}

/**
 * `rounds` rounds over every path, each path `seconds` long, in alternating order (forward,
 * then backward) so no path always runs first or last. Returns samples per path.
 */
async function interleaved(paths: Path[], rounds: number, seconds: number): Promise<Sample[][]> {
  const samples: Sample[][] = paths.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const order = paths.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) samples[i]!.push(await measure(paths[i]!, seconds));
  }
  return samples;
}

const PLANE_ROW = "plane proxy (as shipped)";
const FLOOR_ROW = "floor: bare byte relay, no HTTP";

function report(paths: Path[], samples: Sample[][]): void {
  const directIdx = paths.findIndex((p) => p.name === "direct");
  const nginxIdx = paths.findIndex((p) => p.name === "nginx");
  const med = (i: number, f: (s: Sample) => number) => i < 0 ? NaN : median(samples[i]!.map(f));
  const nginxRps = med(nginxIdx, (s) => s.rps);
  const nginxCpu = med(nginxIdx, (s) => s.cpuUs);
  out(
    "| path | req/s (median) | req/s min–max | vs nginx | p50 ms | p99 ms (median) | " +
      "p99 min–max | added p99 ms | CPU µs/req (median) | CPU min–max | CPU vs nginx |",
  );
  out("|---|---|---|---|---|---|---|---|---|---|---|");
  paths.forEach((p, i) => {
    const s = samples[i]!;
    const rps = med(i, (x) => x.rps);
    const cpu = med(i, (x) => x.cpuUs);
    // Added latency: this path's p99 minus direct's p99 in the same round, median over rounds.
    const added = directIdx < 0 || i === directIdx
      ? NaN
      : median(s.map((x, r) => x.p99 - samples[directIdx]![r]!.p99));
    out(
      `| ${p.name} | ${fmt(rps)} | ${spread(s.map((x) => x.rps), 0)} | ${
        fmt(rps / nginxRps, 2)
      }× | ${fmt(med(i, (x) => x.p50), 2)} | ${fmt(med(i, (x) => x.p99), 2)} | ${
        spread(s.map((x) => x.p99), 2)
      } | ${i === directIdx ? "-" : fmt(added, 2)} | ${p.pid === null ? "-" : fmt(cpu, 1)} | ${
        p.pid === null ? "-" : spread(s.map((x) => x.cpuUs), 1)
      } | ${p.pid === null ? "-" : fmt(cpu / nginxCpu, 2) + "×"} |`,
    );
  });
  const planeIdx = paths.findIndex((p) => p.name === PLANE_ROW);
  const floorIdx = paths.findIndex((p) => p.name === FLOOR_ROW);
  if (planeIdx < 0) return;
  const addedP99 = (i: number) =>
    i < 0 || directIdx < 0
      ? NaN
      : median(samples[i]!.map((x, r) => x.p99 - samples[directIdx]![r]!.p99));
  const ratio = (i: number, j: number, f: (s: Sample) => number) =>
    i < 0 || j < 0 ? NaN : med(i, f) / med(j, f);
  const check = (value: number, ok: boolean) =>
    `${fmt(value, 2)}× ${Number.isFinite(value) ? (ok ? "(met)" : "(NOT met)") : ""}`;
  const cpuVsFloor = ratio(planeIdx, floorIdx, (s) => s.cpuUs);
  const rpsVsFloor = ratio(planeIdx, floorIdx, (s) => s.rps);
  const p99VsNginx = addedP99(planeIdx) / addedP99(nginxIdx);
  out("");
  out(`plane proxy CPU/req vs floor: ${check(cpuVsFloor, cpuVsFloor <= 1.15)} (target ≤ 1.15×)`);
  out(`plane proxy req/s vs floor: ${check(rpsVsFloor, rpsVsFloor >= 0.9)} (target ≥ 0.9×)`);
  out(
    `plane proxy added p99 vs nginx: ${check(p99VsNginx, p99VsNginx <= 1.5)} (target ≤ 1.5×)`,
  );
  out(
    `plane proxy vs nginx: req/s ${fmt(ratio(planeIdx, nginxIdx, (s) => s.rps), 2)}×, CPU/req ${
      fmt(ratio(planeIdx, nginxIdx, (s) => s.cpuUs), 2)
    }×; floor vs nginx: CPU/req ${fmt(ratio(floorIdx, nginxIdx, (s) => s.cpuUs), 2)}×`,
  );
  const haproxyIdx = paths.findIndex((p) => p.name === "haproxy");
  if (haproxyIdx >= 0) {
    out(
      `plane proxy vs haproxy: req/s ${
        fmt(ratio(planeIdx, haproxyIdx, (s) => s.rps), 2)
      }×, CPU/req ${fmt(ratio(planeIdx, haproxyIdx, (s) => s.cpuUs), 2)}×`,
    );
  }
}

interface WsResult {
  opened: number;
  failed: number;
  rate: number;
  kibPerConn: number;
  p50: number;
  p99: number;
}

/**
 * `conns` concurrent WebSockets through the proxy on `port` (one message in flight each, for
 * `seconds`): messages/s, the proxy's RSS growth per open socket (read before the first opens
 * and with all open), p50/p99 message round trip, and how many could not be opened.
 */
async function runWs(
  target: { port: number; path: string; host: string },
  pid: () => number,
  conns: number,
  seconds: number,
): Promise<WsResult> {
  const before = rssKiB(pid());
  const client = await spawnRole(
    [
      "--role=ws-client",
      `--port=${target.port}`,
      `--path=${target.path}`,
      `--host=${target.host}`,
      `--conns=${conns}`,
      `--seconds=${seconds}`,
    ],
    "piped",
  );
  // spawnRole consumed the first line (OPEN opened failed) as the "port".
  const opened = client.port;
  const open = rssKiB(pid());
  const writer = client.process.stdin.getWriter();
  await writer.write(encoder.encode("GO\n"));
  const line = await client.lines.next();
  await writer.close().catch(() => {});
  await client.process.status;
  const [, messages, ms, p50, p99] = (line.value ?? "RESULT 0 1 NaN NaN").split(" ").map(Number);
  return {
    opened,
    failed: conns - opened,
    rate: messages! / (ms! / 1000),
    kibPerConn: (open - before) / Math.max(1, opened),
    p50: p50!,
    p99: p99!,
  };
}

/** The soft and hard `RLIMIT_NOFILE` of this process (`/proc/self/limits`). */
function fileLimits(): { soft: number; hard: number } {
  const m = /Max open files\s+(\d+)\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/limits"));
  return { soft: Number(m?.[1] ?? 1024), hard: Number(m?.[2] ?? 1024) };
}

/**
 * Raises this process's soft descriptor limit to the hard one (children inherit it): 10,000
 * proxied WebSockets take two descriptors each in the proxy. Raising the hard limit needs
 * CAP_SYS_RESOURCE, which these machines do not give (hard limit 20,000 here).
 */
async function raiseFileLimit(): Promise<{ soft: number; hard: number }> {
  const { soft, hard } = fileLimits();
  if (soft < hard) {
    await new Deno.Command("prlimit", {
      args: ["--pid", String(Deno.pid), `--nofile=${hard}:${hard}`],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => null);
  }
  return fileLimits();
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "5" },
      seconds: { type: "string", default: "3" },
      conns: { type: "string", default: "10000" },
      "ws-seconds": { type: "string", default: "5" },
      backends: { type: "string", default: "deno,net" },
      "plane-args": { type: "string", default: "" },
      "plane-ref": { type: "string" },
    },
  });
  const planeArgs = values["plane-args"].split(/\s+/).filter(Boolean);
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const wsSeconds = Number(values["ws-seconds"]);
  const conns = Number(values.conns);
  const tools = await ensureTools();
  const limits = await raiseFileLimit();
  // Two descriptors per proxied socket, plus the listener, the controller link and slack.
  const wsCapacity = Math.floor((limits.soft - 100) / 2);
  out(
    `proxy bench: wrk -t1 -c50, ${rounds} interleaved rounds of ${seconds}s per path, on ` +
      `loopback; ${Deno.version.deno}; ${navigator.hardwareConcurrency} cores; ` +
      `${new Date().toISOString().slice(0, 16)}Z; load average ${Deno.loadavg().join(" ")}`,
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
      const relay = await spawnRole(["--role=relay", `--port=${backend.port}`]);
      children.push(relay);
      const plane = await startPlaneProxy(backend.port, planeArgs);
      children.push(plane);
      const ref = values["plane-ref"] === undefined ? null : await startPlaneProxy(
        backend.port,
        planeArgs,
        { main: `${values["plane-ref"]}/cli/main.ts` },
      );
      if (ref !== null) children.push(ref);
      const route = { token: plane.token };
      const nginx = tools.nginx !== null
        ? await startNginx(tools.nginx, backend.port, route)
        : null;
      if (nginx !== null) children.push(nginx);
      const haproxy = tools.haproxy !== null
        ? await startHaproxy(tools.haproxy, backend.port, route)
        : null;
      if (haproxy !== null) children.push(haproxy);
      out(
        `\nbackend: ${
          backendKind === "deno" ? "Deno.serve hello world" : "node:net raw responder"
        }`,
      );
      if (!tools.wrk) continue;
      // The token is only a path segment to the backend's direct row: it answers any path.
      const routed = { path: `/${plane.token}/`, host: plane.cluster };
      const paths: Path[] = [
        { name: "direct", port: backend.port, pid: null },
        { name: PLANE_ROW, port: plane.port, pid: () => plane.pid, ...routed },
      ];
      if (ref !== null) {
        paths.push({
          name: `plane proxy from ${values["plane-ref"]}`,
          port: ref.port,
          pid: () => ref.pid,
          path: `/${ref.token}/`,
          host: ref.cluster,
        });
      }
      if (nginx !== null) {
        paths.push({ name: "nginx", port: nginx.port, pid: () => nginx.workerPid(), ...routed });
      }
      if (haproxy !== null) {
        paths.push({ name: "haproxy", port: haproxy.port, pid: () => haproxy.pid, ...routed });
      }
      paths.push(
        { name: "engine (Deno.listen → handleConn)", port: engine.port, pid: () => engine.pid },
        { name: "engine (node:net → handle)", port: engineNode.port, pid: () => engineNode.pid },
        { name: FLOOR_ROW, port: relay.port, pid: () => relay.pid },
      );
      // Short warm-up so the JIT and the upstream pools are in their steady state.
      for (const p of paths.slice(1)) await runWrk(p.port, 1, p);
      report(paths, await interleaved(paths, rounds, seconds));
      if (backendKind === "deno") {
        const spread = await measureWorkerSpread(backend.port, runWrk, seconds);
        const total = spread.perWorker.reduce((a, b) => a + b, 0);
        out(
          `\nplane proxy --workers 2: ${seconds}s of wrk spread ${
            spread.perWorker.map((n) => `${n} (${fmt((100 * n) / Math.max(1, total))}%)`)
              .join(" / ")
          } responses over the workers; a revoked token answered 410 on all 16 keep-alive ` +
            `connections (held by ${spread.workersAsking} of 2 workers) ${
              spread.revokeMs === null ? "NOT within 5 s" : `${fmt(spread.revokeMs, 1)} ms`
            } after TokenRevoked (target ≤ 100 ms on both workers)`,
        );
      }
      if (backendKind === "deno" && conns > 0) {
        // Fresh proxies, so their RSS growth is the sockets' and not the HTTP rounds' heap.
        const wsPlane = await startPlaneProxy(backend.port, planeArgs);
        children.push(wsPlane);
        const wsEngine = await spawnRole(["--role=engine", `--port=${backend.port}`]);
        children.push(wsEngine);
        const wsConns = Math.min(conns, wsCapacity);
        out(
          `\nWebSockets: ${wsConns} concurrent echo sockets through each proxy` +
            (wsConns < conns
              ? ` (${conns} asked; a proxy holds two descriptors per socket and the hard ` +
                `descriptor limit here is ${limits.hard})`
              : "") +
            `, ${wsSeconds}s, one 32-byte message in flight per socket; fresh proxy processes`,
        );
        out(
          "| proxy | opened | refused | messages/s | vs nginx | RSS KiB per socket | p50 ms | " +
            "p99 ms |",
        );
        out("|---|---|---|---|---|---|---|---|");
        const direct = { path: "/ws", host: "127.0.0.1" };
        const wsNginx = nginx !== null
          ? await runWs(
            { port: nginx.port, ...direct },
            () => nginx.workerPid(),
            wsConns,
            wsSeconds,
          )
          : null;
        const rows: [string, WsResult | null][] = [
          ["nginx", wsNginx],
          [
            PLANE_ROW,
            await runWs(
              { port: wsPlane.port, path: `/${wsPlane.token}/ws`, host: wsPlane.cluster },
              () => wsPlane.pid,
              wsConns,
              wsSeconds,
            ),
          ],
          [
            "engine only",
            await runWs({ port: wsEngine.port, ...direct }, () => wsEngine.pid, wsConns, wsSeconds),
          ],
        ];
        for (const [name, r] of rows) {
          if (r === null) continue;
          out(
            `| ${name} | ${r.opened} | ${r.failed} | ${fmt(r.rate)} | ${
              wsNginx !== null ? fmt(r.rate / wsNginx.rate, 2) : "n/a"
            }× | ${fmt(r.kibPerConn, 1)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |`,
          );
        }
        out(
          "targets (issue 13): ≤ 10 KiB RSS per socket, relay rate ≥ 0.9× nginx's, every socket " +
            "opened",
        );
      }
      for (const c of children.splice(0)) await c.stop();
    }
  } finally {
    for (const c of children) await c.stop();
  }
}

if (import.meta.main) await main();
