/**
 * Plane states in the Jamsocket API's shapes (jamsocket-api.md §3.2, §3.5, §4.2): ISO-8601
 * `time` strings, optional fields omitted, and the v2 → v1 status translation of Jamsocket's
 * own dev server. Pure functions, plus the SSE formatters the status streams write with.
 */
import {
  type BackendState,
  type JamsocketBackendState,
  type JamsocketV1Status,
  type JamsocketV1StatusMessage,
  type JamsocketV2State,
  toStatusEntry,
  Unreachable,
} from "../../shared/mod.ts";
import type { TimedState } from "../db/mod.ts";

/** `2024-08-15T14:11:55.123Z`, as the dev server writes it (`Date#toISOString`). */
export function isoTime(ms: number): string {
  return new Date(Math.round(ms)).toISOString();
}

/**
 * The public v2 state (jamsocket-api.md §3.2): like Plane's status entry, with `time` as a string.
 */
export function toJamsocketState(state: BackendState, timeMs: number): JamsocketBackendState {
  const { time: _time, ...rest } = toStatusEntry(state, timeMs);
  return { ...rest, time: isoTime(timeMs) };
}

/**
 * The authenticated v2 state (jamsocket-api.md §3.5): `exit_code` and `last_status` instead of
 * `exit_error`.
 */
export function toJamsocketV2State(state: BackendState, timeMs: number): JamsocketV2State {
  const { "exit_error": _exitError, ...rest } = toJamsocketState(state, timeMs);
  const out: JamsocketV2State = rest;
  if (state.status === "terminated") {
    if (state.exit_code !== null) out.exit_code = state.exit_code;
    out.last_status = state.last_status;
  } else if (state.status === "terminating" || state.status === "hard-terminating") {
    out.last_status = state.last_status;
  }
  return out;
}

/** jamsocket-api.md §4.2: the dev server's `translateStatusToV1`, the only known definition. */
export function toV1Status(state: BackendState): JamsocketV1Status {
  switch (state.status) {
    case "scheduled":
    case "loading":
      return "Loading";
    case "starting":
    case "waiting":
      return "Starting";
    case "ready":
    case "terminating":
    case "hard-terminating":
      return "Ready";
    case "terminated":
      return terminatedV1Status(state);
    default:
      throw new Unreachable(state);
  }
}

function terminatedV1Status(state: Extract<BackendState, { status: "terminated" }>) {
  switch (state.reason) {
    case "external":
      return "Terminated";
    case "internalerror":
    case "lost":
      return "Lost";
    case "swept":
    case "keyexpired":
      return "Swept";
  }
  switch (state.last_status) {
    case "scheduled":
    case "loading":
      return "ErrorLoading";
    case "starting":
      return "ErrorStarting";
    case "waiting":
      return state.reason === "startuptimeout" ? "TimedOutBeforeReady" : "ErrorStarting";
    case "ready":
      if (state.exit_code === null) return "Terminated";
      return state.exit_code === 0 ? "Exited" : "Failed";
    default:
      throw new Unreachable(state.last_status);
  }
}

export function toV1Message(
  backend: string,
  state: BackendState,
  timeMs: number,
): JamsocketV1StatusMessage {
  return { state: toV1Status(state), backend, time: isoTime(timeMs) };
}

/**
 * One SSE event as the clients parse it (jamsocket-api.md §3.3): a single `data:` line, nothing
 * else.
 */
function sseData(value: unknown): string {
  return `data:${JSON.stringify(value)}\n\n`;
}

/** Formats v2 stream events. */
export function formatV2Event(item: TimedState): string {
  return sseData(toJamsocketState(item.state, item.time));
}

/**
 * A formatter for one v1 stream: translated, consecutive duplicates dropped (jamsocket-api.md
 * §4.2).
 */
export function v1EventFormatter(backend: string): (item: TimedState) => string | null {
  let last: JamsocketV1Status | null = null;
  return (item) => {
    const message = toV1Message(backend, item.state, item.time);
    if (message.state === last) return null;
    last = message.state;
    return sseData(message);
  };
}

/** The v1 status of a backend a connect just returned (never `terminated`: its key is live). */
export function v1StatusOfLive(status: BackendState["status"]): JamsocketV1Status {
  return LIVE_V1_STATUS[status];
}

const LIVE_V1_STATUS: Readonly<Record<BackendState["status"], JamsocketV1Status>> = {
  scheduled: "Loading",
  loading: "Loading",
  starting: "Starting",
  waiting: "Starting",
  ready: "Ready",
  terminating: "Ready",
  "hard-terminating": "Ready",
  terminated: "Terminated",
};
