import assert from "node:assert/strict";
import type { BackendState } from "../../shared/backend_state.ts";
import {
  formatV2Event,
  toJamsocketState,
  toJamsocketV2State,
  toV1Status,
  v1EventFormatter,
} from "./status.ts";

const T = Date.UTC(2024, 7, 15, 14, 11, 55, 123);
const ADDRESS = "127.0.0.1:1";

function terminated(
  lastStatus: "scheduled" | "loading" | "starting" | "waiting" | "ready",
  reason: Extract<BackendState, { status: "terminated" }>["reason"],
  exitCode: number | null = null,
): BackendState {
  return {
    status: "terminated",
    "last_status": lastStatus,
    termination: reason === null ? null : "soft",
    reason,
    "exit_code": exitCode,
  };
}

Deno.test("toJamsocketState() sends an ISO time and omits unknown fields, never null", () => {
  assert.deepEqual(toJamsocketState({ status: "ready", address: ADDRESS }, T), {
    status: "ready",
    time: "2024-08-15T14:11:55.123Z",
  });
  assert.deepEqual(toJamsocketState(terminated("ready", null), T), {
    status: "terminated",
    time: "2024-08-15T14:11:55.123Z",
  });
  assert.deepEqual(toJamsocketState(terminated("ready", "swept", 143), T), {
    status: "terminated",
    "termination_reason": "swept",
    "termination_kind": "soft",
    // Issue 12: dying of the SIGTERM a soft terminate sent is not an error.
    "exit_error": false,
    time: "2024-08-15T14:11:55.123Z",
  });
  assert.equal(
    formatV2Event({ state: { status: "loading" }, time: T }),
    'data:{"status":"loading","time":"2024-08-15T14:11:55.123Z"}\n\n',
  );
});

Deno.test("toJamsocketV2State() carries exit_code and last_status instead of exit_error", () => {
  assert.deepEqual(toJamsocketV2State(terminated("waiting", "startuptimeout", 1), T), {
    status: "terminated",
    "termination_reason": "startuptimeout",
    "termination_kind": "soft",
    "exit_code": 1,
    "last_status": "waiting",
    time: "2024-08-15T14:11:55.123Z",
  });
});

Deno.test("Jamsocket states carry the error text and no null reason (issue 12)", () => {
  const state: BackendState = {
    status: "terminated",
    "last_status": "loading",
    termination: null,
    reason: "internalerror",
    "exit_code": null,
    error: 'Cannot run image "nope"',
  };
  assert.deepEqual(toJamsocketState(state, T), {
    status: "terminated",
    "termination_reason": "internalerror",
    error: 'Cannot run image "nope"',
    time: "2024-08-15T14:11:55.123Z",
  });
  assert.deepEqual(toJamsocketV2State(state, T), {
    status: "terminated",
    "termination_reason": "internalerror",
    error: 'Cannot run image "nope"',
    "last_status": "loading",
    time: "2024-08-15T14:11:55.123Z",
  });
});

Deno.test("toV1Status() follows the dev server's v2 → v1 table", () => {
  const cases: [BackendState, string][] = [
    [{ status: "scheduled" }, "Loading"],
    [{ status: "loading" }, "Loading"],
    [{ status: "starting" }, "Starting"],
    [{ status: "waiting", address: ADDRESS }, "Starting"],
    [{ status: "ready", address: ADDRESS }, "Ready"],
    [
      { status: "terminating", "last_status": "ready", termination: "soft", reason: "swept" },
      "Ready",
    ],
    [{ status: "hard-terminating", "last_status": "ready", reason: "external" }, "Ready"],
    [terminated("ready", "external"), "Terminated"],
    [terminated("ready", "lost"), "Lost"],
    [terminated("loading", "internalerror"), "Lost"],
    [terminated("ready", "swept"), "Swept"],
    [terminated("ready", "keyexpired"), "Swept"],
    [terminated("scheduled", null), "ErrorLoading"],
    [terminated("loading", null), "ErrorLoading"],
    [terminated("starting", null), "ErrorStarting"],
    [terminated("waiting", "startuptimeout"), "TimedOutBeforeReady"],
    [terminated("waiting", null), "ErrorStarting"],
    [terminated("ready", null), "Terminated"],
    [terminated("ready", null, 0), "Exited"],
    [terminated("ready", null, 1), "Failed"],
  ];
  for (const [state, v1] of cases) assert.equal(toV1Status(state), v1, JSON.stringify(state));
});

Deno.test("v1EventFormatter() drops consecutive repeats after translation", () => {
  const format = v1EventFormatter("b1");
  const out = [
    { status: "scheduled" },
    { status: "loading" },
    { status: "starting" },
    { status: "waiting", address: ADDRESS },
  ].map((state) => format({ state: state as BackendState, time: T }));
  assert.deepEqual(out, [
    'data:{"state":"Loading","backend":"b1","time":"2024-08-15T14:11:55.123Z"}\n\n',
    null,
    'data:{"state":"Starting","backend":"b1","time":"2024-08-15T14:11:55.123Z"}\n\n',
    null,
  ]);
});
