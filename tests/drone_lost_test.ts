/**
 * Issue 11, finding 3: a dead drone's backends stayed `ready` forever, and once a key's lease
 * ran out a connect with that key started a second backend while the first row still said
 * `ready`. Now a drone out of contact past the key lease, with the key expired, has its
 * backends marked `terminated` with reason `lost` within `lostDeadlineMs` (lease + one sweep)
 * of its last contact; drones still connected keep theirs.
 */
import assert from "node:assert/strict";
import { startPlaneCluster } from "./plane_process.ts";
import { waitFor } from "../testing/wait_for.ts";
import { lostDeadlineMs } from "../controller/lost_backend.ts";
import { ControllerConfig } from "../controller/config.ts";
import { keyTimingsForLease, MIN_KEY_LEASE_MS } from "../controller/key_timings.ts";

const DRONES = 10;
const KILLED = 5;

Deno.test("plane controller marks the backends of SIGKILLed drones lost within lease + one sweep; live drones keep theirs", async () => {
  const leaseMs = MIN_KEY_LEASE_MS;
  const config = ControllerConfig.parse({ db: "x", ...keyTimingsForLease(leaseMs) });
  const deadlineMs = lostDeadlineMs(config);
  await using cluster = await startPlaneCluster({
    drone: false,
    proxy: false,
    controllerArgs: ["--key-lease-ms", String(leaseMs)],
  });
  // One pool per drone, so each drone gets exactly one backend.
  const drones = await Promise.all(
    Array.from({ length: DRONES }, (_, i) => cluster.startDrone({ pool: `p${i}` })),
  );
  const backends = await Promise.all(drones.map(async (_, i) => {
    const body = await cluster.connectReady({
      key: { name: `key-${i}` },
      "spawn_config": { executable: { image: "echo" }, pool: `p${i}` },
    });
    return String(body.backend_id);
  }));

  const state = async (id: string) => {
    const { rows } = await cluster.database.db.query<{ state: Record<string, unknown> }>(
      "select state from backend where id = $1",
      [id],
    );
    return rows[0]!.state;
  };
  const killedAt = Date.now();
  for (const drone of drones.slice(0, KILLED)) drone.child.kill("SIGKILL");
  const lost = backends.slice(0, KILLED);
  const kept = backends.slice(KILLED);

  await waitFor(async () => {
    for (const id of lost) if ((await state(id)).status !== "terminated") return false;
    return true;
  }, { timeoutMs: deadlineMs + 10_000, intervalMs: 200, message: "backends marked lost" });
  const elapsed = Date.now() - killedAt;
  // Measured from the kill, which follows the last contact: within the documented deadline
  // (plus a little for the poll and a loaded machine).
  assert.ok(elapsed <= deadlineMs + 3_000, `marked lost after ${elapsed} ms > ${deadlineMs} ms`);
  // Not before the key could have expired: the drone would still run them behind a partition.
  assert.ok(elapsed >= config.keyHardTerminateAfterMs - 7_500, `marked lost after ${elapsed} ms`);

  for (const id of lost) {
    assert.deepEqual(await state(id), {
      status: "terminated",
      "last_status": "ready",
      termination: null,
      reason: "lost",
      "exit_code": null,
      error: "its drone went offline and did not come back within the key lease",
    });
    const status = await (await cluster.api(`/pub/b/${id}/status`)).json();
    assert.equal(status.status, "terminated");
    assert.equal(status.termination_reason, "lost");
  }
  const { rows: keys } = await cluster.database.db.query<{ id: string }>(
    "select id from backend_key where id = any($1)",
    [backends],
  );
  assert.deepEqual(keys.map((k) => k.id).sort(), [...kept].sort(), "lost keys released");
  for (const id of kept) assert.equal((await state(id)).status, "ready");

  // The cluster listing counts no backend on a dead drone.
  const listing = await (await cluster.api(`/ctrl/c/${cluster.cluster}/state`)).json();
  const counted = listing.drones.reduce(
    (sum: number, d: { backend_count: number }) => sum + d.backend_count,
    0,
  );
  assert.equal(counted, DRONES - KILLED);

  // A connect with a lost backend's key starts a new backend cleanly (on a live drone's pool).
  const again = await cluster.connect({
    key: { name: "key-0" },
    "spawn_config": { executable: { image: "echo" }, pool: `p${KILLED}` },
  });
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(again.body.spawned, true);
  assert.notEqual(again.body.backend_id, lost[0]);
});
