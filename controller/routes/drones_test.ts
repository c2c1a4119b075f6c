import assert from "node:assert/strict";
import { startTestController, type TestController } from "../testing/test_controller.ts";
import { waitFor } from "../../testing/wait_for.ts";
import { connectFakeDrone, TEST_CLUSTER } from "../testing/fake_drone.ts";
import { seedBackend, seedDrone } from "../testing/seed.ts";
import { updateBackendState } from "../db/backend_state.ts";
import { ClusterState } from "../../shared/api.ts";

async function post(t: TestController, path: string) {
  const response = await t.request(path, { method: "POST" });
  return { status: response.status, body: await response.json() };
}

Deno.test("drain and undrain: flip the flag by drone name and report whether it changed", async () => {
  await using t = await startTestController();
  await using drone = await connectFakeDrone(t);
  const base = `/ctrl/c/${TEST_CLUSTER}/d/${drone.name}`;
  const draining = async () =>
    (await t.db.query<{ draining: boolean }>("select draining from drone where id = $1", [
      drone.id,
    ])).rows[0]?.draining;

  assert.deepEqual(await post(t, `${base}/drain`), { status: 200, body: { updated: true } });
  assert.equal(await draining(), true);
  assert.deepEqual(await post(t, `${base}/drain`), { status: 200, body: { updated: false } });
  assert.deepEqual(await post(t, `${base}/undrain`), { status: 200, body: { updated: true } });
  assert.equal(await draining(), false);
  assert.deepEqual(await post(t, `${base}/undrain`), { status: 200, body: { updated: false } });
});

Deno.test("drain: an unknown drone, or one of another cluster, is 404 NotFound naming both", async () => {
  await using t = await startTestController();
  const other = await seedDrone(t.db, { controller: t.controller.name, cluster: "other.test" });
  for (
    const path of [
      `/ctrl/c/${TEST_CLUSTER}/d/dr-nope/drain`,
      `/ctrl/c/${TEST_CLUSTER}/d/${other.name}/undrain`,
    ]
  ) {
    const { status, body } = await post(t, path);
    assert.equal(status, 404);
    assert.equal(body.kind, "NotFound");
    const drone = path.split("/")[5];
    assert.equal(body.message, `Drone "${drone}" does not exist in cluster "${TEST_CLUSTER}"`);
  }
  const bad = await post(t, "/ctrl/c/-bad-/d/dr-x/drain");
  assert.equal(bad.status, 400);
  assert.equal(bad.body.kind, "InvalidClusterName");
});

Deno.test("cluster state: connected drones (null heartbeat age before the first heartbeat) and proxies", async () => {
  await using t = await startTestController();
  await using drone = await connectFakeDrone(t);
  // Not connected, or in another cluster: not listed.
  const offline = await seedDrone(t.db, { controller: t.controller.name, cluster: TEST_CLUSTER });
  await t.db.query("update node set controller = null where id = $1", [offline.id]);
  await seedDrone(t.db, { controller: t.controller.name, cluster: "other.test" });
  const { rows } = await t.db.query<{ id: number }>(
    `insert into node (kind, name, cluster, plane_version, plane_hash, controller, ip)
     values ('Proxy', 'px-one', $1, '0.5.6', 'abcdef12', $2, '127.0.0.1') returning id`,
    [TEST_CLUSTER, t.controller.name],
  );
  assert.ok(rows[0]!.id > drone.id);
  await seedBackend(t.db, { droneId: drone.id, cluster: TEST_CLUSTER });
  const done = await seedBackend(t.db, { droneId: drone.id, cluster: TEST_CLUSTER });
  await updateBackendState(t.db, done, {
    status: "terminated",
    "last_status": "scheduled",
    termination: null,
    reason: null,
    "exit_code": null,
  });

  const get = async () => {
    const response = await t.request(`/ctrl/c/${TEST_CLUSTER}/state`);
    assert.equal(response.status, 200);
    return ClusterState.parse(await response.json());
  };
  const node = (name: Record<string, string>, hash: string) => ({
    name,
    "plane_version": "0.5.6",
    "plane_hash": hash,
    controller: t.controller.name,
    "controller_heartbeat_age": 0,
  });
  assert.deepEqual(await get(), {
    drones: [{
      ready: true,
      draining: false,
      "last_heartbeat_age": null,
      "backend_count": 1,
      node: node({ Drone: drone.name }, "00000000"),
    }],
    proxies: [node({ Proxy: "px-one" }, "abcdef12")],
  });

  drone.send({ Heartbeat: { "local_time": Date.now() } });
  const state = await waitFor(async () => {
    const s = await get();
    return s.drones[0]?.last_heartbeat_age === 0 ? s : null;
  }, { message: "the heartbeat to show" });
  assert.equal(state.drones.length, 1);
});

Deno.test("drone socket: an invalid cluster name is 400 InvalidClusterName, a bad pool 400", async () => {
  await using t = await startTestController();
  const response = await t.request("/ctrl/c/not_a_host!/drone-socket");
  assert.equal(response.status, 400);
  assert.equal((await response.json()).kind, "InvalidClusterName");
  const pool = await t.request(`/ctrl/c/${TEST_CLUSTER}/drone-socket?pool=a%00b`);
  assert.equal(pool.status, 400);
  assert.equal((await pool.json()).kind, "InvalidRequest");
});

Deno.test("drone socket: with a cluster secret configured, a socket without it is 401", async () => {
  const secret = "s".repeat(32);
  await using t = await startTestController({ clusterSecret: secret });
  const response = await t.request(`/ctrl/c/${TEST_CLUSTER}/drone-socket`, {
    headers: { upgrade: "websocket", connection: "Upgrade" },
  });
  assert.equal(response.status, 401);
  assert.equal((await response.json()).kind, "Unauthorized");
  const wrong = await t.request(`/ctrl/c/${TEST_CLUSTER}/drone-socket`, {
    headers: { authorization: "Bearer nope" },
  });
  assert.equal(wrong.status, 401);
  await wrong.body?.cancel();
  // With the secret the drone registers.
  await using drone = await connectFakeDrone(t, { bearer: secret });
  assert.ok(drone.id > 0);
});
