/**
 * The backend lifecycle (plane-0.5.md §4): ordered statuses with gapped ranks, and the
 * `BackendState` union internally tagged by `status`, exactly as Plane 0.5 puts it on the wire.
 */
import { z } from "zod";

export const BackendStatus = z.enum([
  "scheduled",
  "loading",
  "starting",
  "waiting",
  "ready",
  "terminating",
  "hard-terminating",
  "terminated",
]);
export type BackendStatus = z.infer<typeof BackendStatus>;

/**
 * plane-0.5.md §4.2: stored in `backend.last_status_number`; updates apply only when strictly
 * greater.
 */
export const STATUS_RANK: Readonly<Record<BackendStatus, number>> = {
  scheduled: 10,
  loading: 20,
  starting: 30,
  waiting: 40,
  ready: 50,
  terminating: 60,
  "hard-terminating": 65,
  terminated: 70,
};

export function statusRank(status: BackendStatus): number {
  return STATUS_RANK[status];
}

export const TerminationReason = z.enum([
  "swept",
  "external",
  "keyexpired",
  "lost",
  "startuptimeout",
  "internalerror",
]);
export type TerminationReason = z.infer<typeof TerminationReason>;

export const TerminationKind = z.enum(["soft", "hard"]);
export type TerminationKind = z.infer<typeof TerminationKind>;

/** `ip:port` (IPv4) or `[ipv6]:port`, as the drone reports it. */
export const BackendAddress = z.string().regex(
  /^(?:[0-9.]+|\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+):\d{1,5}$/,
  "Expected an address of the form ip:port",
);

/** Statuses a backend can be in before termination began (`last_status` of the terminal states). */
const PreTerminationStatus = z.enum(["scheduled", "loading", "starting", "waiting", "ready"]);

export const BackendState = z.discriminatedUnion("status", [
  z.object({ status: z.literal("scheduled") }),
  z.object({ status: z.literal("loading") }),
  z.object({ status: z.literal("starting") }),
  z.object({ status: z.literal("waiting"), address: BackendAddress }),
  z.object({ status: z.literal("ready"), address: BackendAddress }),
  z.object({
    status: z.literal("terminating"),
    last_status: PreTerminationStatus,
    // Deprecated by Plane (#791) and always "soft"; kept for wire compatibility.
    termination: TerminationKind.default("soft"),
    reason: TerminationReason,
  }),
  z.object({
    status: z.literal("hard-terminating"),
    last_status: PreTerminationStatus,
    reason: TerminationReason,
    // Extension (issue 12): what went wrong, e.g. the startup timeout; Plane has no such field.
    error: z.string().optional(),
  }),
  z.object({
    status: z.literal("terminated"),
    last_status: PreTerminationStatus,
    termination: TerminationKind.nullable().default(null),
    reason: TerminationReason.nullable().default(null),
    exit_code: z.number().int().nullable().default(null),
    /**
     * Extension (issue 12): why, in words — the image-mapping miss, the pull or spawn error,
     * "exited with code 1". Absent when nothing went wrong. Plane has no such field.
     */
    error: z.string().optional(),
  }),
]);
export type BackendState = z.infer<typeof BackendState>;

/** The address of a waiting or ready backend, else null (stored as `backend.cluster_address`). */
export function addressOf(state: BackendState): string | null {
  return state.status === "waiting" || state.status === "ready" ? state.address : null;
}

/** Public status entry (plane-0.5.md §2.9): optional fields omitted rather than null. */
export const BackendStatusStreamEntry = z.object({
  status: BackendStatus,
  termination_reason: TerminationReason.optional(),
  termination_kind: TerminationKind.optional(),
  exit_error: z.boolean().optional(),
  /** Extension (issue 12): the terminated state's `error` text, when there is one. */
  error: z.string().optional(),
  time: z.number().int(),
});
export type BackendStatusStreamEntry = z.infer<typeof BackendStatusStreamEntry>;

/**
 * Converts a stored state into its public form. Addresses are never exposed (plane-0.5.md §2.9).
 * Unlike Plane, `exit_error` is omitted when the exit code is unknown (decisions.md §2.14).
 */
export function toStatusEntry(state: BackendState, timeMs: number): BackendStatusStreamEntry {
  const entry: BackendStatusStreamEntry = { status: state.status, time: Math.round(timeMs) };
  if (state.status === "terminating") {
    entry.termination_reason = state.reason;
    entry.termination_kind = "soft";
  } else if (state.status === "hard-terminating") {
    entry.termination_reason = state.reason;
    entry.termination_kind = "hard";
  } else if (state.status === "terminated") {
    if (state.reason !== null) entry.termination_reason = state.reason;
    if (state.termination !== null) entry.termination_kind = state.termination;
    const exitError = isExitError(state.termination, state.exit_code);
    if (exitError !== undefined) entry.exit_error = exitError;
  }
  if ((state.status === "terminated" || state.status === "hard-terminating") && state.error) {
    entry.error = state.error;
  }
  return entry;
}

/** 128 + SIGTERM and 128 + SIGKILL: how a process killed by those signals reports its exit. */
const SIGNAL_EXIT_CODES: readonly number[] = [143, 137];

/**
 * Whether an exit is an error (issue 12): a non-zero code, unless the backend was being
 * terminated and died of the signal the drone sent it (soft: SIGTERM, then SIGKILL after the
 * grace period; hard: SIGKILL). Undefined when the code is unknown (decisions.md §2.14).
 */
export function isExitError(
  termination: TerminationKind | null,
  exitCode: number | null,
): boolean | undefined {
  if (exitCode === null) return undefined;
  if (exitCode === 0) return false;
  return !(termination !== null && SIGNAL_EXIT_CODES.includes(exitCode));
}

/**
 * True once a backend has begun terminating (proxies get no new route info then, plane-0.5.md
 * §7.6).
 */
export function isTerminatingOrBeyond(status: BackendStatus): boolean {
  return STATUS_RANK[status] >= STATUS_RANK.terminating;
}
