/**
 * `deno task dev` (decisions.md §4): a whole local cluster in one process
 * — controller (embedded PGlite under `.plane/` unless `DATABASE_URL` is set), one drone (Docker
 * when an engine answers, otherwise local processes) and its proxy on `localhost:9090` — with the
 * example session backend ready to connect to. Ctrl-C terminates every backend it started, then
 * stops the rest, leaving no process or container behind.
 */
import { parseArgs } from "node:util";
import { ControllerConfig } from "../controller/mod.ts";
import { DroneConfig } from "../drone/mod.ts";
import { ProxyConfig } from "../proxy/mod.ts";
import { buildDenoImage, connectDocker, DockerExecutor } from "../drone/executor/mod.ts";
import { createLogger, delay, type LogLevel } from "../shared/mod.ts";
import { type RunningController, startController } from "./controller_command.ts";
import { type RunningDrone, startDrone } from "./drone_command.ts";
import { type RunningProxy, startProxy } from "./proxy_command.ts";
import { print } from "./output.ts";
import { DEFAULT_CONTROLLER_URL } from "./admin_help.ts";
import { UsageError, usageErrorFrom } from "./usage_error.ts";

export const DEV_HELP = `Usage: plane dev [flags]

Starts a whole local cluster: controller, one drone with its proxy, and the example session
backend (examples/session_app) as image "session-app". Ctrl-C stops everything.

Flags:
  --port N              controller port (default 8080)
  --proxy-port N        proxy port; the cluster is localhost:N (default 9090)
  --runtime R           auto, docker or local (default auto: Docker when it answers)
  --data DIR            where dev state lives (default .plane)
  --workers N           proxy workers (default: one per CPU core; 1: no workers)
  --log-level LEVEL     debug, info, warn or error (default warn)
  -h, --help            show this help

Environment: DATABASE_URL (use this Postgres instead of embedded PGlite).
`;

export const EXAMPLE_IMAGE = "session-app";
const EXAMPLE_SCRIPT = new URL("../examples/session_app/main.ts", import.meta.url);

export interface DevOptions {
  port: number;
  proxyPort: number;
  runtime: "auto" | "docker" | "local";
  data: string;
  logLevel: LogLevel;
  /** Proxy workers (unset: one per CPU core). */
  workers?: number | undefined;
}

export function parseDevFlags(
  args: string[],
): { kind: "help" } | { kind: "run"; options: DevOptions } {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: "string" },
        "proxy-port": { type: "string" },
        runtime: { type: "string" },
        data: { type: "string" },
        "log-level": { type: "string" },
        workers: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw usageErrorFrom(err, "dev");
  }
  if (values.help) return { kind: "help" };
  const port = (flag: string, raw: string | undefined, fallback: number) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
      throw new UsageError(`Invalid --${flag}: expected a port number 0-65535, got "${raw}"`);
    }
    return n;
  };
  const runtime = values.runtime ?? "auto";
  if (runtime !== "auto" && runtime !== "docker" && runtime !== "local") {
    throw new UsageError(`Invalid --runtime: expected auto, docker or local, got "${runtime}"`);
  }
  const logLevel = values["log-level"] ?? "warn";
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    throw new UsageError(
      `Invalid --log-level: expected debug, info, warn or error, got "${logLevel}"`,
    );
  }
  const workers = values.workers;
  if (workers !== undefined && (!/^\d+$/.test(workers) || Number(workers) < 1)) {
    throw new UsageError(`Invalid --workers: expected a whole number from 1, got "${workers}"`);
  }
  return {
    kind: "run",
    options: {
      ...(workers !== undefined && { workers: Number(workers) }),
      port: port("port", values.port, 8080),
      proxyPort: port("proxy-port", values["proxy-port"], 9090),
      runtime,
      data: values.data ?? ".plane",
      logLevel: logLevel as LogLevel,
    },
  };
}

export interface DevCluster {
  controller: RunningController;
  drone: RunningDrone;
  proxy: RunningProxy;
  runtime: "docker" | "local";
  /** The image name to connect with. */
  image: string;
  /** `localhost:PORT`: the cluster, reached through the proxy. */
  cluster: string;
  /** Terminates every backend, then stops proxy, drone and controller. */
  stop(): Promise<void>;
}

async function dockerAnswers(): Promise<boolean> {
  try {
    await Promise.race([
      connectDocker().ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 2_000)),
    ]);
    return true;
  } catch {
    return false;
  }
}

/** Polls the cluster state until `droneName` is ready and has heartbeated (at most 30 s). */
async function waitForDrone(controllerUrl: string, cluster: string, droneName: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const response = await fetch(`${controllerUrl}/ctrl/c/${encodeURIComponent(cluster)}/state`);
    const state = await response.json() as {
      drones?: { ready: boolean; "last_heartbeat_age": number | null; node: { name: unknown } }[];
    };
    const drone = state.drones?.find((d) => JSON.stringify(d.node.name).includes(droneName));
    if (drone?.ready && drone.last_heartbeat_age !== null) return;
    if (Date.now() > deadline) {
      throw new Error(`The dev drone ${droneName} did not become schedulable within 30 s`);
    }
    await delay(50);
  }
}

export async function startDev(options: DevOptions): Promise<DevCluster> {
  const log = createLogger("dev", { level: options.logLevel });
  const runtime = options.runtime === "auto"
    ? (await dockerAnswers() ? "docker" : "local")
    : options.runtime;
  await Deno.mkdir(options.data, { recursive: true });
  if (runtime === "docker") {
    // Built once per content, then also tagged `session-app:latest`, so the same connect
    // command (`--image session-app`) works on both runtimes.
    const built = await buildDenoImage("plane-example-session-app", EXAMPLE_SCRIPT);
    const tagged = await new Deno.Command("docker", {
      args: ["tag", built, `${EXAMPLE_IMAGE}:latest`],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!tagged.success) {
      throw new Error(`docker tag failed: ${new TextDecoder().decode(tagged.stderr).trim()}`);
    }
  }
  const image = EXAMPLE_IMAGE;

  const databaseUrl = Deno.env.get("DATABASE_URL");
  const controller = await startController(
    ControllerConfig.parse({
      db: databaseUrl ?? `${options.data}/db`,
      host: "127.0.0.1",
      port: options.port,
      defaultCluster: `localhost:${options.proxyPort}`,
      // A Jamsocket-style `plane proxy --path-routing` may join the dev cluster (README).
      allowPathRouting: true,
      logLevel: options.logLevel,
    }),
    { log: log.child("controller") },
  );
  const cluster = `localhost:${options.proxyPort}`;
  let drone: RunningDrone | null = null;
  let proxy: RunningProxy | null = null;
  try {
    drone = await startDrone(
      DroneConfig.parse({
        controllerUrl: controller.url,
        cluster,
        runtime,
        hostNetwork: true,
        db: `${options.data}/drone-state.db`,
        images: {
          [EXAMPLE_IMAGE]: {
            command: [
              Deno.execPath(),
              "run",
              "--allow-net",
              "--allow-env",
              EXAMPLE_SCRIPT.pathname,
            ],
          },
        },
        softGraceMs: 5_000,
        logLevel: options.logLevel,
      }),
      { log: log.child("drone") },
    );
    proxy = await startProxy(
      ProxyConfig.parse({
        controllerUrl: controller.url,
        cluster,
        httpPort: options.proxyPort,
        hostname: "127.0.0.1",
        logLevel: options.logLevel,
        workers: options.workers,
      }),
      { log: log.child("proxy"), shutdownMs: 2_000 },
    );
  } catch (err) {
    await proxy?.stop();
    await drone?.stop();
    await controller.close();
    throw err;
  }
  // "Up" means a connect works: wait until the controller lists the drone as heartbeating.
  await waitForDrone(controller.url, cluster, drone.drone.name);
  const started = { drone, proxy };
  let stopping: Promise<void> | null = null;
  return {
    controller,
    drone,
    proxy,
    runtime,
    image,
    cluster,
    stop() {
      stopping ??= (async () => {
        // Terminated while the drone is still connected, so the controller records it.
        await started.drone.drone.terminateAll();
        if (started.drone.executor instanceof DockerExecutor) {
          await started.drone.executor.removeCreated();
        }
        await started.proxy.stop();
        await started.drone.stop();
        await controller.close();
      })();
      return stopping;
    },
  };
}

/** What `plane dev` prints once everything is up. */
export function devBanner(dev: Pick<DevCluster, "runtime" | "image" | "cluster">, info: {
  controllerUrl: string;
  database: string;
  droneName: string;
}): string {
  const imageFlag = dev.image.includes(" ") ? JSON.stringify(dev.image) : dev.image;
  return [
    "Plane dev cluster is up:",
    `  controller  ${info.controllerUrl}   (database: ${info.database})`,
    `  drone       ${info.droneName}   (runtime: ${dev.runtime})`,
    `  proxy       http://${dev.cluster}   (cluster ${dev.cluster})`,
    // No API key in dev: the dashboard opens without a login on loopback (extension 10).
    `  dashboard   ${info.controllerUrl}/dashboard`,
    "",
    "Start a session backend and wait until it is ready:",
    // The admin commands default to :8080; on another port the command must say where.
    `  deno task plane connect --image ${imageFlag} --wait` +
    (info.controllerUrl === DEFAULT_CONTROLLER_URL ? "" : ` --controller ${info.controllerUrl}`),
    "then open the URL it prints. Ctrl-C stops everything.",
    "",
  ].join("\n");
}

export async function devCommand(args: string[]): Promise<void> {
  const parsed = parseDevFlags(args);
  if (parsed.kind === "help") return print(DEV_HELP);
  const dev = await startDev(parsed.options);
  const databaseUrl = Deno.env.get("DATABASE_URL");
  print(devBanner(dev, {
    controllerUrl: dev.controller.url,
    database: databaseUrl ? "DATABASE_URL" : `${parsed.options.data}/db (embedded PGlite)`,
    droneName: dev.drone.drone.name,
  }));
  const stopped = Promise.withResolvers<void>();
  const onSignal = () => {
    print("Stopping: terminating backends, then the proxy, drone and controller…");
    dev.stop().then(stopped.resolve, stopped.reject);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    await stopped.promise;
    print("Stopped.");
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}
