/**
 * Socket messages between the controller and drones/proxies (plane-0.5.md §1.3, §6.2, §6.3,
 * §7.6), as externally tagged JSON: `{"Variant": payload}`, unit variants as bare strings.
 * Incoming objects are parsed leniently (unknown fields dropped) so that additive extensions
 * never break an older peer.
 */
import { z } from "zod";
import {
  BackendAddress,
  BackendState,
  TerminationKind,
  TerminationReason,
} from "./backend_state.ts";
import { ActionName, BackendName } from "./names.ts";

export const PLANE_VERSION = "0.5.6";
export const PLANE_HASH = "00000000";

/** First frame each side sends after the upgrade (plane-0.5.md §1.3). */
export const Handshake = z.object({
  version: z.object({ version: z.string(), git_hash: z.string() }),
  name: z.string().min(1).max(255),
});
export type Handshake = z.infer<typeof Handshake>;

const EpochMs = z.number().int().nonnegative();

export const KeyDeadlines = z.object({
  renew_at: EpochMs,
  soft_terminate_at: EpochMs,
  hard_terminate_at: EpochMs,
});
export type KeyDeadlines = z.infer<typeof KeyDeadlines>;

export const AcquiredKey = z.object({
  key: z.object({ name: z.string(), namespace: z.string(), tag: z.string() }),
  deadlines: KeyDeadlines,
  token: z.number().int(),
});
export type AcquiredKey = z.infer<typeof AcquiredKey>;

export const BackendAction = z.union([
  z.object({
    Spawn: z.object({
      executable: z.record(z.string(), z.unknown()),
      key: AcquiredKey,
      static_token: z.string().nullable().default(null),
    }),
  }),
  z.object({ Terminate: z.object({ kind: TerminationKind, reason: TerminationReason }) }),
]);
export type BackendAction = z.infer<typeof BackendAction>;

export const BackendActionMessage = z.object({
  action_id: ActionName,
  backend_id: BackendName,
  drone_id: z.number().int(),
  action: BackendAction,
});
export type BackendActionMessage = z.infer<typeof BackendActionMessage>;

export const BackendStateMessage = z.object({
  event_id: z.number().int(),
  backend_id: BackendName,
  state: BackendState,
  timestamp: EpochMs,
});
export type BackendStateMessage = z.infer<typeof BackendStateMessage>;

const U64 = z.number().int().nonnegative();
export const BackendMetricsMessage = z.object({
  backend_id: BackendName,
  mem_used: U64,
  mem_total: U64,
  mem_active: U64,
  mem_inactive: U64,
  mem_unevictable: U64,
  mem_limit: U64,
  cpu_used: U64,
  sys_cpu: U64,
});
export type BackendMetricsMessage = z.infer<typeof BackendMetricsMessage>;

export const LogLine = z.object({
  stream: z.enum(["stdout", "stderr"]),
  text: z.string(),
  time: EpochMs,
});
export type LogLine = z.infer<typeof LogLine>;

/**
 * A batch of a backend's output (decisions.md §3.4). `request` marks the tail sent in
 * answer to one `FollowLogs`; live lines carry none.
 */
export const LogLinesMessage = z.object({
  backend_id: BackendName,
  request: z.string().max(64).nullable().default(null),
  /** True when further batches of the same tail follow this one. */
  more: z.boolean().default(false),
  lines: z.array(LogLine).max(1000),
});
export type LogLinesMessage = z.infer<typeof LogLinesMessage>;

/** Drone → controller (plane-0.5.md §6.2). `LogLines` is ours (decisions.md §3.4). */
export const MessageFromDrone = z.union([
  z.object({ Heartbeat: z.object({ local_time: EpochMs }) }),
  z.object({ BackendEvent: BackendStateMessage }),
  z.object({ BackendMetrics: BackendMetricsMessage }),
  z.object({ AckAction: z.object({ action_id: ActionName }) }),
  z.object({ RenewKey: z.object({ backend: BackendName, local_time: EpochMs }) }),
  z.object({ LogLines: LogLinesMessage }),
]);
export type MessageFromDrone = z.infer<typeof MessageFromDrone>;

/** Controller → drone (plane-0.5.md §6.3). */
export const MessageToDrone = z.union([
  z.object({ Action: BackendActionMessage }),
  z.object({ AckEvent: z.object({ event_id: z.number().int() }) }),
  z.object({
    RenewKeyResponse: z.object({ backend: BackendName, deadlines: KeyDeadlines.nullable() }),
  }),
  /**
   * Ours (decisions.md §3.4): send the backend's log tail tagged with `request` (when
   * `tail`), then its live lines for `lease_ms`; re-sent to extend the lease.
   */
  z.object({
    FollowLogs: z.object({
      backend_id: BackendName,
      request: z.string().max(64),
      lease_ms: z.number().int().positive().max(600_000),
      tail: z.boolean(),
    }),
  }),
]);
export type MessageToDrone = z.infer<typeof MessageToDrone>;

export const RouteInfo = z.object({
  backend_id: BackendName,
  address: BackendAddress,
  secret_token: z.string(),
  cluster: z.string(),
  user: z.string().nullable(),
  user_data: z.unknown().nullable(),
  subdomain: z.string().nullable(),
});
export type RouteInfo = z.infer<typeof RouteInfo>;

/** Proxy → controller (plane-0.5.md §7.6). */
export const MessageFromProxy = z.union([
  z.object({ RouteInfoRequest: z.object({ token: z.string().max(1024) }) }),
  z.object({ KeepAlive: BackendName }),
  z.object({
    CertManagerRequest: z.union([
      z.literal("CertLeaseRequest"),
      z.literal("ReleaseCertLease"),
      z.object({ SetTxtRecord: z.object({ txt_value: z.string().max(255) }) }),
    ]),
  }),
]);
export type MessageFromProxy = z.infer<typeof MessageFromProxy>;

/** Controller → proxy (plane-0.5.md §7.6). `TokenRevoked` is ours (decisions.md §2). */
export const MessageToProxy = z.union([
  z.object({
    RouteInfoResponse: z.object({ token: z.string(), route_info: RouteInfo.nullable() }),
  }),
  z.object({
    CertManagerResponse: z.union([
      z.object({ CertLeaseResponse: z.object({ accepted: z.boolean() }) }),
      z.object({ SetTxtRecordResponse: z.object({ accepted: z.boolean() }) }),
    ]),
  }),
  z.object({ BackendRemoved: z.object({ backend: BackendName }) }),
  z.object({ TokenRevoked: z.object({ token: z.string() }) }),
]);
export type MessageToProxy = z.infer<typeof MessageToProxy>;

export { BackendAddress };

/**
 * DNS server → controller (plane-0.5.md §10.2): the TXT value for a cluster's `_acme-challenge`
 * name.
 */
export const MessageFromDns = z.union([
  z.object({ TxtRecordRequest: z.object({ cluster: z.string().max(255) }) }),
]);
export type MessageFromDns = z.infer<typeof MessageFromDns>;

/** Controller → DNS server (plane-0.5.md §10.2): the value, or null when the cluster has none. */
export const MessageToDns = z.union([
  z.object({
    TxtRecordResponse: z.object({
      cluster: z.string(),
      txt_value: z.string().max(255).nullable(),
    }),
  }),
]);
export type MessageToDns = z.infer<typeof MessageToDns>;
