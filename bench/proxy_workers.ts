/**
 * Workers or processes for `--workers N` (issue 13, ARCHITECTURE.md §5, step 6): the same routing
 * engine twice on one port, once as `plane proxy --workers 2` (two Deno `Worker`s in one
 * process, one controller socket in its main thread) and once as two processes that each run
 * what one worker runs (`createProxy` + `serveProxy` with `reusePort`, each with its own
 * controller socket), sharing the port through `SO_REUSEPORT`. Both sit behind one fake
 * controller whose route carries a `user` and a `user_data` object, in front of one backend
 * (`proxy_roles.ts --role=backend-net`); requests go through `/<token>/` with the
 * cluster as `Host`, as in `proxy.ts`.
 *
 * Load: `wrk -t2 -c50`, interleaved rounds in alternating order, medians with their spread.
 * Reported per setup: req/s, CPU µs per request (utime + stime of every process of the setup,
 * all threads, from /proc, over the round, divided by the requests wrk counted), RSS of every
 * process after the rounds, and how the CPU split between the two engines of the process setup
 * (the kernel's spreading). Loopback only; bounded by `--rounds=5 --seconds=3`.
 *
 * Run: `deno run --allow-all bench/proxy_workers.ts` (not part of the test suite).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startPlaneProxy } from "./proxy_plane.ts";
import { waitForPort } from "./proxy_nginx.ts";
import { freePort } from "../testing/free_port.ts";
import { planePermissions } from "../tests/plane_process.ts";
import { startFakeController } from "../proxy/testing/fake_controller.ts";
import { randomToken } from "../shared/tokens.ts";
import type { BackendName } from "../shared/names.ts";
import { createLogger } from "../shared/log.ts";
import { createProxy } from "../proxy/mod.ts";
import { serveProxy } from "../proxy/serve.ts";
import { ConnectionCap } from "../proxy/connection_cap.ts";
import { delay } from "../shared/delay.ts";
import { cpuSeconds, linesOf, median, out, rssKiB, spread } from "./measure.ts";

const decoder = new TextDecoder();
const SELF = new URL(import.meta.url).pathname;
const ROLES = new URL("./proxy_roles.ts", import.meta.url).pathname;

interface Setup {
  name: string;
  port: number;
  path: string;
  host: string;
  pids: number[];
  stop(): Promise<void>;
}

interface Sample {
  rps: number;
  cpuUs: number;
  /** Each process's share of the round's CPU. */
  shares: number[];
}

async function wrk(setup: Setup, seconds: number): Promise<{ rps: number; requests: number }> {
  const r = await new Deno.Command("wrk", {
    args: [
      "-t2",
      "-c50",
      `-d${seconds}s`,
      "-H",
      `Host: ${setup.host}`,
      `http://127.0.0.1:${setup.port}${setup.path}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = decoder.decode(r.stdout);
  if (/Non-2xx|Socket errors/.test(text)) {
    out(`  wrk errors on ${setup.name}: ${text.match(/(Non-2xx.*|Socket errors.*)/)?.[0]}`);
  }
  return {
    rps: Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN),
    requests: Number(text.match(/(\d+) requests in/)?.[1] ?? NaN),
  };
}

async function measure(setup: Setup, seconds: number): Promise<Sample> {
  const before = setup.pids.map(cpuSeconds);
  const r = await wrk(setup, seconds);
  const used = setup.pids.map((pid, i) => cpuSeconds(pid) - before[i]!);
  const total = used.reduce((a, b) => a + b, 0);
  return { rps: r.rps, cpuUs: total * 1e6 / r.requests, shares: used.map((u) => u / total) };
}

async function startBackend(): Promise<{ port: number; stop(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", ROLES, "--role=backend-net"],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const first = await linesOf(child.stdout).next();
  const port = first.done ? 0 : Number(first.value.split(" ")[1]);
  return {
    port,
    async stop() {
      child.kill("SIGKILL");
      await child.status;
    },
  };
}

/**
 * Two processes on one port, each one proxy engine as a worker runs it (`--role=engine`
 * below), with deno.json's `plane` permissions (which include `--unstable-net`).
 */
async function startProcesses(backendPort: number, count: number): Promise<Setup> {
  const controller = startFakeController();
  const port = freePort();
  const cluster = `plane.bench:${port}`;
  const token = randomToken();
  controller.routes.set(token, {
    "backend_id": "bench-backend" as BackendName,
    address: `127.0.0.1:${backendPort}` as never,
    "secret_token": "bench-secret-token",
    cluster,
    user: "bench-user",
    "user_data": { role: "editor", team: "bench" },
    subdomain: null,
  });
  const children = Array.from({ length: count }, () =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-q",
        ...planePermissions(),
        SELF,
        "--role=engine",
        `--port=${port}`,
        `--controller-url=${controller.url}`,
        `--cluster=${cluster}`,
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
    }).spawn());
  const stop = async () => {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    }
    await controller.close();
  };
  await waitForPort(port);
  const end = Date.now() + 20_000;
  while (controller.open < count) {
    if (Date.now() > end) {
      await stop();
      throw new Error(`Cannot start ${count} proxy processes: not all connected within 20 s`);
    }
    await delay(50);
  }
  return {
    name: `${count} processes (SO_REUSEPORT)`,
    port,
    path: `/${token}/`,
    host: cluster,
    pids: children.map((c) => c.pid),
    stop,
  };
}

/** `--role=engine`: what one proxy worker runs, in its own process, with its own link. */
async function engineRole(port: number, controllerUrl: string, cluster: string): Promise<void> {
  // The level and cap of `plane proxy` by default.
  const log = createLogger("proxy", { level: "info" });
  const proxy = createProxy({ cluster, controllerUrl, log });
  await serveProxy(proxy, {
    hostname: "127.0.0.1",
    httpPort: port,
    reusePort: true,
    connectionCap: new ConnectionCap(10_000),
    log,
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      role: { type: "string" },
      port: { type: "string" },
      "controller-url": { type: "string" },
      cluster: { type: "string" },
      rounds: { type: "string", default: "5" },
      seconds: { type: "string", default: "3" },
    },
  });
  if (values.role === "engine") {
    return await engineRole(Number(values.port), values["controller-url"]!, values.cluster!);
  }
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const backend = await startBackend();
  const setups: Setup[] = [];
  try {
    const plane = await startPlaneProxy(backend.port, ["--workers", "2"]);
    setups.push({
      name: "plane proxy --workers 2 (Workers)",
      port: plane.port,
      path: `/${plane.token}/`,
      host: plane.cluster,
      pids: [plane.pid],
      stop: plane.stop,
    });
    setups.push(await startProcesses(backend.port, 2));
    // Warm-up: one short round each, not counted (JIT, upstream pools).
    for (const s of setups) await wrk(s, 1);
    const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
    out(
      `workers vs processes: wrk -t2 -c50, ${rounds} interleaved rounds of ${seconds}s, ` +
        `${navigator.hardwareConcurrency} cores, load average ${load}, ${new Date().toISOString()}`,
    );
    const samples: Sample[][] = setups.map(() => []);
    for (let round = 0; round < rounds; round++) {
      const order = setups.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      for (const i of order) samples[i]!.push(await measure(setups[i]!, seconds));
    }
    out("| setup | req/s (median) | req/s min–max | CPU µs/req (median) | CPU min–max | RSS MiB |");
    out("|---|---|---|---|---|---|");
    setups.forEach((s, i) => {
      const xs = samples[i]!;
      const rss = s.pids.map((pid) => rssKiB(pid) / 1024);
      const rssText = rss.length === 1
        ? rss[0]!.toFixed(0)
        : `${rss.reduce((a, b) => a + b, 0).toFixed(0)} (${
          rss.map((r) => r.toFixed(0)).join(" + ")
        })`;
      out(
        `| ${s.name} | ${median(xs.map((x) => x.rps)).toFixed(0)} | ${
          spread(xs.map((x) => x.rps), 0)
        } | ` +
          `${median(xs.map((x) => x.cpuUs)).toFixed(1)} | ${
            spread(xs.map((x) => x.cpuUs), 1)
          } | ${rssText} |`,
      );
    });
    const shares = samples[1]!.map((x) => Math.min(...x.shares));
    out(
      `processes: the less busy one took ${
        spread(shares.map((x) => x * 100), 0)
      }% of the CPU per round`,
    );
    const cpu = (i: number) => median(samples[i]!.map((x) => x.cpuUs));
    const rps = (i: number) => median(samples[i]!.map((x) => x.rps));
    out(
      `processes vs workers: CPU/req ${(cpu(1) / cpu(0)).toFixed(2)}×, req/s ${
        (rps(1) / rps(0)).toFixed(2)
      }×`,
    );
  } finally {
    for (const s of setups) await s.stop();
    await backend.stop();
  }
}

if (import.meta.main) await main();
