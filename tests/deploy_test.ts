/**
 * The controller as Deno Deploy runs it: `deno serve controller/main.ts` with only network and
 * environment permissions, configured by environment, completing a connect with a real drone.
 */
import assert from "node:assert/strict";
import { createTestDatabase } from "../controller/db/test_database.ts";
import { serveControllerMain } from "../controller/testing/served_controller.ts";
import { collectStatuses, startTestDrone, waitForSchedulable } from "./env.ts";

Deno.test("controller/main.ts under --allow-net --allow-env completes a connect to ready", async () => {
  await using database = await createTestDatabase();
  const cluster = "localhost:9090";
  await using served = await serveControllerMain({
    DATABASE_URL: database.url,
    PLANE_DEFAULT_CLUSTER: cluster,
  });
  await using drone = await startTestDrone({ controllerUrl: served.url, cluster });
  await waitForSchedulable(database.db, drone.drone.name);
  const response = await served.request("/ctrl/connect", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ "spawn_config": { executable: { image: "echo" } } }),
  });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  assert.equal(body.status_url, `${served.url}/pub/b/${body.backend_id}/status`);
  const statuses = await collectStatuses(served.url, body.backend_id, "ready");
  assert.equal(statuses.at(-1)!.status, "ready");
});
