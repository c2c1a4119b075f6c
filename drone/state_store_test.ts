import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { StateStore } from "./state_store.ts";
import type { BackendName } from "../shared/names.ts";
import type { BackendStateMessage } from "../shared/protocol.ts";

const b1 = "backend1" as BackendName;
const b2 = "backend2" as BackendName;

Deno.test("StateStore records a single event as the current state", () => {
  const store = new StateStore(":memory:");
  store.registerEvent(b1, { status: "scheduled" }, 1000);
  assert.deepEqual(store.backendState(b1), { status: "scheduled" });
  assert.equal(store.backendState(b2), null);
  store.close();
});

Deno.test("StateStore: a second event overwrites the current state", () => {
  const store = new StateStore(":memory:");
  store.registerEvent(b1, { status: "scheduled" }, 1000);
  store.registerEvent(b1, { status: "ready", address: "127.0.0.1:8080" }, 1001);
  assert.deepEqual(store.backendState(b1), { status: "ready", address: "127.0.0.1:8080" });
  assert.deepEqual(store.activeBackends().map((b) => b.id), [b1]);
  store.registerEvent(b1, {
    status: "terminated",
    last_status: "ready",
    termination: null,
    reason: null,
    exit_code: 0,
  }, 1002);
  assert.deepEqual(store.activeBackends(), []);
  store.close();
});

Deno.test("StateStore: the listener receives new events", () => {
  const store = new StateStore(":memory:");
  const got: BackendStateMessage[] = [];
  store.registerListener((m) => got.push(m));
  const id = store.registerEvent(b1, { status: "loading" }, 5);
  assert.deepEqual(got, [{
    event_id: id,
    backend_id: b1,
    state: { status: "loading" },
    timestamp: 5,
  }]);
  store.close();
});

Deno.test("StateStore replays unacked events to every new listener and durably across reopen, until acked", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/state.db`;
  try {
    let store = new StateStore(path);
    const first = store.registerEvent(b1, { status: "scheduled" }, 10);
    store.registerEvent(b2, { status: "scheduled" }, 5);
    const firstReplay: BackendStateMessage[] = [];
    store.registerListener((m) => firstReplay.push(m));
    // Timestamp order, not insertion order.
    assert.deepEqual(firstReplay.map((m) => m.backend_id), [b2, b1]);
    store.close();

    store = new StateStore(path);
    const secondReplay: BackendStateMessage[] = [];
    store.registerListener((m) => secondReplay.push(m));
    assert.equal(secondReplay.length, 2);
    store.ackEvent(first);
    const thirdReplay: BackendStateMessage[] = [];
    store.registerListener((m) => thirdReplay.push(m));
    assert.deepEqual(thirdReplay.map((m) => m.backend_id), [b2]);
    store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("StateStore prunes a terminated backend's row once the controller acked all its events (issue 11, finding 5)", () => {
  const store = new StateStore(":memory:");
  const scheduled = store.registerEvent(b1, { status: "scheduled" }, 1);
  const terminated = store.registerEvent(b1, {
    status: "terminated",
    last_status: "scheduled",
    termination: null,
    reason: null,
    exit_code: 0,
  }, 2);
  store.registerEvent(b2, { status: "scheduled" }, 3);
  // Acked out of order: the row stays while an event of it is still unacked.
  store.ackEvent(terminated);
  assert.equal(store.backendState(b1)?.status, "terminated");
  store.ackEvent(scheduled);
  assert.equal(store.backendState(b1), null, "pruned");
  assert.deepEqual(store.unackedEvents().map((e) => e.backend_id), [b2]);
  // A live backend's row stays, acked or not.
  store.ackEvent(store.unackedEvents()[0]!.event_id);
  assert.deepEqual(store.backendState(b2), { status: "scheduled" });
  assert.deepEqual(store.activeBackends().map((b) => b.id), [b2]);
  store.close();
});

Deno.test("StateStore holds only live rows after many acked backend lifecycles", () => {
  const store = new StateStore(":memory:");
  store.registerListener((m) => store.ackEvent(m.event_id));
  for (let i = 0; i < 1_000; i++) {
    const id = `b${i}` as BackendName;
    store.registerEvent(id, { status: "scheduled" }, i);
    store.registerEvent(id, {
      status: "terminated",
      last_status: "scheduled",
      termination: "hard",
      reason: "external",
      exit_code: null,
    }, i);
  }
  store.registerEvent(b1, { status: "scheduled" }, 5_000);
  assert.equal(store.backendState("b999" as BackendName), null);
  assert.deepEqual(store.unackedEvents(), []);
  assert.deepEqual(store.activeBackends().map((b) => b.id), [b1]);
  store.close();
});

Deno.test("StateStore replays a large outbox a window at a time, the next events as acks arrive (issue 11, finding 1)", () => {
  const store = new StateStore(":memory:");
  for (let i = 0; i < 25; i++) {
    store.registerEvent(`b${i}` as BackendName, { status: "loading" }, i);
  }
  const got: BackendStateMessage[] = [];
  store.registerListener((m) => got.push(m), { window: 10 });
  assert.deepEqual(got.map((m) => m.backend_id), Array.from({ length: 10 }, (_, i) => `b${i}`));
  // A new event waits behind the backlog while the window is full.
  store.registerEvent(b1, { status: "loading" }, 100);
  assert.equal(got.length, 10);
  // Each ack lets one more go, oldest first; out-of-order acks are fine.
  store.ackEvent(got[3]!.event_id);
  store.ackEvent(got[0]!.event_id);
  assert.deepEqual(got.slice(10).map((m) => m.backend_id), ["b10", "b11"]);
  for (const m of [...got]) store.ackEvent(m.event_id);
  for (let i = 0; i < 5 && store.unackedEvents().length > 0; i++) {
    for (const m of [...got]) store.ackEvent(m.event_id);
  }
  assert.deepEqual(got.slice(-1).map((m) => m.backend_id), [b1], "the new event went last");
  assert.equal(new Set(got.map((m) => m.event_id)).size, got.length, "nothing sent twice");
  assert.equal(got.length, 26);
  assert.deepEqual(store.unackedEvents(), []);
  store.close();
});

Deno.test("StateStore: a new listener gets the unacked events again, in a fresh window", () => {
  const store = new StateStore(":memory:");
  for (let i = 0; i < 5; i++) store.registerEvent(`b${i}` as BackendName, { status: "loading" }, i);
  const first: BackendStateMessage[] = [];
  store.registerListener((m) => first.push(m), { window: 2 });
  assert.equal(first.length, 2);
  store.ackEvent(first[0]!.event_id);
  const second: BackendStateMessage[] = [];
  store.registerListener((m) => second.push(m), { window: 2 });
  assert.deepEqual(second.map((m) => m.backend_id), ["b1", "b2"]);
  assert.equal(first.length, 3, "the old listener got nothing after it was replaced");
  store.close();
});

Deno.test("StateStore prepares its statements once, not per event (SQLite memory outside the V8 heap)", () => {
  // A statement prepared per call keeps its SQLite memory until V8 collects the wrapper, which
  // a small heap rarely does: the drone's RSS grew in a sawtooth of tens of MiB under the soak.
  const prepare = DatabaseSync.prototype.prepare;
  let prepared = 0;
  DatabaseSync.prototype.prepare = function (this: DatabaseSync, sql: string) {
    prepared++;
    return prepare.call(this, sql);
  };
  try {
    const store = new StateStore(":memory:");
    const atStart = prepared;
    store.registerListener((m) => store.ackEvent(m.event_id));
    for (let i = 0; i < 200; i++) {
      const id = `backend${i}` as BackendName;
      store.registerEvent(id, { status: "scheduled" }, i);
      store.registerEvent(id, {
        status: "terminated",
        last_status: "scheduled",
        termination: null,
        reason: null,
        exit_code: 0,
      }, i);
      store.backendState(id);
    }
    store.activeBackends();
    store.unackedEvents();
    assert.equal(prepared - atStart, 0, "no statement prepared after construction");
    assert.deepEqual(store.activeBackends(), []);
    store.close();
  } finally {
    DatabaseSync.prototype.prepare = prepare;
  }
});
