import assert from "node:assert/strict";
import { ConnectionMonitor, type MonitorTimers } from "./connection_monitor.ts";

/** Timers that fire only when the test advances the clock. */
function manualTimers() {
  let now = 0;
  let nextId = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const api: MonitorTimers = {
    setTimeout(fn, ms) {
      const id = ++nextId;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
  };
  function advance(ms: number) {
    const until = now + ms;
    for (;;) {
      const due = [...timers.entries()].filter(([, t]) => t.at <= until)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = due[1].at;
      due[1].fn();
    }
    now = until;
  }
  return { api, advance, pending: () => timers.size };
}

function harness() {
  const sent: string[] = [];
  const clock = manualTimers();
  const monitor = new ConnectionMonitor((b) => sent.push(b), { timers: clock.api });
  return { sent, clock, monitor };
}

Deno.test("ConnectionMonitor sends a keepalive at the first sighting, then every 7 s of traffic", () => {
  const { sent, clock, monitor } = harness();
  monitor.touch("b1");
  assert.deepEqual(sent, ["b1"]);
  assert.deepEqual(monitor.entry("b1"), { activeConnections: 0, hadRecentConnection: true });
  monitor.touch("b1");
  assert.deepEqual(sent, ["b1"], "a second request within 7 s sends nothing yet");
  clock.advance(6_999);
  assert.deepEqual(sent, ["b1"]);
  clock.advance(1);
  assert.deepEqual(sent, ["b1", "b1"]);
  assert.deepEqual(monitor.entry("b1"), { activeConnections: 0, hadRecentConnection: false });
  monitor.touch("b1");
  clock.advance(7_000);
  assert.deepEqual(sent, ["b1", "b1", "b1"]);
});

Deno.test("ConnectionMonitor forgets a backend after a quiet revisit", () => {
  const { sent, clock, monitor } = harness();
  monitor.touch("b1");
  clock.advance(7_000); // flag was set: keepalive, flag cleared
  clock.advance(7_000); // quiet: forgotten
  assert.deepEqual(sent, ["b1", "b1"]);
  assert.equal(monitor.entry("b1"), undefined);
  assert.equal(clock.pending(), 0);
  monitor.touch("b1");
  assert.deepEqual(sent, ["b1", "b1", "b1"], "a new first sighting sends at once");
  monitor.close();
});

Deno.test("ConnectionMonitor keeps a backend alive while an upgraded connection is open", () => {
  const { sent, clock, monitor } = harness();
  const close = monitor.openConnection("b1");
  assert.deepEqual(monitor.entry("b1"), { activeConnections: 1, hadRecentConnection: true });
  for (let i = 0; i < 5; i++) clock.advance(7_000);
  assert.equal(sent.length, 6);
  close();
  close(); // idempotent
  assert.deepEqual(monitor.entry("b1"), { activeConnections: 0, hadRecentConnection: false });
  clock.advance(7_000);
  assert.equal(monitor.entry("b1"), undefined);
  assert.equal(sent.length, 6);
});

Deno.test("ConnectionMonitor.remove() stops keepalives for a removed backend", () => {
  const { sent, clock, monitor } = harness();
  const close = monitor.openConnection("b1");
  monitor.touch("b2");
  monitor.remove("b1");
  assert.equal(monitor.entry("b1"), undefined);
  close(); // closing after removal must not resurrect or corrupt anything
  clock.advance(7_000);
  assert.deepEqual(sent, ["b1", "b2", "b2"]);
  monitor.close();
  assert.equal(clock.pending(), 0);
});

Deno.test("ConnectionMonitor.sight() gives one counter per backend, read by the 7 s sweep (issue 13)", () => {
  const { sent, clock, monitor } = harness();
  const counter = monitor.sight("b1");
  assert.deepEqual(sent, ["b1"], "the first sighting sends at once");
  assert.equal(clock.pending(), 1);
  // The hot path only increments: no map, no timer, no closure per request.
  for (let i = 0; i < 1000; i++) counter.requests++;
  assert.equal(monitor.sight("b1"), counter, "the same counter while the backend is tracked");
  assert.equal(clock.pending(), 1, "requests schedule nothing");
  assert.deepEqual(monitor.entry("b1"), { activeConnections: 0, hadRecentConnection: true });
  clock.advance(7_000);
  assert.deepEqual(sent, ["b1", "b1"], "requests since the last visit keep it alive");
  clock.advance(7_000);
  assert.deepEqual(sent, ["b1", "b1"], "no request in 7 s: forgotten");
  assert.equal(counter.live, false, "a forgotten counter says so, so its holder sights again");
  assert.equal(monitor.entry("b1"), undefined);
  const again = monitor.sight("b1");
  assert.notEqual(again, counter);
  assert.deepEqual(sent, ["b1", "b1", "b1"], "traffic after forgetting sends at once again");
  monitor.remove("b1");
  assert.equal(again.live, false, "BackendRemoved ends the counter too");
});
