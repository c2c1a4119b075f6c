/**
 * Embedded database (decisions.md §3.2): the same controller on PGlite completes a
 * connect with a real drone, from scheduled to ready, with the status stream working.
 */
import assert from "node:assert/strict";
import { createPgliteDatabase } from "../controller/db/pglite_database.ts";
import { createController } from "../controller/mod.ts";
import { FAST_TIMINGS } from "../controller/testing/test_controller.ts";
import { createLogger } from "../shared/log.ts";
import { collectStatuses, startTestDrone, waitForSchedulable } from "./env.ts";

Deno.test("a controller on embedded PGlite completes a connect to ready", async () => {
  const dir = await Deno.makeTempDir();
  const db = await createPgliteDatabase(dir);
  const cluster = "localhost:9090";
  let controller: Awaited<ReturnType<typeof createController>> | null = null;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req, info) => controller!.fetch(req, info),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    controller = await createController({
      db,
      log: createLogger("controller", { level: "error" }),
      config: { db: dir, controllerUrl: url, defaultCluster: cluster, ...FAST_TIMINGS },
    });
    await using d = await startTestDrone({ controllerUrl: url, cluster });
    await waitForSchedulable(db, d.drone.name);
    const response = await fetch(`${url}/ctrl/connect`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        key: { name: "doc" },
        "spawn_config": { executable: { image: "echo" } },
      }),
    });
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    const statuses = await collectStatuses(url, body.backend_id, "ready");
    assert.deepEqual(statuses.map((s) => s.status), [
      "scheduled",
      "loading",
      "starting",
      "waiting",
      "ready",
    ]);
    const again = await (await fetch(`${url}/ctrl/connect`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: { name: "doc" } }),
    })).json();
    assert.equal(again.backend_id, body.backend_id);
    assert.equal(again.spawned, false);
  } finally {
    await controller?.close();
    await server.shutdown();
    await db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
