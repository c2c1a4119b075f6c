/**
 * HTTP API bodies of the controller (plane-0.5.md §2), with the extensions of decisions.md §3.
 * Names are validated on input (Plane accepts any string and fails later, plane-0.5.md §2.1).
 */
import { z } from "zod";
import { BackendName, DroneName } from "./names.ts";
import { ClusterName, Subdomain } from "./cluster.ts";
import { BackendStatus, BackendStatusStreamEntry } from "./backend_state.ts";
import { SafeJsonObject, SafeText } from "./safe_text.ts";

// Every string that reaches a Postgres text or jsonb column is `SafeText`/`SafeJsonObject`:
// NUL and lone surrogates are a 400 naming the field, not a database error (issue 10).
const KEY_TEXT = SafeText.max(255, "must be at most 255 characters");

export const KeyConfig = z.object({
  name: KEY_TEXT.min(1, "Key name must not be empty"),
  namespace: KEY_TEXT.default(""),
  tag: KEY_TEXT.default(""),
});
export type KeyConfig = z.infer<typeof KeyConfig>;

/** Seconds limits are positive int32 as in Plane. */
const Seconds = z.number().int().min(1).max(2_147_483_647);

export const SpawnConfig = z.object({
  id: BackendName.nullish(),
  cluster: ClusterName.nullish(),
  pool: SafeText.max(255).default(""),
  // Opaque to the controller (plane-0.5.md §2.2); the drone's runtime interprets it. Must be an
  // object.
  executable: SafeJsonObject,
  lifetime_limit_seconds: Seconds.nullish(),
  max_idle_seconds: Seconds.nullish(),
  use_static_token: z.boolean().default(false),
  subdomain: Subdomain.nullish(),
});
export type SpawnConfig = z.infer<typeof SpawnConfig>;

export const ConnectRequest = z.object({
  key: KeyConfig.nullish(),
  spawn_config: SpawnConfig.nullish(),
  user: SafeText.max(1024).nullish(),
  auth: SafeJsonObject.default({}),
});
export type ConnectRequest = z.infer<typeof ConnectRequest>;

export const ConnectResponse = z.object({
  backend_id: BackendName,
  spawned: z.boolean(),
  status: BackendStatus,
  token: z.string(),
  url: z.string(),
  subdomain: z.string().nullable(),
  secret_token: z.string().nullable(),
  status_url: z.string(),
  drone: DroneName.nullable(),
});
export type ConnectResponse = z.infer<typeof ConnectResponse>;

export const RevokeRequest = z.object({
  backend_id: BackendName,
  user: SafeText.max(1024),
});
export type RevokeRequest = z.infer<typeof RevokeRequest>;

export const DrainResult = z.object({ updated: z.boolean() });
export type DrainResult = z.infer<typeof DrainResult>;

export const StatusResponse = z.object({
  status: z.literal("ok"),
  version: z.string(),
  hash: z.string(),
});
export type StatusResponse = z.infer<typeof StatusResponse>;

export const NodeName = z.union([
  z.object({ Drone: z.string() }),
  z.object({ Proxy: z.string() }),
  z.object({ AcmeDnsServer: z.string() }),
]);
export type NodeName = z.infer<typeof NodeName>;

export const NodeState = z.object({
  name: NodeName,
  plane_version: z.string(),
  plane_hash: z.string(),
  controller: z.string(),
  controller_heartbeat_age: z.number().int(),
});
export type NodeState = z.infer<typeof NodeState>;

export const DroneState = z.object({
  ready: z.boolean(),
  draining: z.boolean(),
  // null (not a 500 as in Plane) for a drone that has not heartbeated yet (decisions.md §2.13).
  last_heartbeat_age: z.number().int().nullable(),
  backend_count: z.number().int(),
  node: NodeState,
});
export type DroneState = z.infer<typeof DroneState>;

export const ClusterState = z.object({
  drones: z.array(DroneState),
  proxies: z.array(NodeState),
});
export type ClusterState = z.infer<typeof ClusterState>;

/** `GET /ctrl/b/{backend}` (decisions.md §3.6). */
export const BackendInfo = z.object({
  id: BackendName,
  cluster: z.string(),
  status: BackendStatus,
  state: z.unknown(),
  status_time: z.number(),
  drone: z.string(),
  key: z.object({ name: z.string(), namespace: z.string(), tag: z.string() }).nullable(),
  address: z.string().nullable(),
  created_at: z.number(),
  last_keepalive: z.number(),
  expiration_time: z.number().nullable(),
  allowed_idle_seconds: z.number().nullable(),
  subdomain: z.string().nullable(),
});
export type BackendInfo = z.infer<typeof BackendInfo>;

export const BackendList = z.object({
  backends: z.array(BackendInfo),
  next_cursor: z.string().nullable(),
});
export type BackendList = z.infer<typeof BackendList>;

export { BackendStatusStreamEntry };

/**
 * One resource sample of a backend as the dashboard shows it (decisions.md §3.10): the
 * drone's `BackendMetrics` (plane-0.5.md §3.8) with CPU as a percentage (`cpu_used / sys_cpu`;
 * null for a sample with no CPU interval behind it) and `time` the controller's receipt time.
 */
export const UsageSample = z.object({
  time: z.number(),
  cpu_percent: z.number().nullable(),
  mem_used: z.number().int().nonnegative(),
  mem_limit: z.number().int().nonnegative().nullable(),
});
export type UsageSample = z.infer<typeof UsageSample>;

/** `GET /ctrl/b/{backend}/usage`: the recent samples, oldest first. */
export const BackendUsage = z.object({
  backend_id: BackendName,
  samples: z.array(UsageSample),
});
export type BackendUsage = z.infer<typeof BackendUsage>;

/**
 * `GET /ctrl/c/{cluster}/drones`: the cluster's connected drones with what `…/state` leaves out
 * (pool) and the summed latest usage of their backends (null until a sample arrived).
 */
export const DroneSummary = z.object({
  name: DroneName,
  pool: z.string(),
  ready: z.boolean(),
  draining: z.boolean(),
  last_heartbeat_age: z.number().int().nullable(),
  backend_count: z.number().int(),
  cpu_percent: z.number().nullable(),
  mem_used: z.number().int().nullable(),
});
export type DroneSummary = z.infer<typeof DroneSummary>;

export const DroneList = z.object({ drones: z.array(DroneSummary) });
export type DroneList = z.infer<typeof DroneList>;

/** `GET /ctrl/clusters`: clusters with a connected node, and the controller's default. */
export const ClusterList = z.object({
  default_cluster: ClusterName.nullable(),
  clusters: z.array(ClusterName),
});
export type ClusterList = z.infer<typeof ClusterList>;

/** One event of `GET /ctrl/c/{cluster}/status-stream`: a status entry naming its backend. */
export const ClusterStatusEvent = BackendStatusStreamEntry.extend({ backend_id: BackendName });
export type ClusterStatusEvent = z.infer<typeof ClusterStatusEvent>;
