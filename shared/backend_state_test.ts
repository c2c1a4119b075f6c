import assert from "node:assert/strict";
import { BackendState, BackendStatus, STATUS_RANK, toStatusEntry } from "./backend_state.ts";

Deno.test("STATUS_RANK orders the lifecycle with Plane's gapped numbers (§4.2)", () => {
  const ranks = BackendStatus.options.map((s) => STATUS_RANK[s]);
  assert.deepEqual(ranks, [10, 20, 30, 40, 50, 60, 65, 70]);
});

Deno.test("BackendState parses Plane's wire examples (§4.1)", () => {
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
