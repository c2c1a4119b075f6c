import assert from "node:assert/strict";
import { startTestController } from "../testing/test_controller.ts";
import { seedBackend, seedDrone } from "../testing/seed.ts";
import { updateBackendState } from "./backend_state.ts";

Deno.test("updateBackendState() applies only strictly newer states and releases the key on terminated", async () => {
  await using t = await startTestController();
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: "plane.test" });
  const id = await seedBackend(t.db, { droneId: drone.id, cluster: "plane.test" });
  assert.equal(await updateBackendState(t.db, id, { status: "loading" }), true);
  assert.equal(await updateBackendState(t.db, id, { status: "scheduled" }), false);
  assert.equal(
    await updateBackendState(t.db, id, { status: "waiting", address: "127.0.0.1:1234" }),
    true,
  );
  assert.equal(await updateBackendState(t.db, id, { status: "loading" }), false);
  const waiting = await t.db.query<{ cluster_address: string; last_status: string }>(
    "select cluster_address, last_status from backend where id = $1",
    [id],
  );
  assert.deepEqual(waiting.rows[0], { cluster_address: "127.0.0.1:1234", last_status: "waiting" });
  assert.equal(
    await updateBackendState(t.db, id, {
      status: "terminated",
      last_status: "waiting",
      termination: null,
      reason: null,
      exit_code: 0,
    }),
    true,
  );
  const key = await t.db.query("select 1 from backend_key where id = $1", [id]);
  assert.equal(key.rowCount, 0);
  const history = await t.db.query<{ status: string }>(
    "select state->>'status' as status from backend_state where backend_id = $1 order by id",
    [id],
  );
  assert.deepEqual(history.rows.map((r) => r.status), [
    "scheduled",
    "loading",
    "waiting",
    "terminated",
  ]);
});
