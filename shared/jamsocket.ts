/**
 * Wire schemas of the Jamsocket-compatible API (jamsocket-api.md §3, §4): what the official
 * clients send and what they parse. Requests are lenient (unknown fields are dropped, nulls are
 * treated as absent); responses are strict: times are ISO-8601 strings and optional fields are
 * omitted, never `null` (jamsocket-api.md §3.2, `isBackendState`).
 */
import { z } from "zod";
import { BackendStatus, TerminationKind, TerminationReason } from "./backend_state.ts";
import { SafeJsonObject, SafeText } from "./safe_text.ts";

/** Seconds limits are positive int32, as in Plane. */
const Seconds = z.number().int().min(1).max(2_147_483_647);
const EnvMap = z.record(SafeText, SafeText);

/** jamsocket-api.md §3.1: keys are any string up to 128 characters, namespaced per service. */
export const JamsocketKey = SafeText.min(1, "must not be empty").max(
  128,
  "must be at most 128 characters",
);

export const JamsocketResourceLimits = z.object({
  cpu_period: z.number().int().positive().nullish(),
  cpu_period_percent: z.number().int().min(0).max(255).nullish(),
  cpu_time_limit: z.number().int().positive().nullish(),
  memory_limit_bytes: z.number().int().positive().nullish(),
  disk_limit_bytes: z.number().int().positive().nullish(),
});

/**
 * jamsocket-api.md §3.1 SpawnConfig. The image is never the caller's: the service map resolves it.
 */
export const JamsocketSpawnConfig = z.object({
  tag: SafeText.min(1).max(255).nullish(),
  cluster: SafeText.nullish(),
  lifetime_limit_seconds: Seconds.nullish(),
  max_idle_seconds: Seconds.nullish(),
  executable: z.object({
    env: EnvMap.nullish(),
    mount: z.union([SafeText, z.boolean()]).nullish(),
    resource_limits: JamsocketResourceLimits.nullish(),
  }).nullish(),
});
export type JamsocketSpawnConfig = z.infer<typeof JamsocketSpawnConfig>;

/**
 * `POST /v2/service/{account}/{service}[/{environment}]/connect` body (jamsocket-api.md §3.1); `{}`
 * when empty.
 */
export const JamsocketConnectRequest = z.object({
  key: JamsocketKey.nullish(),
  spawn: z.union([z.boolean(), JamsocketSpawnConfig]).nullish(),
  user: SafeText.max(1024).nullish(),
  auth: SafeJsonObject.nullish(),
});
export type JamsocketConnectRequest = z.infer<typeof JamsocketConnectRequest>;

/** jamsocket-api.md §3.1 ConnectResponse: `secret_token` is left out for static-token backends. */
export const JamsocketConnectResponse = z.object({
  backend_id: z.string(),
  spawned: z.boolean(),
  status: BackendStatus,
  token: z.string(),
  url: z.string(),
  secret_token: z.string().optional(),
  status_url: z.string(),
  ready_url: z.string(),
});
export type JamsocketConnectResponse = z.infer<typeof JamsocketConnectResponse>;

/**
 * jamsocket-api.md §3.2 public state: `time` is an ISO-8601 string; optional fields are omitted,
 * never null.
 */
export const JamsocketBackendState = z.object({
  status: BackendStatus,
  time: z.string(),
  termination_reason: TerminationReason.optional(),
  termination_kind: TerminationKind.optional(),
  exit_error: z.boolean().optional(),
  /** Extension (issue 12): why the backend ended, in words. */
  error: z.string().optional(),
});
export type JamsocketBackendState = z.infer<typeof JamsocketBackendState>;

/**
 * jamsocket-api.md §3.5 authenticated state: `exit_code` instead of `exit_error`, plus
 * `last_status`.
 */
export const JamsocketV2State = z.object({
  status: BackendStatus,
  time: z.string(),
  termination_reason: TerminationReason.optional(),
  termination_kind: TerminationKind.optional(),
  exit_code: z.number().int().optional(),
  last_status: BackendStatus.optional(),
  /** Extension (issue 12): why the backend ended, in words. */
  error: z.string().optional(),
});
export type JamsocketV2State = z.infer<typeof JamsocketV2State>;

/** `POST /v2/backend/{id}/terminate` body (jamsocket-api.md §3.4); absent `hard` means soft. */
export const JamsocketTerminateRequest = z.object({ hard: z.boolean().nullish() });
export type JamsocketTerminateRequest = z.infer<typeof JamsocketTerminateRequest>;

/** `GET /v2/backend/{id}` (jamsocket-api.md §3.5). */
export const JamsocketBackendInfo = z.object({
  id: z.string(),
  created_at: z.string(),
  service_name: z.string(),
  cluster_name: z.string(),
  account_name: z.string(),
  statuses: z.array(JamsocketV2State),
  image_digest: z.string(),
  key: z.string().optional(),
  environment_name: z.string().optional(),
});
export type JamsocketBackendInfo = z.infer<typeof JamsocketBackendInfo>;

/** `GET /v2/account/{account}/backends` (jamsocket-api.md §3.6). */
export const JamsocketRunningBackends = z.object({
  running_backends: z.array(z.object({
    id: z.string(),
    created_at: z.string(),
    service_name: z.string(),
    cluster_name: z.string(),
    account_name: z.string(),
    status: JamsocketV2State.optional(),
    key: z.string().optional(),
  })),
});
export type JamsocketRunningBackends = z.infer<typeof JamsocketRunningBackends>;

/**
 * `POST [/v1]/user/{account}/service/{service}/spawn` body (jamsocket-api.md §4.1).
 * `require_bearer_token` and `port` (Plane 0.3 era) are accepted and ignored; other unknown fields
 * are dropped.
 */
export const JamsocketV1SpawnRequest = z.object({
  lock: JamsocketKey.nullish(),
  env: EnvMap.nullish(),
  grace_period_seconds: Seconds.nullish(),
  tag: SafeText.min(1).max(255).nullish(),
  service_environment: SafeText.nullish(),
  require_bearer_token: z.boolean().nullish(),
  port: z.number().int().nullish(),
});
export type JamsocketV1SpawnRequest = z.infer<typeof JamsocketV1SpawnRequest>;

/** v1 states (Plane 0.3 `BackendState`, jamsocket-api.md §4.2). */
export const JamsocketV1Status = z.enum([
  "Loading",
  "ErrorLoading",
  "Starting",
  "ErrorStarting",
  "Ready",
  "TimedOutBeforeReady",
  "Failed",
  "Exited",
  "Swept",
  "Lost",
  "Terminated",
]);
export type JamsocketV1Status = z.infer<typeof JamsocketV1Status>;

/** v1 spawn answer (jamsocket-api.md §4.1); `backend_id` is ours, a harmless extra. */
export const JamsocketV1SpawnResponse = z.object({
  url: z.string(),
  name: z.string(),
  backend_id: z.string(),
  ready_url: z.string(),
  status_url: z.string(),
  spawned: z.boolean(),
  status: JamsocketV1Status,
});
export type JamsocketV1SpawnResponse = z.infer<typeof JamsocketV1SpawnResponse>;

/** v1 status message `{state, backend, time}` (jamsocket-api.md §4.2). */
export const JamsocketV1StatusMessage = z.object({
  state: JamsocketV1Status,
  backend: z.string(),
  time: z.string(),
});
export type JamsocketV1StatusMessage = z.infer<typeof JamsocketV1StatusMessage>;

/** The error envelope the CLI parses (jamsocket-api.md §2.3). */
export const JamsocketErrorBody = z.object({
  error: z.object({
    status: z.number().int(),
    code: z.string(),
    message: z.string(),
    id: z.string(),
  }),
});
export type JamsocketErrorBody = z.infer<typeof JamsocketErrorBody>;

/** `GET /auth` (jamsocket-api.md §3.9). */
export const JamsocketAuthResponse = z.object({
  status: z.literal("ok"),
  accounts: z.array(z.string()),
  is_admin: z.boolean(),
});
export type JamsocketAuthResponse = z.infer<typeof JamsocketAuthResponse>;

/** `GET /v2/account/{account}/services` (jamsocket-api.md §3.9): the account's service names. */
export const JamsocketServiceList = z.object({ services: z.array(z.string()) });
export type JamsocketServiceList = z.infer<typeof JamsocketServiceList>;

/** One environment of `GET /v2/service/{account}/{service}` (jamsocket-api.md §3.9). */
export const JamsocketServiceEnvironment = z.object({
  name: z.string(),
  image_tag: z.string(),
  cluster: z.string(),
  created_at: z.string(),
  last_spawned_at: z.string().nullable(),
});
export type JamsocketServiceEnvironment = z.infer<typeof JamsocketServiceEnvironment>;

/**
 * `GET /v2/service/{account}/{service}` (jamsocket-api.md §3.9). The CLI reads `environments[0]`
 * when there is one, so there is always at least one.
 */
export const JamsocketServiceInfo = z.object({
  name: z.string(),
  account_name: z.string(),
  created_at: z.string(),
  last_spawned_at: z.string().nullable(),
  last_image_upload_time: z.string().nullable(),
  last_image_digest: z.string().nullable(),
  image_name: z.string(),
  environments: z.array(JamsocketServiceEnvironment).min(1),
});
export type JamsocketServiceInfo = z.infer<typeof JamsocketServiceInfo>;

/** `GET /v2/service/{account}/{service}/images` (jamsocket-api.md §3.9). */
export const JamsocketImages = z.object({
  images: z.array(z.object({
    repository: z.string(),
    digest: z.string(),
    tag: z.string(),
    upload_time: z.string(),
  })),
});
export type JamsocketImages = z.infer<typeof JamsocketImages>;

/** One `data:` payload of `GET /v2/backend/{id}/metrics/stream` (jamsocket-api.md §3.7). */
export const JamsocketMetrics = z.object({
  cluster: z.string(),
  backend_id: z.string(),
  mem_used: z.number(),
  mem_available: z.number(),
  cpu_used: z.number(),
  sys_cpu: z.number(),
});
export type JamsocketMetrics = z.infer<typeof JamsocketMetrics>;
