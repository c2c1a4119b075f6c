/**
 * Get-or-create a backend for a key and mint a connection token: the algorithm of plane-0.5.md
 * §2.2, as a function returning a result union (style.md §17). The queries sit behind
 * `ConnectStore` (db/connect_queries.ts); the drone choice is `pickDrone` (plane-0.5.md §6.6).
 */
import {
  type ApiErrorKind,
  type BackendName,
  connectionUrl,
  type ConnectRequest,
  type ConnectResponse,
  type DroneName,
  type KeyConfig,
  randomActionName,
  randomBackendName,
  randomKeyName,
  randomStaticToken,
  randomToken,
  Unreachable,
} from "../shared/mod.ts";
import type { ConnectStore, KeyHolder, NewToken } from "./db/mod.ts";
import type { ControllerConfig } from "./config.ts";
import { pickDrone } from "./scheduler.ts";
import type { InFlightPlacements } from "./in_flight_placements.ts";

export interface ConnectError {
  status: number;
  kind: ApiErrorKind;
  message: string;
}

export type ConnectResult =
  | { ok: true; response: ConnectResponse }
  | { ok: false; error: ConnectError };

/**
 * The error table of plane-0.5.md §2.2, with Plane's kinds and (mostly) its messages. Two differ
 * (issue 10, finding 7): Plane answers 500 for a lost key race and for no drone, which are not
 * server faults. Here a lost race is 409 (retry), a taken `spawn_config.id` 409 naming the field,
 * and no drone 503 naming the cluster and pool a drone must serve (`noDroneAvailable()`).
 */
export const CONNECT_ERRORS = {
  failedToAcquireKey: {
    status: 409,
    kind: "FailedToAcquireKey",
    message: "Failed to acquire lock: other connects for the same key kept winning; retry",
  },
  backendIdTaken: {
    status: 409,
    kind: "FailedToAcquireKey",
    message: "Cannot spawn: spawn_config.id is already used by another backend; " +
      "omit spawn_config.id or choose an unused one",
  },
  keyUnheldNoSpawnConfig: {
    status: 409,
    kind: "KeyUnheldNoSpawnConfig",
    message: "Lock is unheld but no spawn config was provided.",
  },
  keyHeld: { status: 409, kind: "KeyHeld", message: "Lock is held but tag does not match." },
  failedToRemoveKey: { status: 409, kind: "FailedToRemoveKey", message: "Failed to remove lock." },
  noClusterProvided: {
    status: 400,
    kind: "NoClusterProvided",
    message: "No cluster provided, and no default cluster for this controller: set " +
      '"spawn_config.cluster" (plane connect --cluster NAME) or start the controller with ' +
      "--default-cluster NAME (PLANE_DEFAULT_CLUSTER)",
  },
} as const satisfies Record<string, ConnectError>;

/** 503: nothing can run the backend until a drone of that cluster and pool connects. */
export function noDroneAvailable(cluster: string, pool: string): ConnectError {
  const poolText = pool === "" ? "the default pool" : `pool ${JSON.stringify(pool)}`;
  const poolFlag = pool === "" ? "" : ` --pool ${JSON.stringify(pool)}`;
  return {
    status: 503,
    kind: "NoDroneAvailable",
    message: `No active drone available for cluster ${JSON.stringify(cluster)} in ${poolText}: ` +
      `start a drone with --cluster ${JSON.stringify(cluster)}${poolFlag}, or undrain one`,
  };
}

/** plane-0.5.md §2.2: 3 attempts in total when another connect raced us for the key. */
export const MAX_CONNECT_ATTEMPTS = 3;
const RETRYABLE: ReadonlySet<ConnectError> = new Set([
  CONNECT_ERRORS.failedToAcquireKey,
  // Retried too: a racing connect for the same key may have taken the id, and the next
  // attempt then finds that backend by its key.
  CONNECT_ERRORS.backendIdTaken,
  CONNECT_ERRORS.failedToRemoveKey,
]);

export type ConnectConfig = Pick<
  ControllerConfig,
  | "bestOf"
  | "defaultCluster"
  | "unhealthyMs"
  | "keyLeaseMs"
  | "keyRenewAfterMs"
  | "keySoftTerminateAfterMs"
  | "keyHardTerminateAfterMs"
  | "tokenLifetimeMs"
>;

export interface ConnectOptions {
  store: ConnectStore;
  config: ConnectConfig;
  /** Base of `status_url`, without a trailing slash. */
  controllerUrl: string;
  /** Random source for the scheduler's sample (tests make it deterministic). */
  random?: () => number;
  /** Namespace and tag of the random key made when the request names none (default `""`). */
  generatedKey?: { namespace: string; tag: string };
  /**
   * Asked once a spawn is needed, before a drone is picked: an error refuses the spawn (the
   * Jamsocket API's concurrent-backend limit). Not atomic with the spawn itself.
   */
  beforeSpawn?: () => Promise<ConnectError | null>;
  /**
   * This controller's spawns placed but not yet committed, counted into each drone's load so
   * concurrent connects balance like sequential ones (issue 11, finding 7).
   */
  placements?: InFlightPlacements;
}

/** Runs the connect algorithm, retrying lost key races up to `MAX_CONNECT_ATTEMPTS` times. */
export async function connect(
  request: ConnectRequest,
  options: ConnectOptions,
): Promise<ConnectResult> {
  // Without a key, a random `lk-` key forces a spawn (plane-0.5.md §2.2); it stays the same across
  // retries.
  const key: KeyConfig = request.key ??
    { name: randomKeyName(), namespace: "", tag: "", ...options.generatedKey };
  let result: ConnectResult;
  let attempt = 0;
  do {
    attempt++;
    result = await connectOnce(request, key, request.key != null, options);
  } while (!result.ok && RETRYABLE.has(result.error) && attempt < MAX_CONNECT_ATTEMPTS);
  return result;
}

async function connectOnce(
  request: ConnectRequest,
  key: KeyConfig,
  keyMayExist: boolean,
  options: ConnectOptions,
): Promise<ConnectResult> {
  const { store, config } = options;
  const token = newToken(request, config.tokenLifetimeMs);

  // Step 1. A freshly generated key cannot be held, so its lookup round trip is skipped.
  if (keyMayExist) {
    const found = await store.lookupKey(key, token);
    switch (found.kind) {
      case "live":
        return {
          ok: true,
          response: existingResponse(found.holder, found.minted ? token : null, options),
        };
      case "tag_mismatch":
        return { ok: false, error: CONNECT_ERRORS.keyHeld };
      case "expired":
        // The old backend is not terminated here: its drone stops it when renewals fail
        // (plane-0.5.md §5.6).
        if (!(await store.removeExpiredKey(found.backendId))) {
          return { ok: false, error: CONNECT_ERRORS.failedToRemoveKey };
        }
        break;
      case "not_found":
        break;
      default:
        throw new Unreachable(found);
    }
  }

  // Steps 2–4.
  const spawn = request.spawn_config;
  if (!spawn) return { ok: false, error: CONNECT_ERRORS.keyUnheldNoSpawnConfig };
  const refused = options.beforeSpawn ? await options.beforeSpawn() : null;
  if (refused) return { ok: false, error: refused };
  const cluster = spawn.cluster ?? config.defaultCluster;
  if (!cluster) return { ok: false, error: CONNECT_ERRORS.noClusterProvided };
  const candidates = await store.listDroneCandidates({
    cluster,
    pool: spawn.pool,
    unhealthyMs: config.unhealthyMs,
  });
  const placements = options.placements;
  const picked = pickDrone(placements ? placements.withInFlight(candidates) : candidates, {
    bestOf: config.bestOf,
    ...(options.random ? { random: options.random } : {}),
  });
  if (!picked.ok) return { ok: false, error: noDroneAvailable(cluster, spawn.pool) };

  // Steps 5–7. The token is written with the backend, so a lost race leaves nothing behind.
  const staticToken = spawn.use_static_token ? randomStaticToken() : null;
  const backendId = spawn.id ?? randomBackendName();
  // Counted from the pick until the row is committed; then the candidates query counts it.
  const release = placements?.begin(picked.drone.id);
  const spawned = await store.spawnBackend({
    backendId,
    actionId: randomActionName(),
    cluster,
    pool: spawn.pool,
    drone: picked.drone,
    key,
    executable: spawn.executable,
    lifetimeLimitSeconds: spawn.lifetime_limit_seconds ?? null,
    maxIdleSeconds: spawn.max_idle_seconds ?? null,
    staticToken,
    subdomain: spawn.subdomain ?? null,
    token: staticToken === null ? token : null,
    timings: config,
  }).finally(release);
  if (!spawned.ok) {
    return spawned.reason === "id_taken"
      ? { ok: false, error: CONNECT_ERRORS.backendIdTaken }
      : { ok: false, error: CONNECT_ERRORS.failedToAcquireKey };
  }
  return {
    ok: true,
    response: {
      "backend_id": backendId,
      spawned: true,
      status: "scheduled",
      token: staticToken ?? token.token,
      url: connectionUrl(cluster, staticToken ?? token.token, spawn.subdomain ?? null),
      subdomain: spawn.subdomain ?? null,
      "secret_token": staticToken === null ? token.secretToken : null,
      "status_url": statusUrl(options.controllerUrl, backendId),
      drone: picked.drone.name as DroneName,
    },
  };
}

function newToken(request: ConnectRequest, lifetimeMs: number): NewToken {
  return {
    token: randomToken(),
    secretToken: randomToken(),
    user: request.user ?? null,
    auth: request.auth,
    lifetimeMs,
  };
}

/**
 * The answer for a live key: the backend's static token if it has one (`user`/`auth` are then
 * ignored, as in Plane, #609), else the token just minted. `drone` is only named on spawn.
 */
function existingResponse(
  holder: KeyHolder,
  minted: NewToken | null,
  options: ConnectOptions,
): ConnectResponse {
  const token = holder.staticToken ?? minted?.token;
  if (token === undefined) {
    throw new Error(`Cannot answer connect: backend "${holder.backendId}" got no token`);
  }
  return {
    "backend_id": holder.backendId as BackendName,
    spawned: false,
    status: holder.status,
    token,
    url: connectionUrl(holder.cluster, token, holder.subdomain),
    subdomain: holder.subdomain,
    "secret_token": holder.staticToken === null ? (minted?.secretToken ?? null) : null,
    "status_url": statusUrl(options.controllerUrl, holder.backendId),
    drone: null,
  };
}

function statusUrl(controllerUrl: string, backendId: string): string {
  return `${controllerUrl}/pub/b/${backendId}/status`;
}
