import assert from "node:assert/strict";
import { ACTION_WINDOW, ActionWindow, MAX_TRACKED_ACTIONS } from "./action_window.ts";

Deno.test("ActionWindow does not re-send an action before it waited a resend interval for its ack (issue 11, finding 1)", () => {
  const window = new ActionWindow({ resendAfterMs: 30_000 });
  assert.equal(window.shouldSend("ak-a", 0), true, "never sent");
  window.sent("ak-a", 1_000);
  assert.equal(
    window.shouldSend("ak-a", 30_999),
    false,
    "the live and the queued copy of one action",
  );
  assert.equal(window.shouldSend("ak-a", 31_000), true);
  window.acked("ak-a");
  assert.equal(window.shouldSend("ak-a", 1_001), true, "acked: forgotten");
});

Deno.test("ActionWindow: the backlog goes a window at a time, the next once half of it is acked", () => {
  const window = new ActionWindow({ resendAfterMs: 30_000, size: 4 });
  assert.equal(window.room, 4);
  for (const id of ["a", "b", "c", "d"]) window.sent(id, 0);
  assert.equal(window.room, 0);
  assert.equal(window.wantsMore, false);
  window.acked("a");
  assert.equal(window.wantsMore, false);
  window.acked("c");
  assert.equal(window.wantsMore, true);
  assert.equal(window.room, 2);
  assert.deepEqual(window.inFlight, ["b", "d"]);
  assert.equal(new ActionWindow({ resendAfterMs: 1 }).size, ACTION_WINDOW);
});

Deno.test("ActionWindow.expire() forgets only actions whose ack is overdue", () => {
  const window = new ActionWindow({ resendAfterMs: 1_000, size: 10 });
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
  const window = new ActionWindow({ resendAfterMs: 1_000 });
  for (let i = 0; i <= MAX_TRACKED_ACTIONS; i++) window.sent(`ak-${i}`, 0);
  assert.equal(window.inFlight.length, MAX_TRACKED_ACTIONS);
  assert.equal(window.shouldSend("ak-0", 0), true);
  assert.equal(window.shouldSend("ak-1", 0), false);
});
