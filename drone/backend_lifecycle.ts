/**
 * The drone's backend state machine as pure functions (plane-0.5.md §4.4, style.md §23):
 * given a state and an input, the next state (or null when the input changes nothing) and,
 * for each state, the one step the effect runner must start. Every transition cancels the
 * step in flight; the runner does that, this module only decides.
 */
import {
  type BackendState,
  isExitError,
  STATUS_RANK,
  type TerminationKind,
  type TerminationReason,
} from "../shared/mod.ts";

/** The step a state asks for; `null` when the backend waits for external input. */
export type Step =
  | { kind: "advance"; to: BackendState }
  | { kind: "prepare" }
  | { kind: "spawn" }
  | { kind: "wait_ready"; address: string }
  | { kind: "terminate"; hard: boolean }
  | null;

/** Outcome of a step the runner ran. */
export type StepResult =
  | { kind: "prepared" }
  | { kind: "prepare_failed"; error: string }
  | { kind: "spawned"; address: string }
  | { kind: "spawn_failed"; error: string }
  | { kind: "ready" }
  | { kind: "startup_timeout"; error: string }
  | { kind: "wait_failed"; error: string }
  /** `running: false` = the backend was already gone; true = wait for its exit event. */
  | { kind: "terminate_sent"; running: boolean };

type PreTermination = "scheduled" | "loading" | "starting" | "waiting" | "ready";

/**
 * The last status before termination began (plane-0.5.md §4.1: a hard after a soft keeps the
 * original).
 */
export function lastStatusOf(state: BackendState): PreTermination {
  switch (state.status) {
    case "terminating":
    case "hard-terminating":
    case "terminated":
      return state.last_status;
    default:
      return state.status;
  }
}

export function nextStep(state: BackendState): Step {
  switch (state.status) {
    case "scheduled":
      return { kind: "advance", to: { status: "loading" } };
    case "loading":
      return { kind: "prepare" };
    case "starting":
      return { kind: "spawn" };
    case "waiting":
      return { kind: "wait_ready", address: state.address };
    case "ready":
    case "terminated":
      return null;
    case "terminating":
      return { kind: "terminate", hard: false };
    case "hard-terminating":
      return { kind: "terminate", hard: true };
  }
}

/**
 * The terminated state reached from `from`. Issue 12: it says why — a reason on every path
 * the drone ends a backend (Plane leaves pull and spawn failures without one), and an `error`
 * text for what went wrong: the failure passed in, the one the hard terminate was for, or a
 * non-zero exit that was not the signal the drone sent.
 */
function terminated(
  from: BackendState,
  exitCode: number | null,
  failure?: { reason: TerminationReason; error: string },
): Extract<BackendState, { status: "terminated" }> {
  const kind: TerminationKind | null = from.status === "terminating"
    ? "soft"
    : from.status === "hard-terminating"
    ? "hard"
    : null;
  const reason: TerminationReason | null = failure?.reason ??
    (from.status === "terminating" || from.status === "hard-terminating" ? from.reason : null);
  const error = failure?.error ?? (from.status === "hard-terminating" ? from.error : undefined) ??
    (isExitError(kind, exitCode) ? `exited with code ${exitCode}` : undefined);
  const state: Extract<BackendState, { status: "terminated" }> = {
    status: "terminated",
    "last_status": lastStatusOf(from),
    termination: kind,
    reason,
    "exit_code": exitCode,
  };
  if (error !== undefined) state.error = error;
  return state;
}

/** Applies a step's outcome. A result for a state that has moved on is ignored by the runner. */
export function onStepResult(state: BackendState, result: StepResult): BackendState | null {
  switch (result.kind) {
    case "prepared":
      return { status: "starting" };
    case "prepare_failed":
    case "spawn_failed":
      // plane-0.5.md §4.4: Plane ends these without a reason; we say `internalerror` and what
      // failed.
      return terminated(state, null, { reason: "internalerror", error: result.error });
    case "spawned":
      return { status: "waiting", address: result.address };
    case "ready":
      return state.status === "waiting" ? { status: "ready", address: state.address } : null;
    case "startup_timeout":
      return onTerminate(state, "hard", "startuptimeout", result.error);
    case "wait_failed":
      return onTerminate(state, "hard", "internalerror", result.error);
    case "terminate_sent":
      return result.running ? null : terminated(state, null);
  }
}

/**
 * A terminate request (action, key expiry, startup failure). Unlike Plane, a repeat of the
 * same or a weaker kind changes nothing (no duplicate event, no second stop — decisions.md §2.2,
 * #778): soft after soft or hard is ignored; hard after soft upgrades, keeping `last_status`.
 */
export function onTerminate(
  state: BackendState,
  kind: TerminationKind,
  reason: TerminationReason,
  error?: string,
): BackendState | null {
  const target = kind === "soft" ? "terminating" : "hard-terminating";
  if (STATUS_RANK[state.status] >= STATUS_RANK[target]) return null;
  const lastStatus = lastStatusOf(state);
  if (kind === "soft") {
    return { status: "terminating", last_status: lastStatus, termination: "soft", reason };
  }
  return error === undefined
    ? { status: "hard-terminating", last_status: lastStatus, reason }
    : { status: "hard-terminating", last_status: lastStatus, reason, error };
}

/**
 * The backend's process exited (any state): `terminated` with the exit code (plane-0.5.md §3.8,
 * §4.4).
 */
export function onExit(state: BackendState, exitCode: number | null): BackendState | null {
  if (state.status === "terminated") return null;
  return terminated(state, exitCode);
}
