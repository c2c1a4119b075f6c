import assert from "node:assert/strict";
import {
  BackendState,
  BackendStatus,
  isExitError,
  STATUS_RANK,
  toStatusEntry,
} from "./backend_state.ts";

Deno.test("STATUS_RANK orders the lifecycle with Plane's gapped numbers (plane-0.5.md §4.2)", () => {
  const ranks = BackendStatus.options.map((s) => STATUS_RANK[s]);
  assert.deepEqual(ranks, [10, 20, 30, 40, 50, 60, 65, 70]);
});

Deno.test("BackendState parses Plane's wire examples (plane-0.5.md §4.1)", () => {
  const examples = [
    { status: "scheduled" },
    { status: "waiting", address: "10.0.0.5:49153" },
    { status: "terminating", last_status: "ready", termination: "soft", reason: "swept" },
    { status: "hard-terminating", last_status: "waiting", reason: "startuptimeout" },
    {
      status: "terminated",
      last_status: "ready",
      termination: "hard",
      reason: "external",
      exit_code: 137,
    },
  ];
  for (const example of examples) assert.deepEqual(BackendState.parse(example), example);
  assert.equal(BackendState.safeParse({ status: "ready" }).success, false);
  assert.equal(BackendState.safeParse({ status: "bogus" }).success, false);
});

Deno.test("toStatusEntry() omits optional fields and exit_error when the exit code is unknown", () => {
  assert.deepEqual(toStatusEntry({ status: "ready", address: "1.2.3.4:5" }, 1000.4), {
    status: "ready",
    time: 1000,
  });
  assert.deepEqual(
    toStatusEntry({
      status: "terminating",
      last_status: "ready",
      termination: "soft",
      reason: "swept",
    }, 1),
    { status: "terminating", termination_reason: "swept", termination_kind: "soft", time: 1 },
  );
  assert.deepEqual(
    toStatusEntry({
      status: "terminated",
      last_status: "ready",
      termination: null,
      reason: "lost",
      exit_code: null,
    }, 2),
    { status: "terminated", termination_reason: "lost", time: 2 },
  );
  assert.deepEqual(
    toStatusEntry({
      status: "terminated",
      last_status: "ready",
      termination: "hard",
      reason: null,
      exit_code: 1,
    }, 3),
    { status: "terminated", termination_kind: "hard", exit_error: true, time: 3 },
  );
});

Deno.test("isExitError() is false for a clean exit and for the signal the drone sent", () => {
  assert.equal(isExitError(null, null), undefined);
  assert.equal(isExitError("soft", null), undefined);
  assert.equal(isExitError(null, 0), false);
  assert.equal(isExitError("soft", 0), false);
  // Soft terminate: SIGTERM (143), or SIGKILL after the grace period (137).
  assert.equal(isExitError("soft", 143), false);
  assert.equal(isExitError("soft", 137), false);
  assert.equal(isExitError("hard", 137), false);
  // A crash, or a backend that answered the signal by failing.
  assert.equal(isExitError(null, 1), true);
  assert.equal(isExitError(null, 143), true);
  assert.equal(isExitError("soft", 1), true);
});

Deno.test("toStatusEntry() carries the terminated state's error text (issue 12)", () => {
  const state = BackendState.parse({
    status: "terminated",
    last_status: "loading",
    reason: "internalerror",
    error: 'image "nope" is not mapped (mapped: echo)',
  });
  assert.deepEqual(toStatusEntry(state, 5), {
    status: "terminated",
    termination_reason: "internalerror",
    error: 'image "nope" is not mapped (mapped: echo)',
    time: 5,
  });
  assert.deepEqual(
    toStatusEntry({
      status: "terminated",
      last_status: "ready",
      termination: "soft",
      reason: "external",
      exit_code: 143,
    }, 6),
    {
      status: "terminated",
      termination_reason: "external",
      termination_kind: "soft",
      exit_error: false,
      time: 6,
    },
  );
});
