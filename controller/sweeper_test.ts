import assert from "node:assert/strict";
import { startTestController, type TestController } from "./testing/test_controller.ts";
import { waitFor } from "../testing/wait_for.ts";
import { connectFakeDrone, TEST_CLUSTER } from "./testing/fake_drone.ts";
import { isVariant } from "./testing/fake_peer.ts";
import { seedBackend, seedDrone } from "./testing/seed.ts";
import { updateBackendState } from "./db/backend_state.ts";
import { queueTerminate } from "./db/actions.ts";
import { heartbeatController, markControllerOffline } from "./db/controllers.ts";
import { sweepDrone, sweepLostBackends } from "./sweeper.ts";
import { ControllerConfig, type ControllerConfigInput } from "./config.ts";
import { createLogger } from "../shared/log.ts";
import type { MessageToDrone } from "../shared/protocol.ts";

type Action = Extract<MessageToDrone, { Action: unknown }>;

/** What the sweep functions need, for calling them directly (deterministic negative checks). */
function sweepContext(t: TestController, config: Partial<ControllerConfigInput> = {}) {
  return {
    db: t.db,
    config: ControllerConfig.parse({ db: t.database.url, ...config }),
    log: createLogger("test.sweeper", { level: "error" }),
  };
}

function isTerminateFor(backendId: string) {
  return (m: unknown) =>
    isVariant("Action")(m) && (m as Action).Action.backend_id === backendId &&
    "Terminate" in (m as Action).Action.action;
}

async function status(t: TestController, id: string) {
  const { rows } = await t.db.query<{ last_status: string }>(
    "select last_status from backend where id = $1",
    [id],
  );
  return rows[0]?.last_status;
}

async function terminateActions(t: TestController, backendId: string) {
  const { rows } = await t.db.query<{ action: unknown; acked: boolean }>(
    `select action->'action' as action, acked_at is not null as acked from backend_action
     where backend_id = $1 order by created_at`,
    [backendId],
  );
  return rows;
}

const READY = { status: "ready", address: "127.0.0.1:4000" } as const;

Deno.test("sweeper: an idle ready backend gets Terminate {soft, swept} on its drone", async () => {
  await using t = await startTestController();
  await using drone = await connectFakeDrone(t);
  const backend = await seedBackend(t.db, {
    droneId: drone.id,
    cluster: TEST_CLUSTER,
    maxIdleSeconds: 1,
  });
  await updateBackendState(t.db, backend, READY);
  const message = await drone.next<Action>(isTerminateFor(backend));
  assert.deepEqual(message.Action.action, { Terminate: { kind: "soft", reason: "swept" } });
  assert.equal(message.Action.drone_id, drone.id);
});

Deno.test("sweeper: a backend past its lifetime gets Terminate {soft, swept}", async () => {
  await using t = await startTestController();
  await using drone = await connectFakeDrone(t);
  const backend = await seedBackend(t.db, {
    droneId: drone.id,
    cluster: TEST_CLUSTER,
    lifetimeSeconds: 1,
  });
  await updateBackendState(t.db, backend, READY);
  const message = await drone.next<Action>(isTerminateFor(backend));
  assert.deepEqual(message.Action.action, { Terminate: { kind: "soft", reason: "swept" } });
});

Deno.test("sweeper: skips scheduled and terminating backends and keeps one pending terminate", async () => {
  await using t = await startTestController();
  // A seeded drone has no socket, so no sweep loop runs for it: only the direct calls below.
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: TEST_CLUSTER });
  const seed = () =>
    seedBackend(t.db, { droneId: drone.id, cluster: TEST_CLUSTER, maxIdleSeconds: 1 });
  const [scheduled, terminating, hardTerminating, terminated, ready] = await Promise.all([
    seed(),
    seed(),
    seed(),
    seed(),
    seed(),
  ]);
  await updateBackendState(t.db, terminating, {
    status: "terminating",
    "last_status": "ready",
    termination: "soft",
    reason: "external",
  });
  await updateBackendState(t.db, hardTerminating, {
    status: "hard-terminating",
    "last_status": "ready",
    reason: "external",
  });
  await updateBackendState(t.db, terminated, {
    status: "terminated",
    "last_status": "ready",
    termination: null,
    reason: null,
    "exit_code": 0,
  });
  await updateBackendState(t.db, ready, READY);
  // Idle for an hour: every one of them is past its limit.
  await t.db.query(
    "update backend set last_keepalive = now() - interval '1 hour' where drone_id = $1",
    [
      drone.id,
    ],
  );

  const ctx = sweepContext(t);
  assert.deepEqual(await sweepDrone(ctx, drone.id), [ready]);
  // Still unacked: no second terminate.
  assert.deepEqual(await sweepDrone(ctx, drone.id), []);
  for (const id of [scheduled, terminating, hardTerminating, terminated]) {
    assert.deepEqual(await terminateActions(t, id), [], `no action for ${await status(t, id)}`);
  }
  assert.deepEqual(await terminateActions(t, ready), [
    { action: { Terminate: { kind: "soft", reason: "swept" } }, acked: false },
  ]);

  // A pending hard terminate does not count as a pending soft one (one per backend and kind).
  const other = await seed();
  await updateBackendState(t.db, other, READY);
  await t.db.query("update backend set last_keepalive = now() - interval '1 hour' where id = $1", [
    other,
  ]);
  assert.equal(
    (await queueTerminate(t.db, other, { kind: "hard", reason: "external" })).kind,
    "queued",
  );
  assert.deepEqual(await sweepDrone(ctx, drone.id), [other]);
});

Deno.test("sweeper: a connected drone's sweep loop does not re-queue while its terminate is unacked", async () => {
  await using t = await startTestController();
  await using drone = await connectFakeDrone(t);
  const backend = await seedBackend(t.db, {
    droneId: drone.id,
    cluster: TEST_CLUSTER,
    maxIdleSeconds: 1,
  });
  await updateBackendState(t.db, backend, READY);
  const first = await drone.next<Action>(isTerminateFor(backend));
  // Re-delivered by the resend loop (same id) while several sweep rounds pass.
  const since = drone.received.indexOf(first) + 1;
  await drone.next(isTerminateFor(backend), { since });
  await drone.next(isTerminateFor(backend), { since: drone.received.length });
  const ids = new Set(
    drone.received.filter(isTerminateFor(backend)).map((m) => (m as Action).Action.action_id),
  );
  assert.deepEqual([...ids], [first.Action.action_id]);
  assert.equal((await terminateActions(t, backend)).length, 1);
});

Deno.test("lost sweep: live backends on a drone gone past the lease end terminated (lost)", async () => {
  // Short lease, keeping renew < soft < hard < lease (plane-0.5.md §5.2).
  const timings = {
    keyRenewAfterMs: 100,
    keySoftTerminateAfterMs: 200,
    keyHardTerminateAfterMs: 300,
    keyLeaseMs: 400,
  };
  await using t = await startTestController(timings);
  const gone = await seedDrone(t.db, { controller: t.controller.name, cluster: TEST_CLUSTER });
  await t.db.query("update node set controller = null where id = $1", [gone.id]);
  // A drone whose controller died without closing its socket is gone too.
  await heartbeatController(t.db, "co-dead", "0.5.6", "00000000");
  await markControllerOffline(t.db, "co-dead");
  const orphaned = await seedDrone(t.db, { controller: "co-dead", cluster: TEST_CLUSTER });
  // Connected to a live controller: never lost, however old its heartbeat.
  const online = await seedDrone(t.db, { controller: t.controller.name, cluster: TEST_CLUSTER });
  await t.db.query("update drone set last_heartbeat = now() - interval '1 hour' where id = $1", [
    online.id,
  ]);

  const expiredKey = async (droneId: number) => {
    const id = await seedBackend(t.db, { droneId, cluster: TEST_CLUSTER });
    await t.db.query("update backend_key set expires_at = now() where id = $1", [id]);
    return id;
  };
  const lost = await expiredKey(gone.id);
  const pending = await queueTerminate(t.db, lost, { kind: "soft", reason: "external" });
  const lostToo = await expiredKey(orphaned.id);
  const keyHeld = await seedBackend(t.db, { droneId: gone.id, cluster: TEST_CLUSTER });
  const loading = await expiredKey(gone.id);
  await updateBackendState(t.db, loading, { status: "loading" });
  // Issue 11, finding 3: not only `scheduled` ones; a `ready` row must not stay ready forever.
  const ready = await expiredKey(gone.id);
  await updateBackendState(t.db, ready, READY);
  const onOnline = await expiredKey(online.id);

  // The controller's own loop marks them.
  for (const id of [lost, lostToo, loading, ready]) {
    await waitFor(async () => (await status(t, id)) === "terminated", {
      message: `${id} to be marked lost`,
    });
  }
  const { rows } = await t.db.query("select state from backend where id = $1", [lost]);
  assert.deepEqual(rows[0], {
    state: {
      status: "terminated",
      "last_status": "scheduled",
      termination: null,
      reason: "lost",
      "exit_code": null,
      // Issue 12: the state says why in words too.
      error: "its drone went offline before starting it and did not come back within the key lease",
    },
  });
  const key = await t.db.query("select 1 from backend_key where id = $1", [lost]);
  assert.equal(key.rowCount, 0);
  assert.equal(pending.kind, "queued");
  assert.deepEqual((await terminateActions(t, lost)).map((a) => a.acked), [true]);

  // A direct pass sees nothing else to mark.
  assert.deepEqual(await sweepLostBackends(sweepContext(t, timings)), []);
  assert.equal(await status(t, keyHeld), "scheduled");
  assert.equal(await status(t, onOnline), "scheduled");
  const readyState = await t.db.query("select state from backend where id = $1", [ready]);
  assert.deepEqual(readyState.rows[0], {
    state: {
      status: "terminated",
      "last_status": "ready",
      termination: null,
      reason: "lost",
      "exit_code": null,
      error: "its drone went offline and did not come back within the key lease",
    },
  });
});
