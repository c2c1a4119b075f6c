import assert from "node:assert/strict";
import { ACTION_WINDOW, ActionWindow, MAX_TRACKED_ACTIONS } from "./action_window.ts";

Deno.test("ActionWindow does not re-send an action before it waited a resend interval for its ack (issue 11, finding 1)", () => {
  const window = new ActionWindow({ resendAfterMs: 30_000, now: 0 });
  assert.equal(window.shouldSend("ak-a", 0), true, "never sent");
  window.sent("ak-a", 1_000);
  assert.equal(
    window.shouldSend("ak-a", 30_999),
    false,
    "the live and the queued copy of one action",
  );
  assert.equal(window.shouldSend("ak-a", 31_000), true);
  window.acked("ak-a", 31_000);
  assert.equal(window.shouldSend("ak-a", 1_001), true, "acked: forgotten");
});

Deno.test("ActionWindow: the backlog goes a window at a time, the next once half of it is acked", () => {
  const window = new ActionWindow({ resendAfterMs: 30_000, now: 0, size: 4 });
  assert.equal(window.room, 4);
  for (const id of ["a", "b", "c", "d"]) window.sent(id, 0);
  assert.equal(window.room, 0);
  assert.equal(window.wantsMore, false);
  window.acked("a", 1);
  assert.equal(window.wantsMore, false);
  window.acked("c", 2);
  assert.equal(window.wantsMore, true);
  assert.equal(window.room, 2);
  assert.deepEqual(window.inFlight, ["b", "d"]);
  assert.equal(new ActionWindow({ resendAfterMs: 1, now: 0 }).size, ACTION_WINDOW);
});

Deno.test("ActionWindow.expire() forgets only actions whose ack is overdue", () => {
  const window = new ActionWindow({ resendAfterMs: 1_000, now: 0, size: 10 });
  window.sent("old", 0);
  window.sent("young", 500);
  window.sent("old", 600); // re-sent: moves to the end with its new time
  window.expire(1_499);
  assert.deepEqual(window.inFlight, ["young", "old"]);
  window.expire(1_500);
  assert.deepEqual(window.inFlight, ["old"]);
  window.expire(1_600);
  assert.deepEqual(window.inFlight, []);
});

Deno.test("ActionWindow tracks at most MAX_TRACKED_ACTIONS, forgetting the oldest", () => {
  const window = new ActionWindow({ resendAfterMs: 1_000, now: 0 });
  for (let i = 0; i <= MAX_TRACKED_ACTIONS; i++) window.sent(`ak-${i}`, 0);
  assert.equal(window.inFlight.length, MAX_TRACKED_ACTIONS);
  assert.equal(window.shouldSend("ak-0", 0), true);
  assert.equal(window.shouldSend("ak-1", 0), false);
});

Deno.test("ActionWindow: a slow drone acking in order gets no resend of what it has not reached; one it passed by is re-sent", () => {
  const window = new ActionWindow({ resendAfterMs: 1_000, now: 0 });
  for (const id of ["a", "b", "c", "d"]) window.sent(id, 0);
  // The drone acks "a" late, then "c" (it skipped "b": applying it failed).
  window.acked("a", 900);
  window.acked("c", 1_500);
  assert.equal(window.shouldSend("d", 1_600), false, "busy, not lost: the drone has not reached d");
  assert.equal(window.shouldSend("b", 1_600), true, "the drone passed b by");
  window.expire(1_600);
  assert.deepEqual(window.inFlight, ["d"]);
  // A drone that acks nothing for a whole interval gets everything overdue again.
  assert.equal(window.shouldSend("d", 2_499), false);
  assert.equal(window.shouldSend("d", 2_500), true);
});
