/**
 * Many controllers, one database (plane-0.5.md §1.4): a connect handled by one instance
 * reaches a drone whose socket another instance holds, through NOTIFY carrying event ids.
 */
import assert from "node:assert/strict";
import { startTestController } from "../controller/testing/test_controller.ts";
import { collectStatuses, startTestDrone, waitForSchedulable } from "./env.ts";

const CLUSTER = "localhost:9090";

Deno.test("a connect on one controller reaches a drone connected to another, and both stream its status", async () => {
  // Resend every 10 minutes: delivery must come from the NOTIFY path, not the resend poll.
  const timings = { defaultCluster: CLUSTER, actionResendIntervalMs: 600_000 };
  await using a = await startTestController(timings);
  await using b = await a.another(timings);
  await using d = await startTestDrone({ controllerUrl: b.url, cluster: CLUSTER });
  await waitForSchedulable(a.db, d.drone.name);
  const started = performance.now();
  const response = await a.request("/ctrl/connect", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      key: { name: "shared-doc" },
      "spawn_config": { executable: { image: "echo" } },
    }),
  });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  assert.equal(body.drone, d.drone.name);
  const viaA = await collectStatuses(a.url, body.backend_id, "ready");
  assert.ok(performance.now() - started < 30_000);
  assert.deepEqual(viaA.map((e) => e.status), [
    "scheduled",
    "loading",
    "starting",
    "waiting",
    "ready",
  ]);
  const viaB = await collectStatuses(b.url, body.backend_id, "ready");
  assert.deepEqual(viaB, viaA);
  // The same key through the other instance finds the same backend.
  const again = await b.request("/ctrl/connect", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: { name: "shared-doc" } }),
  });
  const second = await again.json();
  assert.equal(second.backend_id, body.backend_id);
  assert.equal(second.spawned, false);
  // Terminate through A; the drone (on B) stops it and both see terminated.
  const terminated = await a.request(`/ctrl/b/${body.backend_id}/soft-terminate`, {
    method: "POST",
  });
  assert.equal(terminated.status, 200);
  await terminated.body?.cancel();
  const end = await collectStatuses(b.url, body.backend_id, "terminated");
  assert.equal(end.at(-1)!.termination_reason, "external");
});
