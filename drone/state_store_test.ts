import assert from "node:assert/strict";
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
