import assert from "node:assert/strict";
import { nextStep, onExit, onStepResult, onTerminate } from "./backend_lifecycle.ts";
import type { BackendState } from "../shared/backend_state.ts";

const ready: BackendState = { status: "ready", address: "127.0.0.1:1" };
const waiting: BackendState = { status: "waiting", address: "127.0.0.1:1" };

Deno.test("nextStep() walks scheduled → loading → prepare/spawn/wait and waits when ready", () => {
  assert.deepEqual(nextStep({ status: "scheduled" }), {
    kind: "advance",
    to: { status: "loading" },
  });
  assert.deepEqual(nextStep({ status: "loading" }), { kind: "prepare" });
  assert.deepEqual(nextStep({ status: "starting" }), { kind: "spawn" });
  assert.deepEqual(nextStep(waiting), { kind: "wait_ready", address: "127.0.0.1:1" });
  assert.equal(nextStep(ready), null);
  assert.deepEqual(
    nextStep({ status: "terminating", last_status: "ready", termination: "soft", reason: "swept" }),
    { kind: "terminate", hard: false },
  );
  assert.deepEqual(
    nextStep({ status: "hard-terminating", last_status: "ready", reason: "external" }),
    { kind: "terminate", hard: true },
  );
});

Deno.test("onStepResult() maps each outcome as plane-0.5.md §4.4 says", () => {
  assert.deepEqual(onStepResult({ status: "loading" }, { kind: "prepared" }), {
    status: "starting",
  });
  // Issue 12: Plane gives no reason here; we say internalerror and what failed.
  assert.deepEqual(onStepResult({ status: "loading" }, { kind: "prepare_failed", error: "x" }), {
    status: "terminated",
    last_status: "loading",
    termination: null,
    reason: "internalerror",
    exit_code: null,
    error: "x",
  });
  assert.deepEqual(onStepResult({ status: "starting" }, { kind: "spawn_failed", error: "y" }), {
    status: "terminated",
    last_status: "starting",
    termination: null,
    reason: "internalerror",
    exit_code: null,
    error: "y",
  });
  assert.deepEqual(
    onStepResult({ status: "starting" }, { kind: "spawned", address: "1.2.3.4:5" }),
    {
      status: "waiting",
      address: "1.2.3.4:5",
    },
  );
  assert.deepEqual(onStepResult(waiting, { kind: "ready" }), ready);
  assert.deepEqual(onStepResult(waiting, { kind: "startup_timeout", error: "slow" }), {
    status: "hard-terminating",
    last_status: "waiting",
    reason: "startuptimeout",
    error: "slow",
  });
  assert.deepEqual(onStepResult(waiting, { kind: "wait_failed", error: "x" }), {
    status: "hard-terminating",
    last_status: "waiting",
    reason: "internalerror",
    error: "x",
  });
  const terminating: BackendState = {
    status: "terminating",
    "last_status": "ready",
    termination: "soft",
    reason: "swept",
  };
  assert.equal(onStepResult(terminating, { kind: "terminate_sent", running: true }), null);
  assert.deepEqual(onStepResult(terminating, { kind: "terminate_sent", running: false }), {
    status: "terminated",
    last_status: "ready",
    termination: "soft",
    reason: "swept",
    exit_code: null,
  });
});

Deno.test("onTerminate() ignores soft after soft or hard, upgrades soft to hard keeping last_status", () => {
  const soft = onTerminate(ready, "soft", "swept")!;
  assert.deepEqual(soft, {
    status: "terminating",
    last_status: "ready",
    termination: "soft",
    reason: "swept",
  });
  assert.equal(onTerminate(soft, "soft", "external"), null);
  const hard = onTerminate(soft, "hard", "external")!;
  assert.deepEqual(hard, { status: "hard-terminating", last_status: "ready", reason: "external" });
  assert.equal(onTerminate(hard, "soft", "external"), null);
  assert.equal(onTerminate(hard, "hard", "external"), null);
  // Terminate from any earlier state.
  assert.equal(
    onTerminate({ status: "loading" }, "hard", "keyexpired")?.status,
    "hard-terminating",
  );
});

Deno.test("onExit() ends any live state with the exit code and the termination it was in", () => {
  assert.deepEqual(onExit(ready, 3), {
    status: "terminated",
    last_status: "ready",
    termination: null,
    reason: null,
    exit_code: 3,
    error: "exited with code 3",
  });
  assert.deepEqual(
    onExit({ status: "hard-terminating", last_status: "waiting", reason: "external" }, 137),
    {
      status: "terminated",
      last_status: "waiting",
      termination: "hard",
      reason: "external",
      exit_code: 137,
    },
  );
  assert.equal(
    onExit({
      status: "terminated",
      last_status: "ready",
      termination: null,
      reason: null,
      exit_code: 0,
    }, 1),
    null,
  );
});

Deno.test("onExit() is no error for a clean exit or the signal the drone sent (issue 12)", () => {
  assert.deepEqual(onExit(ready, 0), {
    status: "terminated",
    last_status: "ready",
    termination: null,
    reason: null,
    exit_code: 0,
  });
  const soft = onTerminate(ready, "soft", "external")!;
  assert.deepEqual(onExit(soft, 143), {
    status: "terminated",
    last_status: "ready",
    termination: "soft",
    reason: "external",
    exit_code: 143,
  });
  // Answering SIGTERM by failing is an error.
  assert.deepEqual(onExit(soft, 1), {
    status: "terminated",
    last_status: "ready",
    termination: "soft",
    reason: "external",
    exit_code: 1,
    error: "exited with code 1",
  });
  // A startup timeout's error survives the kill that follows it.
  const timedOut = onStepResult(waiting, { kind: "startup_timeout", error: "slow" })!;
  assert.deepEqual(onExit(timedOut, 137), {
    status: "terminated",
    last_status: "waiting",
    termination: "hard",
    reason: "startuptimeout",
    exit_code: 137,
    error: "slow",
  });
});
