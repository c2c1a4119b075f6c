import assert from "node:assert/strict";
import { createTestDatabase } from "./db/test_database.ts";
import { createEventBus } from "./event_bus.ts";
import { emitEvent, type EventRecord } from "./db/events.ts";
import { createLogger } from "../shared/log.ts";
import { waitFor } from "../testing/wait_for.ts";

const log = createLogger("test", { level: "error" });

Deno.test("EventBus delivers committed events to keyed and kind-wide subscribers, never rolled-back ones", async () => {
  await using t = await createTestDatabase();
  const bus = await createEventBus(t.db, log);
  try {
    const keyed: EventRecord[] = [];
    const all: EventRecord[] = [];
    bus.subscribe("backend_state", "b1", (e) => keyed.push(e));
    bus.subscribe("backend_state", null, (e) => all.push(e));
    await t.db.transaction((tx) => emitEvent(tx, "backend_state", "b2", { n: 1 }));
    await t.db.transaction((tx) => emitEvent(tx, "backend_state", "b1", { n: 2 }));
    await t.db.transaction(async (tx) => {
      await emitEvent(tx, "backend_state", "b1", { n: "rolled back" });
      throw new Error("rollback");
    }).catch(() => {});
    await t.db.transaction((tx) => emitEvent(tx, "backend_action", "b1", { n: 3 }));
    await waitFor(() => all.length === 2 && keyed.length === 1, { message: "two events" });
    assert.deepEqual(all.map((e) => e.data), [{ n: 1 }, { n: 2 }]);
    assert.deepEqual(keyed.map((e) => e.data), [{ n: 2 }]);
    assert.equal(typeof keyed[0]!.time, "number");
  } finally {
    await bus.close();
  }
});

Deno.test("EventBus replays events written while its listening connection was down", async () => {
  await using t = await createTestDatabase();
  const bus = await createEventBus(t.db, log);
  try {
    const seen: unknown[] = [];
    bus.subscribe("node_connection", null, (e) => seen.push(e.data));
    await t.db.transaction((tx) => emitEvent(tx, "node_connection", null, { n: 1 }));
    await waitFor(() => seen.length === 1, { message: "first event" });
    // Kill the LISTEN connection, write while it is down, and expect a replay on reconnect.
    const killed = await t.db.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
       where datname = current_database() and query ilike 'listen%'`,
    );
    assert.equal(killed.rowCount, 1);
    await t.db.transaction((tx) => emitEvent(tx, "node_connection", null, { n: 2 }));
    await t.db.transaction((tx) => emitEvent(tx, "node_connection", null, { n: 3 }));
    await waitFor(() => seen.length === 3, { message: "replayed events" });
    assert.deepEqual(seen, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  } finally {
    await bus.close();
  }
});
