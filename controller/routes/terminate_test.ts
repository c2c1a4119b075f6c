import assert from "node:assert/strict";
import { startTestController, type TestController } from "../testing/test_controller.ts";
import { waitFor } from "../../testing/wait_for.ts";
import { connectFakeDrone, TEST_CLUSTER } from "../testing/fake_drone.ts";
import { isVariant } from "../testing/fake_peer.ts";
import { seedBackend, seedDrone } from "../testing/seed.ts";
import { updateBackendState } from "../db/backend_state.ts";
import type { MessageToDrone } from "../../shared/protocol.ts";

type Action = Extract<MessageToDrone, { Action: unknown }>;

async function terminate(t: TestController, backend: string, kind: "soft" | "hard") {
  const response = await t.request(`/ctrl/b/${backend}/${kind}-terminate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "null",
  });
  return { status: response.status, body: await response.json() };
}

async function actions(t: TestController, backend: string) {
  const { rows } = await t.db.query<{ action: unknown; drone_id: number }>(
    `select action->'action' as action, drone_id from backend_action
     where backend_id = $1 order by created_at, id`,
    [backend],
  );
  return rows;
}

Deno.test("terminate: an unknown backend is 404 NotFound naming it", async () => {
  await using t = await startTestController();
  for (const kind of ["soft", "hard"] as const) {
    const { status, body } = await terminate(t, "nope", kind);
    assert.equal(status, 404);
    assert.equal(body.kind, "NotFound");
    assert.equal(body.message, 'Backend "nope" does not exist');
  }
});

Deno.test("terminate: soft and hard queue Terminate {kind, external}, delivered to the drone", async () => {
  await using t = await startTestController();
  await using drone = await connectFakeDrone(t);
  const backend = await seedBackend(t.db, { droneId: drone.id, cluster: TEST_CLUSTER });

  assert.deepEqual(await terminate(t, backend, "soft"), { status: 200, body: null });
  const soft = await drone.next<Action>(isVariant("Action"));
  assert.deepEqual(soft.Action.action, { Terminate: { kind: "soft", reason: "external" } });
  assert.equal(soft.Action.backend_id, backend);

  // A second soft request while the first is unacked adds nothing (one pending per kind).
  assert.deepEqual(await terminate(t, backend, "soft"), { status: 200, body: null });
  assert.deepEqual(await terminate(t, backend, "hard"), { status: 200, body: null });
  assert.deepEqual(await actions(t, backend), [
    { action: { Terminate: { kind: "soft", reason: "external" } }, "drone_id": drone.id },
    { action: { Terminate: { kind: "hard", reason: "external" } }, "drone_id": drone.id },
  ]);
  const hard = await drone.next<Action>((m) =>
    isVariant("Action")(m) && JSON.stringify((m as Action).Action.action).includes('"hard"')
  );
  assert.equal(hard.Action.backend_id, backend);

  // Once acked, a new request queues again.
  drone.send({ AckAction: { "action_id": soft.Action.action_id } });
  await waitFor(async () => {
    const { rows } = await t.db.query(
      "select 1 from backend_action where id = $1 and acked_at is not null",
      [soft.Action.action_id],
    );
    return rows.length === 1;
  }, { message: "the ack to be recorded" });
  assert.deepEqual(await terminate(t, backend, "soft"), { status: 200, body: null });
  assert.equal((await actions(t, backend)).length, 3);
});

Deno.test("terminate: a terminated backend answers 200 null and queues nothing", async () => {
  await using t = await startTestController();
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: TEST_CLUSTER });
  const backend = await seedBackend(t.db, { droneId: drone.id, cluster: TEST_CLUSTER });
  await updateBackendState(t.db, backend, {
    status: "terminated",
    "last_status": "scheduled",
    termination: null,
    reason: null,
    "exit_code": null,
  });
  assert.deepEqual(await terminate(t, backend, "soft"), { status: 200, body: null });
  assert.deepEqual(await terminate(t, backend, "hard"), { status: 200, body: null });
  assert.deepEqual(await actions(t, backend), []);
});
