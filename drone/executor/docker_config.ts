/**
 * Pure translation of a spawn into Docker's container-create body (plane-0.5.md §3.1–3.4,
 * decisions.md §3.8), unit-tested without Docker (style.md §5, Plane's
 * `get_container_config_from_executor_config`).
 */
import { z } from "zod";
import type { SpawnRequest } from "./executor.ts";
import { planeEnv } from "./executor.ts";
import {
  firstEnvRefusal,
  mountPathProblem,
  type NetworkMode,
  networkNameProblem,
} from "../../shared/mod.ts";

export const PLANE_LABEL = "dev.plane.backend";
/**
 * Ours (issue 11, finding 4): the name of the drone that created the container, so a restarted
 * drone removes its own leftovers and leaves other drones' containers on the machine alone.
 */
export const DRONE_LABEL = "dev.plane.drone";
export const CONTAINER_PORT = 8080;

export const PullPolicy = z.enum(["IfNotPresent", "Always", "Never"]);
export type PullPolicy = z.infer<typeof PullPolicy>;

export const ResourceLimits = z.object({
  cpu_period: z.number().int().positive().nullish(),
  cpu_period_percent: z.number().int().min(0).max(255).nullish(),
  cpu_time_limit: z.number().int().positive().nullish(),
  memory_limit_bytes: z.number().int().positive().nullish(),
  disk_limit_bytes: z.number().int().positive().nullish(),
});

/** Plane's `DockerExecutorConfig` plus our optional `gpus`. */
export const DockerExecutable = z.object({
  image: z.string().min(1),
  pull_policy: PullPolicy.nullish(),
  credentials: z.object({ username: z.string(), password: z.string() }).nullish(),
  env: z.record(z.string(), z.string()).default({}),
  resource_limits: ResourceLimits.nullish(),
  mount: z.union([z.boolean(), z.string()]).nullish(),
  network_name: z.string().nullish(),
  gpus: z.union([z.number().int().positive(), z.literal("all")]).nullish(),
});
export type DockerExecutable = z.infer<typeof DockerExecutable>;

export interface DockerRuntimeOptions {
  /** `HostConfig.Runtime` (e.g. runsc). */
  runtime?: string | undefined;
  /** `HostConfig.LogConfig` as Docker JSON. */
  logConfig?: { Type: string; Config?: Record<string, string> | undefined } | undefined;
  /** Host directory under which backend mounts are created; without it mounts are ignored. */
  mountBase?: string | undefined;
  /**
   * Host networking: the drone assigns each backend a free host port and passes it as
   * `PORT` (ours; Plane always uses 8080 and publishes it to a random host port).
   */
  hostNetworkPort?: number | undefined;
  /**
   * `network_name` values that are Docker modes rather than networks and that this drone lets
   * a spawn ask for (`--allow-network-modes`); none by default (issue 10, finding 8).
   */
  allowNetworkModes?: readonly NetworkMode[] | undefined;
  /** The drone's name, set as the `dev.plane.drone` label (issue 11, finding 4). */
  droneName?: string | undefined;
}

/** `network_name` values Docker reads as the default bridge: asking for them grants nothing. */
const DEFAULT_NETWORKS: ReadonlySet<string> = new Set(["bridge", "default"]);

export type NetworkResult =
  | { ok: true; mode: string | null; mustExist: boolean }
  | { ok: false; error: string };

/**
 * The `NetworkMode` a spawn's `network_name` asks for (issue 10, finding 8): a user-defined
 * network (`mustExist`: the drone inspects it before create), the default bridge, or `host` /
 * `none` only where the drone enables them. `container:<id>` is never a network name.
 */
export function networkMode(
  name: string | null | undefined,
  allowModes: readonly NetworkMode[] = [],
): NetworkResult {
  if (name === undefined || name === null) return { ok: true, mode: null, mustExist: false };
  const problem = networkNameProblem(name);
  if (problem) return { ok: false, error: problem };
  if (DEFAULT_NETWORKS.has(name)) return { ok: true, mode: name, mustExist: false };
  if (name === "host" || name === "none") {
    if (!allowModes.includes(name)) {
      return {
        ok: false,
        error: `Cannot use executable.network_name "${name}": network mode "${name}" is not ` +
          `enabled on this drone (start it with --allow-network-modes ${name})`,
      };
    }
    return { ok: true, mode: name, mustExist: false };
  }
  return { ok: true, mode: name, mustExist: true };
}

export type MountResult = { ok: true; bind: string | null } | { ok: false; error: string };

/**
 * plane-0.5.md §3.4: `true` → `{base}/{key}`; a relative path of normal components →
 * `{base}/{path}`.
 */
export function mountBind(
  mount: DockerExecutable["mount"],
  keyName: string,
  mountBase: string | undefined,
): MountResult {
  if (mount === undefined || mount === null || mount === false) return { ok: true, bind: null };
  if (!mountBase) return { ok: true, bind: null };
  const relative = mount === true ? keyName : mount;
  // Issue 10, finding 8: a ':' would add a field to the bind (`x:/etc` mounted /etc).
  const problem = mountPathProblem(relative);
  if (problem) return { ok: false, error: problem };
  return { ok: true, bind: `${mountBase.replace(/\/$/, "")}/${relative}:/plane-data` };
}

export function containerName(backendId: string): string {
  return `plane-${backendId}`;
}

export function backendIdOfContainer(name: string): string | null {
  const bare = name.replace(/^\//, "");
  return bare.startsWith("plane-") ? bare.slice(6) : null;
}

export type CreateOptions = { ok: true; options: Record<string, unknown> } | {
  ok: false;
  error: string;
};

export function containerCreateOptions(
  request: SpawnRequest,
  executable: DockerExecutable,
  runtime: DockerRuntimeOptions,
): CreateOptions {
  const hostMode = runtime.hostNetworkPort !== undefined;
  const port = hostMode ? runtime.hostNetworkPort! : CONTAINER_PORT;
  // Reserved names (SESSION_BACKEND_*, PLANE_*) are the platform's: a forged static token
  // must not reach the backend (issue 10, finding 4). Other names are the image's business.
  const refusal = firstEnvRefusal(executable.env, { injection: false });
  if (refusal) return { ok: false, error: refusal.message };
  const network = networkMode(executable.network_name, runtime.allowNetworkModes);
  if (!network.ok) return network;
  // User env first, ours after, so the user cannot override Plane's PORT (plane-0.5.md §3.3).
  const env = { ...executable.env, ...planeEnv(request, port) };
  const mount = mountBind(executable.mount, request.key.key.name, runtime.mountBase);
  if (!mount.ok) return mount;
  const limits = executable.resource_limits ?? {};
  const hostConfig: Record<string, unknown> = {};
  if (limits.memory_limit_bytes) hostConfig.Memory = limits.memory_limit_bytes;
  if (limits.cpu_period) hostConfig.CpuPeriod = limits.cpu_period;
  if (limits.cpu_period_percent !== undefined && limits.cpu_period_percent !== null) {
    const period = limits.cpu_period ?? 100_000;
    hostConfig.CpuPeriod = period;
    hostConfig.CpuQuota = Math.floor((period * limits.cpu_period_percent) / 100);
  }
  if (limits.cpu_time_limit) {
    hostConfig.Ulimits = [{
      Name: "cpu",
      Soft: limits.cpu_time_limit,
      Hard: limits.cpu_time_limit,
    }];
  }
  if (limits.disk_limit_bytes) hostConfig.StorageOpt = { size: String(limits.disk_limit_bytes) };
  if (mount.bind) hostConfig.Binds = [mount.bind];
  if (runtime.runtime) hostConfig.Runtime = runtime.runtime;
  if (runtime.logConfig) hostConfig.LogConfig = runtime.logConfig;
  if (executable.gpus) {
    hostConfig.DeviceRequests = [{
      Driver: "",
      Count: executable.gpus === "all" ? -1 : executable.gpus,
      Capabilities: [["gpu"]],
    }];
  }
  if (hostMode) {
    hostConfig.NetworkMode = "host";
  } else {
    if (network.mode !== null) hostConfig.NetworkMode = network.mode;
    // Publish 8080 to a random host port on all interfaces (plane-0.5.md §3.3).
    hostConfig.PortBindings = { [`${CONTAINER_PORT}/tcp`]: [{}] };
  }
  const options: Record<string, unknown> = {
    name: containerName(request.backendId),
    Image: executable.image,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      [PLANE_LABEL]: "true",
      ...(runtime.droneName ? { [DRONE_LABEL]: runtime.droneName } : {}),
    },
    HostConfig: hostConfig,
  };
  if (!hostMode) options.ExposedPorts = { [`${CONTAINER_PORT}/tcp`]: {} };
  return { ok: true, options };
}
