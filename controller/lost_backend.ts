/**
 * Backends of a drone that is gone (issue 11, finding 3; decisions.md §2.8 fixes plane-0.5.md §5.6
 * and Appendix C "drone machine lost": rows stay `ready` forever). A drone out of contact stops
 * getting key renewals; it soft-terminates its backends at 2/3 and hard-terminates them at 5/6 of
 * the lease after the last renewal (its clock), and the key expires at the full lease (the database
 * clock). Once the key has expired and the drone has been out of contact a whole lease, the drone —
 * alive behind a partition or dead — runs none of them: the row is then marked `terminated` with
 * reason `lost`, which releases the key, tells proxies and fixes listings and metrics. A drone that
 * comes back kills leftovers in its start-up sweep.
 */
import type { BackendState } from "../shared/mod.ts";
import type { ControllerConfig } from "./config.ts";

type Terminated = Extract<BackendState, { status: "terminated" }>;

/**
 * The longest time from a drone's last contact (its last heartbeat, renewal or connection) to
 * its backends being marked lost: the key lease, after which both conditions hold, plus one
 * pass of the lost-backend sweep. Default 60 s + 5 s = 65 s.
 */
export function lostDeadlineMs(
  config: Pick<ControllerConfig, "keyLeaseMs" | "sweepIntervalMs">,
): number {
  return config.keyLeaseMs + config.sweepIntervalMs;
}

/**
 * The `terminated {reason: "lost"}` state recorded for a backend last seen in `current`: it
 * keeps the status the backend had before termination began, and the termination kind if one
 * had begun (Plane's drone records lost backends the same way, plane-0.5.md §6.4).
 */
export function lostState(current: BackendState): Terminated {
  switch (current.status) {
    case "terminating":
      return lost(current.last_status, "soft");
    case "hard-terminating":
      return lost(current.last_status, "hard");
    case "terminated":
      return current;
    default:
      return lost(current.status, null);
  }
}

function lost(lastStatus: Terminated["last_status"], termination: Terminated["termination"]) {
  return {
    status: "terminated",
    "last_status": lastStatus,
    termination,
    reason: "lost",
    "exit_code": null,
    // Issue 12: the terminated state says why, not only the drone's log.
    error: lastStatus === "scheduled"
      ? "its drone went offline before starting it and did not come back within the key lease"
      : "its drone went offline and did not come back within the key lease",
  } as const satisfies Terminated;
}
