import assert from "node:assert/strict";
import { lostDeadlineMs, lostState } from "./lost_backend.ts";
import { ControllerConfig } from "./config.ts";
import { keyTimingsForLease } from "./key_timings.ts";

Deno.test("lostDeadlineMs() is the key lease plus one sweep: 65 s by default", () => {
  const config = ControllerConfig.parse({ db: "postgres://db/plane" });
  assert.equal(lostDeadlineMs(config), 65_000);
  // Past the drone's own hard-terminate deadline (5/6 of the lease), so it never marks a
  // backend lost that a drone cut off from the controllers would still be running.
  assert.ok(lostDeadlineMs(config) > config.keyHardTerminateAfterMs);
  const short = ControllerConfig.parse({ db: "x", ...keyTimingsForLease(15_000) });
  assert.equal(lostDeadlineMs(short), 20_000);
});

Deno.test("lostState() keeps the pre-termination status and any termination kind begun", () => {
  const lost = (last: string, termination: string | null) => ({
    status: "terminated",
    "last_status": last,
    termination,
    reason: "lost",
    "exit_code": null,
    error: last === "scheduled"
      ? "its drone went offline before starting it and did not come back within the key lease"
      : "its drone went offline and did not come back within the key lease",
  });
  assert.deepEqual(lostState({ status: "scheduled" }), lost("scheduled", null));
  assert.deepEqual(lostState({ status: "loading" }), lost("loading", null));
  assert.deepEqual(
    lostState({ status: "ready", address: "127.0.0.1:1" }),
    lost("ready", null),
  );
  assert.deepEqual(
    lostState({
      status: "terminating",
      "last_status": "ready",
      termination: "soft",
      reason: "swept",
    }),
    lost("ready", "soft"),
  );
  assert.deepEqual(
    lostState({ status: "hard-terminating", "last_status": "waiting", reason: "external" }),
    lost("waiting", "hard"),
  );
});

Deno.test("lostState() leaves a terminated state as it is", () => {
  const done = {
    status: "terminated",
    "last_status": "ready",
    termination: null,
    reason: null,
    "exit_code": 0,
  } as const;
  assert.equal(lostState(done), done);
});
