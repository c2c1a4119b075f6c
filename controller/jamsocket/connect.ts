/**
 * A Jamsocket connect (v2 `connect`, v1 `spawn`) as a Plane connect (jamsocket-api.md §3.1,
 * §4.1): resolve the service, build Plane's `ConnectRequest` the way Jamsocket's dev server
 * does (with the fixes of jamsocket-api.md §3.1: idle 300 s whenever absent, keys namespaced per
 * service, the key tag is the resolved image), then run `controller/connect_algorithm.ts`'s algorithm
 * unchanged.
 */
import type { ControllerContext } from "../context.ts";
import { connect, type ConnectError } from "../connect_algorithm.ts";
import { createConnectStore } from "../db/mod.ts";
import { describeZodError, HttpError } from "../http_error.ts";
import {
  ConnectRequest,
  type ConnectResponse,
  type JamsocketSpawnConfig,
} from "../../shared/mod.ts";
import {
  imageForTag,
  RESERVED_ENV_DESCRIPTION,
  reservedEnvName,
  type ResolvedService,
  resolveService,
  type ServiceConfig,
  type ServiceRef,
} from "./service_map.ts";
import { countLiveBackends } from "./store.ts";
import { isLoopbackHost, isOpen } from "../config.ts";
import { executableProblem } from "../executable_check.ts";

/** What v2 connect and v1 spawn both ask for, in v2 terms. */
export interface JamsocketSpawnInput {
  key: string | null;
  /** `false`: never spawn; otherwise the spawn settings (`{}` for defaults). */
  spawn: false | JamsocketSpawnConfig;
  user: string | null;
  auth: Record<string, unknown>;
}

export interface JamsocketConnectResult {
  response: ConnectResponse;
  service: ResolvedService;
}

/**
 * Refuses reserved names in a user's `env` (jamsocket-api.md §8) with a 400 naming the first one.
 */
export function checkUserEnv(env: Record<string, string>): void {
  const reserved = Object.keys(env).find(reservedEnvName);
  if (reserved !== undefined) {
    throw new HttpError(
      400,
      "ReservedEnvironmentVariable",
      `Cannot set environment variable "${reserved}": ${RESERVED_ENV_DESCRIPTION} are ` +
        "reserved for the platform",
    );
  }
}

/** The executable a spawn runs: the service's, its image for `tag`, env merged, ours last. */
export function buildExecutable(
  service: ResolvedService,
  spawn: JamsocketSpawnConfig,
): Record<string, unknown> {
  const config: ServiceConfig = service.config;
  const userEnv = spawn.executable?.env ?? {};
  checkUserEnv(userEnv);
  const executable: Record<string, unknown> = {
    ...config.executable,
    image: imageForTag(config, spawn.tag),
    // The drone sets Plane's variables after these, so PORT and SESSION_BACKEND_* always win.
    env: { ...config.env, ...userEnv, "JAMSOCKET_SERVICE": service.service },
  };
  const mount = spawn.executable?.mount;
  if (mount !== undefined && mount !== null) executable.mount = mount;
  const limits = spawn.executable?.resource_limits;
  if (limits) {
    const base = config.executable.resource_limits;
    executable["resource_limits"] = {
      ...(base && typeof base === "object" ? base : {}),
      ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== null)),
    };
  }
  return executable;
}

/**
 * Plane's connect request for a resolved Jamsocket connect (the dev server's mapping,
 * jamsocket-api.md §3.1).
 */
export function toPlaneConnectRequest(
  service: ResolvedService,
  input: JamsocketSpawnInput,
): ConnectRequest {
  const config = service.config;
  const image = imageForTag(config, input.spawn === false ? null : input.spawn.tag);
  const spawn = input.spawn === false ? null : {
    cluster: input.spawn.cluster ?? config.cluster ?? null,
    pool: config.pool,
    executable: buildExecutable(service, input.spawn),
    "max_idle_seconds": input.spawn.max_idle_seconds ?? config.max_idle_seconds,
    "lifetime_limit_seconds": input.spawn.lifetime_limit_seconds ??
      config.lifetime_limit_seconds ?? null,
    "use_static_token": config.use_static_token,
  };
  const parsed = ConnectRequest.safeParse({
    key: input.key === null ? null : { name: input.key, namespace: service.namespace, tag: image },
    "spawn_config": spawn,
    user: input.user,
    auth: input.auth,
  });
  if (!parsed.success) {
    throw new HttpError(
      400,
      "InvalidRequest",
      `Invalid request: ${describeZodError(parsed.error)}`,
    );
  }
  return parsed.data;
}

/**
 * True when the request comes from this machine to a keyless controller on loopback
 * (jamsocket-api.md §2.1).
 */
export function devModeAllowed(ctx: ControllerContext, remoteIp: string): boolean {
  return isOpen(ctx.config) && isLoopbackHost(ctx.config.host) &&
    (isLoopbackHost(remoteIp) || /^::ffff:127\./.test(remoteIp));
}

/** jamsocket-api.md §2.3, §11 item 6: 429 once a configured concurrent-backend limit is reached. */
async function limitError(
  ctx: ControllerContext,
  service: ResolvedService,
): Promise<ConnectError | null> {
  const global = ctx.config.maxBackends;
  if (global !== undefined && (await countLiveBackends(ctx.db, null)) >= global) {
    return {
      status: 429,
      kind: "TooManyBackends",
      message: `Cannot spawn a backend: the limit of ${global} running backends is reached`,
    };
  }
  const own = service.config.max_backends;
  if (own !== undefined && (await countLiveBackends(ctx.db, service.namespace)) >= own) {
    return {
      status: 429,
      kind: "TooManyBackends",
      message: `Cannot spawn a backend of "${service.namespace}": its limit of ${own} running ` +
        "backends is reached",
    };
  }
  return null;
}

/** Resolves the service and connects; throws `HttpError` for every refusal. */
export async function jamsocketConnect(
  ctx: ControllerContext,
  ref: ServiceRef,
  input: JamsocketSpawnInput,
  options: { remoteIp: string },
): Promise<JamsocketConnectResult> {
  const resolved = resolveService(ctx.config.services, ref, {
    devMode: devModeAllowed(ctx, options.remoteIp),
  });
  if (!resolved.ok) {
    const { status, code, message } = resolved.error;
    throw new HttpError(status, code, message);
  }
  const service = resolved.service;
  if (input.spawn === false && input.key === null) {
    throw new HttpError(
      400,
      "InvalidRequest",
      "Cannot connect with spawn: false and no key: only a key can name an existing backend",
    );
  }
  if (input.spawn !== false) {
    // Issue 10, findings 4 and 8: the caller's env and mount (the service map's are the
    // operator's own), refused before anything is written.
    const problem = executableProblem({
      env: input.spawn.executable?.env ?? null,
      mount: input.spawn.executable?.mount ?? null,
    }, { allowedEnv: new Set(ctx.config.allowBackendEnv), keyName: input.key });
    if (problem) {
      throw new HttpError(
        400,
        problem.kind === "reserved" ? "ReservedEnvironmentVariable" : "InvalidRequest",
        problem.message,
      );
    }
  }
  const request = toPlaneConnectRequest(service, input);
  const result = await connect(request, {
    store: createConnectStore(ctx.db),
    config: ctx.config,
    controllerUrl: ctx.controllerUrl,
    placements: ctx.placements,
    generatedKey: {
      namespace: service.namespace,
      tag: imageForTag(service.config, input.spawn === false ? null : input.spawn.tag),
    },
    beforeSpawn: () => limitError(ctx, service),
  });
  if (!result.ok) {
    const { status, kind, message } = result.error;
    throw new HttpError(status, kind, message);
  }
  return { response: result.response, service };
}
