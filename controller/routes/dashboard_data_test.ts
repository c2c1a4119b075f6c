import assert from "node:assert/strict";
import { startTestController, type TestController } from "../testing/test_controller.ts";
import { waitFor } from "../../testing/wait_for.ts";
import { connectFakeDrone, TEST_CLUSTER } from "../testing/fake_drone.ts";
import { seedBackend, seedDrone } from "../testing/seed.ts";
import { updateBackendState } from "../db/backend_state.ts";
import { ClusterList, ClusterStatusEvent, DroneList } from "../../shared/api.ts";

const KEY = "dashboard-data-test-key";
const SECRET = "dashboard-data-test-secret";
const AUTH = { authorization: `Bearer ${KEY}` };

function keyed(): Promise<TestController> {
  return startTestController({
    apiKeys: [KEY],
    clusterSecret: SECRET,
    defaultCluster: "default.test",
  });
}

async function getJson(t: TestController, path: string) {
  const response = await t.request(path, { headers: AUTH });
  return { status: response.status, body: await response.json() };
}

Deno.test("dashboard reads need the API key like the rest of /ctrl", async () => {
  await using t = await keyed();
  for (
    const path of [
      "/ctrl/clusters",
      `/ctrl/c/${TEST_CLUSTER}/drones`,
      `/ctrl/c/${TEST_CLUSTER}/status-stream`,
      "/ctrl/b/bk-x/usage",
    ]
  ) {
    const response = await t.request(path);
    assert.equal(response.status, 401, path);
    assert.equal((await response.json()).kind, "Unauthorized");
  }
});

Deno.test("clusters: those with a connected node, plus the default cluster", async () => {
  await using t = await keyed();
  await using _drone = await connectFakeDrone(t, { bearer: SECRET });
  const { status, body } = await getJson(t, "/ctrl/clusters");
  assert.equal(status, 200);
  assert.deepEqual(ClusterList.parse(body), {
    "default_cluster": "default.test",
    clusters: ["default.test", TEST_CLUSTER],
  });
});

Deno.test("drones: pool, flags, backend count and the summed latest usage of their backends", async () => {
  await using t = await keyed();
  await using drone = await connectFakeDrone(t, { bearer: SECRET, pool: "gpu" });
  const b1 = await seedBackend(t.db, { droneId: drone.id, cluster: TEST_CLUSTER });
  const b2 = await seedBackend(t.db, { droneId: drone.id, cluster: TEST_CLUSTER });
  const gone = await seedBackend(t.db, { droneId: drone.id, cluster: TEST_CLUSTER });
  await updateBackendState(t.db, gone, {
    status: "terminated",
    "last_status": "scheduled",
    reason: "external",
    termination: "hard",
    "exit_code": null,
  });
  await seedDrone(t.db, { controller: t.controller.name, cluster: "other.test" });

  const first = DroneList.parse((await getJson(t, `/ctrl/c/${TEST_CLUSTER}/drones`)).body);
  assert.equal(first.drones.length, 1);
  assert.deepEqual({ ...first.drones[0], "last_heartbeat_age": null }, {
    name: drone.name,
    pool: "gpu",
    ready: true,
    draining: false,
    "last_heartbeat_age": null,
    "backend_count": 2,
    "cpu_percent": null,
    "mem_used": null,
  });

  // The first request started listening: samples sent now are summed per drone.
  const metrics = (backend: string, mem: number, cpu: number) => ({
    "backend_id": backend,
    "mem_used": mem,
    "mem_total": mem,
    "mem_active": 0,
    "mem_inactive": 0,
    "mem_unevictable": 0,
    "mem_limit": 0,
    "cpu_used": cpu,
    "sys_cpu": 1000,
  });
  drone.send({ BackendMetrics: metrics(b1, 1000, 100) });
  drone.send({ BackendMetrics: metrics(b2, 500, 250) });
  const summed = await waitFor(async () => {
    const list = DroneList.parse((await getJson(t, `/ctrl/c/${TEST_CLUSTER}/drones`)).body);
    const d = list.drones[0]!;
    return d.mem_used === 1500 ? d : undefined;
  }, { message: "both samples to be counted" });
  assert.equal(summed.cpu_percent, 35);

  const usage = await getJson(t, `/ctrl/b/${b1}/usage`);
  assert.equal(usage.status, 200);
  assert.equal(usage.body.backend_id, b1);
  assert.deepEqual(usage.body.samples.map((s: { mem_used: number }) => s.mem_used), [1000]);
  assert.equal(usage.body.samples[0].cpu_percent, 10);

  const missing = await getJson(t, "/ctrl/b/bk-nope/usage");
  assert.equal(missing.status, 404);
  assert.equal(missing.body.kind, "NotFound");
  const bad = await getJson(t, "/ctrl/c/-bad-/drones");
  assert.equal(bad.status, 400);
  assert.equal(bad.body.kind, "InvalidClusterName");
});

/** Reads SSE blocks (separated by a blank line) from a response body. */
function sseReader(response: Response) {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return {
    async next(): Promise<string> {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          return block;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("stream ended");
        buffer += value;
      }
    },
    cancel: () => reader.cancel(),
  };
}

Deno.test("cluster status stream: says when subscribed, then every status change of the cluster only", async () => {
  await using t = await keyed();
  const ours = await seedDrone(t.db, { controller: t.controller.name, cluster: TEST_CLUSTER });
  const theirs = await seedDrone(t.db, { controller: t.controller.name, cluster: "other.test" });
  const mine = await seedBackend(t.db, { droneId: ours.id, cluster: TEST_CLUSTER });
  const other = await seedBackend(t.db, { droneId: theirs.id, cluster: "other.test" });
  const response = await t.request(`/ctrl/c/${TEST_CLUSTER}/status-stream`, { headers: AUTH });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const sse = sseReader(response);
  try {
    assert.equal(await sse.next(), ": subscribed");
    await updateBackendState(t.db, other, { status: "loading" });
    await updateBackendState(t.db, mine, { status: "loading" });
    let block = await sse.next();
    while (block.startsWith(":")) block = await sse.next();
    const event = ClusterStatusEvent.parse(JSON.parse(block.replace(/^data: /, "")));
    assert.equal(event.backend_id, mine);
    assert.equal(event.status, "loading");
    assert.equal(typeof event.time, "number");
  } finally {
    await sse.cancel();
  }
});
