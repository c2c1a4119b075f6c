/**
 * `plane drone`: flags and environment → `DroneConfig` → a running drone (plane-0.5.md
 * §11.1, decisions.md §3.3). `startDrone` is the one wiring path, reused by `dev`.
 */
import { dirname } from "node:path";
import { z } from "zod";
import {
  createDrone,
  type Drone,
  DroneConfig,
  type DroneConfigInput,
  droneFamilies,
  StateStore,
} from "../drone/mod.ts";
import {
  connectDocker,
  DockerExecutor,
  type Executor,
  LocalImage,
  LocalProcessExecutor,
} from "../drone/executor/mod.ts";
import {
  createLogger,
  type Logger,
  randomDroneName,
  renderMetrics,
  startProcessSampler,
} from "../shared/mod.ts";
import {
  type ConfigFlag,
  describeFlagError,
  type FlagsResult,
  parseFlagsOf,
  wholeNumberFlag,
} from "./config_flags.ts";
import { metricsFlags, socketRoleFlags, socketRoleInput } from "./socket_role_flags.ts";
import { UsageError } from "./usage_error.ts";
import { type MetricsServer, PROCESS_READERS, serveMetrics } from "./metrics_server.ts";

export const DRONE_HELP = `Usage: plane drone --controller-url URL --cluster NAME [flags]

Runs a drone: starts backends as Docker containers or local processes on this machine.

Flags (environment variable in brackets; flags win):
  --controller-url URL      controller to dial; a secret may ride as the URL's username
                            [PLANE_CONTROLLER_URL]
  --cluster NAME            cluster this drone serves, host[:port] [PLANE_CLUSTER]
  --name NAME               drone name, dr-... (default random)
  --pool NAME               drone pool (default empty) [PLANE_POOL]
  --secret SECRET           cluster secret for the drone socket [PLANE_CLUSTER_SECRET]
  --ip HOST                 address proxies reach backends on (default 127.0.0.1)
  --db PATH                 SQLite state file (default .plane/drone-state.db)
  --runtime local|docker    backend runtime (default local)
  --images FILE             local runtime: JSON map of image name to
                            {"command": [...], "env": {...}, "cwd": "...",
                             "allowEnv": ["PYTHONPATH", ...]}; a spawn's env may not set
                            names a runtime reads as code (NODE_OPTIONS, LD_*, PATH, ...)
                            unless the image lists them in allowEnv
  --docker-runtime NAME     docker: HostConfig.Runtime, e.g. runsc
  --log-config JSON         docker: HostConfig.LogConfig
  --mount-base PATH         docker: directory for backend mounts
  --host-network            docker: host networking with an assigned PORT
  --allow-network-modes host,none
                            docker: let spawns ask for these network_name modes (default
                            none: network_name must name an existing user-defined network)
  --auto-prune-containers-older-than-seconds N
                            docker: prune stopped containers older than N s (default 0)
  --startup-timeout-seconds N
                            hard-terminate a backend not answering HTTP after N s
                            (reason startuptimeout; default 300)
  --metrics-port N          serve GET /metrics (Prometheus) on port N (default: off)
  --metrics-hostname HOST   metrics listen address (default 127.0.0.1)
  --log-level LEVEL         debug, info, warn or error (default info) [PLANE_LOG_LEVEL]
  -h, --help                show this help
`;

const SHARED = socketRoleFlags({ noun: "drone", namePrefix: "dr" });
const METRICS = metricsFlags(
  "serve `GET /metrics` (Prometheus text, per-backend CPU and memory included) on port N",
);
const POOL_ENV = "PLANE_POOL";

/**
 * Every `plane drone` flag: drives the parser below and is the README's configuration reference
 * (`deno task docs:config`). Defaults come from `DroneConfig`.
 */
export const DRONE_FLAGS = [
  SHARED.controllerUrl,
  SHARED.cluster,
  SHARED.name,
  { flag: "--pool", value: "NAME", field: "pool", env: POOL_ENV, meaning: "drone pool" },
  SHARED.secret,
  { flag: "--ip", value: "HOST", field: "ip", meaning: "address proxies reach backends on" },
  {
    flag: "--db",
    value: "PATH",
    field: "db",
    meaning: "SQLite state file; a restarted drone kills what its previous run left behind",
  },
  { flag: "--runtime", value: "RUNTIME", field: "runtime", meaning: "backend runtime" },
  {
    flag: "--images",
    value: "FILE",
    field: "images",
    meaning: "local runtime: JSON map of image name to " +
      '`{"command": [...], "env": {...}, "cwd": "...", "allowEnv": [...]}`; only mapped ' +
      "images run",
  },
  {
    flag: "--docker-runtime",
    value: "NAME",
    field: "dockerRuntime",
    meaning: "docker: `HostConfig.Runtime`, e.g. `runsc`",
  },
  {
    flag: "--log-config",
    value: "JSON",
    field: "logConfig",
    meaning: "docker: `HostConfig.LogConfig`",
  },
  {
    flag: "--mount-base",
    value: "PATH",
    field: "mountBase",
    meaning: "docker: directory under which backend mounts are made",
  },
  {
    flag: "--host-network",
    field: "hostNetwork",
    meaning: "docker: host networking with an assigned `PORT` instead of a published 8080",
  },
  {
    flag: "--allow-network-modes",
    value: "MODES",
    field: "allowNetworkModes",
    meaning: "docker: `network_name` modes a spawn may use (`host,none`); otherwise it must " +
      "name an existing user-defined network",
  },
  {
    flag: "--auto-prune-containers-older-than-seconds",
    value: "N",
    field: "pruneMinAgeSeconds",
    meaning: "docker: prune stopped backend containers older than N seconds",
  },
  {
    flag: "--startup-timeout-seconds",
    value: "N",
    field: "startupTimeoutSeconds",
    meaning: "hard-terminate a backend that does not answer HTTP within N seconds " +
      "(reason `startuptimeout`)",
  },
  ...METRICS,
  SHARED.logLevel,
] as const satisfies readonly ConfigFlag<keyof DroneConfigInput>[];

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "Invalid drone configuration";
  const field = issue.path.map(String).join(".");
  return field ? `Invalid ${field}: ${issue.message}` : issue.message;
}

/** Parses `plane drone` arguments over the environment; throws `UsageError` with one line. */
export function parseDroneFlags(
  args: string[],
  env: (name: string) => string | undefined,
  readFile: (path: string) => string = Deno.readTextFileSync,
): FlagsResult<DroneConfig> {
  const values = parseFlagsOf(args, DRONE_FLAGS, "drone");
  if (values.help) return { kind: "help" };
  const input = socketRoleInput(DRONE_FLAGS, { values, env });
  const set = (key: string, value: unknown) => value !== undefined && (input[key] = value);
  set("pool", values.pool ?? env(POOL_ENV));
  set("ip", values.ip);
  set("db", values.db);
  set("runtime", values.runtime);
  set("dockerRuntime", values["docker-runtime"]);
  set("mountBase", values["mount-base"]);
  if (values["host-network"]) input.hostNetwork = true;
  const modes = values["allow-network-modes"];
  if (modes !== undefined) {
    input.allowNetworkModes = modes.split(",").map((m) => m.trim()).filter((m) => m !== "");
  }
  const prune = values["auto-prune-containers-older-than-seconds"];
  if (prune !== undefined) input.pruneMinAgeSeconds = Number(prune);
  set("metricsPort", wholeNumberFlag("metrics-port", values["metrics-port"]));
  set("metricsHostname", values["metrics-hostname"]);
  const startup = values["startup-timeout-seconds"];
  if (startup !== undefined) input.startupTimeoutSeconds = Number(startup);
  for (const [flag, key] of [["log-config", "logConfig"], ["images", "images"]] as const) {
    const raw = values[flag];
    if (raw === undefined) continue;
    let text = raw;
    if (flag === "images") {
      try {
        text = readFile(raw);
      } catch (err) {
        throw new UsageError(`Cannot read --images file "${raw}": ${(err as Error).message}`);
      }
    }
    try {
      input[key] = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`Invalid --${flag}: not JSON (${(err as Error).message})`);
    }
  }
  if (input.images !== undefined) {
    const images = z.record(z.string(), LocalImage).safeParse(input.images);
    if (!images.success) throw new UsageError(`Invalid --images: ${describe(images.error)}`);
  }
  const parsed = DroneConfig.safeParse(input);
  if (!parsed.success) throw new UsageError(describeFlagError(parsed.error, DRONE_FLAGS, input));
  if (parsed.data.runtime === "local" && Object.keys(parsed.data.images).length === 0) {
    throw new UsageError(
      "The local runtime needs images to run: pass --images FILE (or --runtime docker)",
    );
  }
  return { kind: "run", config: parsed.data };
}

export interface RunningDrone {
  drone: Drone;
  executor: Executor;
  /** The Prometheus text of this drone. */
  metrics(): string;
  /** Resolves when the drone has stopped (after `stop()` or a fatal error). */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** Builds the executor, store and drone for `config` and starts it. */
export async function startDrone(
  config: DroneConfig,
  options: { log?: Logger } = {},
): Promise<RunningDrone> {
  const log = options.log ?? createLogger("drone", { level: config.logLevel });
  if (config.db !== ":memory:") await Deno.mkdir(dirname(config.db), { recursive: true });
  // Named here, not in createDrone: Docker labels containers with it (issue 11, finding 4).
  const name = config.name ?? randomDroneName();
  let executor: Executor;
  if (config.runtime === "docker") {
    const docker = new DockerExecutor({
      droneName: name,
      docker: connectDocker(),
      log: log.child("docker"),
      ip: config.ip,
      hostNetwork: config.hostNetwork,
      runtime: config.dockerRuntime,
      logConfig: config.logConfig,
      mountBase: config.mountBase,
      allowNetworkModes: config.allowNetworkModes,
      pruneMinAgeSeconds: config.pruneMinAgeSeconds,
      stopTimeoutSeconds: Math.ceil(config.softGraceMs / 1000),
      startupTimeoutMs: config.startupTimeoutSeconds * 1000,
    });
    await docker.start();
    executor = docker;
  } else {
    executor = new LocalProcessExecutor({
      images: config.images,
      ip: config.ip,
      softGraceMs: config.softGraceMs,
      startupTimeoutMs: config.startupTimeoutSeconds * 1000,
      stateDir: `${config.db === ":memory:" ? ".plane" : dirname(config.db)}/pids`,
    }, { log: log.child("local") });
  }
  const store = new StateStore(config.db);
  if (config.db !== ":memory:") await Deno.chmod(config.db, 0o600);
  const drone = createDrone({
    executor,
    store,
    log,
    link: {
      name,
      controllerUrl: config.controllerUrl,
      cluster: config.cluster,
      pool: config.pool,
      secret: config.secret,
      heartbeatMs: config.heartbeatMs,
    },
  });
  let metricsServer: MetricsServer | undefined;
  const sampler = startProcessSampler(PROCESS_READERS);
  const metrics = () =>
    renderMetrics([
      ...droneFamilies(drone.metricsSnapshot(), drone.status.connected),
      ...sampler.families(),
    ]);
  if (config.metricsPort !== undefined) {
    try {
      metricsServer = serveMetrics(
        { hostname: config.metricsHostname, port: config.metricsPort },
        metrics,
        log,
      );
    } catch (err) {
      sampler.stop();
      if (executor instanceof DockerExecutor) await executor.close();
      store.close();
      throw err;
    }
  }
  const abort = new AbortController();
  log.info("Drone starting", {
    name: drone.name,
    cluster: config.cluster,
    runtime: config.runtime,
  });
  const done = drone.run(abort.signal).finally(async () => {
    sampler.stop();
    await metricsServer?.close();
    // Backends keep running (as in Plane); the next start's sweep kills them.
    if (executor instanceof DockerExecutor) await executor.close();
    store.close();
  });
  return {
    drone,
    executor,
    metrics,
    done,
    async stop() {
      abort.abort();
      await done;
    },
  };
}
