/**
 * The whole lifecycle on the Docker runtime, wired exactly as `plane drone --runtime docker
 * --host-network` wires it: real controller, Postgres, drone and container.
 */
import assert from "node:assert/strict";
import { startTestController } from "../controller/testing/test_controller.ts";
import { waitFor } from "../testing/wait_for.ts";
import { collectStatuses, waitForSchedulable } from "./env.ts";
import { startDrone } from "../cli/drone_command.ts";
import { DroneConfig } from "../drone/config.ts";
import { buildEchoImage, dockerTestsRun } from "../drone/executor/testdata/docker_image.ts";
import { createLogger } from "../shared/log.ts";

const available = await dockerTestsRun("Docker lifecycle test");

Deno.test({
  name: "Docker runtime: connect → ready → HTTP → soft terminate → terminated with exit code 143",
  ignore: !available,
  async fn() {
    const image = await buildEchoImage();
    const cluster = "localhost:9090";
    await using t = await startTestController({ defaultCluster: cluster });
    const dir = await Deno.makeTempDir();
    const running = await startDrone(
      DroneConfig.parse({
        controllerUrl: t.url,
        cluster,
        runtime: "docker",
        hostNetwork: true,
        db: `${dir}/state.db`,
        heartbeatMs: 200,
        softGraceMs: 5_000,
      }),
      { log: createLogger("drone", { level: "error" }) },
    );
    try {
      await waitForSchedulable(t.db, running.drone.name);
      const response = await t.request("/ctrl/connect", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ "spawn_config": { executable: { image, "pull_policy": "Never" } } }),
      });
      const body = await response.json();
      assert.equal(response.status, 200, JSON.stringify(body));
      const statuses = await collectStatuses(t.url, body.backend_id, "ready");
      assert.deepEqual(statuses.map((e) => e.status), [
        "scheduled",
        "loading",
        "starting",
        "waiting",
        "ready",
      ]);
      const info = await (await t.request(`/ctrl/b/${body.backend_id}`)).json();
      const answer = await (await fetch(`http://${info.address}/`)).json();
      assert.equal(answer.env.SESSION_BACKEND_ID, body.backend_id);
      const terminate = await t.request(`/ctrl/b/${body.backend_id}/soft-terminate`, {
        method: "POST",
      });
      await terminate.body?.cancel();
      const end = await collectStatuses(t.url, body.backend_id, "terminated");
      assert.equal(end.at(-1)!.termination_reason, "external");
      // Issue 12: dying of the SIGTERM a soft terminate sent is not an error exit.
      assert.equal(end.at(-1)!.exit_error, false);
      const stored = await t.db.query<{ code: number }>(
        "select (state->>'exit_code')::int as code from backend where id = $1",
        [body.backend_id],
      );
      assert.equal(stored.rows[0]?.code, 143);
      await waitFor(() => {
        const state = running.drone.core.backendState(body.backend_id);
        return state === null || state.status === "terminated";
      });
    } finally {
      await running.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
