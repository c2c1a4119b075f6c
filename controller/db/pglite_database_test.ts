import assert from "node:assert/strict";
import { createPgliteDatabase } from "./pglite_database.ts";
import { createEventBus } from "../event_bus.ts";
import { emitEvent } from "./events.ts";
import { createController } from "../mod.ts";
import { createLogger } from "../../shared/log.ts";
import { waitFor } from "../../testing/wait_for.ts";

const log = createLogger("test", { level: "error" });

Deno.test("createPgliteDatabase() persists in a directory and reopens with the data", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = await createPgliteDatabase(dir);
    await db.query("create table t (x int)");
    await db.query("insert into t values ($1)", [42]);
    await db.close();
    const again = await createPgliteDatabase(dir);
    const { rows } = await again.query<{ x: number }>("select x from t");
    assert.deepEqual(rows, [{ x: 42 }]);
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createPgliteDatabase() rolls back a failed transaction and delivers NOTIFY events", async () => {
  const db = await createPgliteDatabase();
  const controller = await createController({ db, log, config: { db: "memory" } });
  try {
    await assert.rejects(db.transaction(async (tx) => {
      await tx.query(
        "insert into controller (id, last_heartbeat, is_online, plane_version, plane_hash) values ('co-x', now(), true, 'v', 'h')",
      );
      throw new Error("boom");
    }));
    const { rows } = await db.query("select 1 from controller where id = 'co-x'");
    assert.equal(rows.length, 0);
    const bus = await createEventBus(db, log);
    const seen: unknown[] = [];
    bus.subscribe("node_connection", null, (e) => seen.push(e.data));
    await db.transaction((tx) => emitEvent(tx, "node_connection", null, { ok: true }));
    await waitFor(() => seen.length === 1, { message: "event on PGlite" });
    assert.deepEqual(seen, [{ ok: true }]);
    await bus.close();
    const health = await controller.fetch(new Request("http://x/pub/health"));
    assert.equal(health.status, 200);
    await health.body?.cancel();
  } finally {
    await controller.close();
    await db.close();
  }
});
