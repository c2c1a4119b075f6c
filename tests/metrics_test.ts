/**
 * Backend metrics (plane-0.5.md §3.8, §6.2): drone samples → controller → NOTIFY
 * plane_backend_metrics.
 */
import assert from "node:assert/strict";
// @ts-types="@types/pg"
import pg from "pg";
import { startTestController } from "../controller/testing/test_controller.ts";
import { collectStatuses, startTestDrone, waitForSchedulable } from "./env.ts";
import { waitFor } from "../testing/wait_for.ts";

Deno.test("a running backend's metrics reach plane_backend_metrics with memory in use", async () => {
  const cluster = "localhost:9090";
  await using t = await startTestController({ defaultCluster: cluster });
  await using d = await startTestDrone({ controllerUrl: t.url, cluster });
  await waitForSchedulable(t.db, d.drone.name);
  const listener = new pg.Client({ connectionString: t.database.url });
  await listener.connect();
  try {
    const received: { payload: { backend_id: string; mem_used: number }; kind: string }[] = [];
    listener.on("notification", (n) => received.push(JSON.parse(n.payload ?? "null")));
    await listener.query("listen plane_backend_metrics");
    const response = await t.request("/ctrl/connect", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ "spawn_config": { executable: { image: "echo" } } }),
    });
    const { backend_id: id } = await response.json();
    await collectStatuses(t.url, id, "ready");
    const sample = await waitFor(() => received.find((m) => m.payload.backend_id === id), {
      message: "a metrics notification for the backend",
    });
    assert.equal(sample.kind, "backend_metrics");
    assert.ok(sample.payload.mem_used > 0);
  } finally {
    await listener.end();
  }
});
