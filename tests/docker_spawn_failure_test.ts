/**
 * Issue 11, finding 4, as users run it: a `plane drone --runtime docker` whose spawn fails after
 * the container was created (the image's command does not exist, so `create` succeeds and
 * `start` fails) leaves no container behind, and the backend ends `terminated` with the reason
 * and Docker's error text on the public status, not `reason: null`.
 */
import assert from "node:assert/strict";
import { startPlaneCluster } from "./plane_process.ts";
import { waitFor } from "../testing/wait_for.ts";
import { connectDocker } from "../drone/executor/docker_connect.ts";
import {
  buildBrokenImage,
  buildEchoImage,
  dockerTestsRun,
} from "../drone/executor/testdata/docker_image.ts";

const dockerAvailable = await dockerTestsRun("Docker spawn-failure end-to-end test");

Deno.test({
  name:
    "plane drone --runtime docker: a spawn that fails after create leaves no container and says why",
  ignore: !dockerAvailable,
  async fn() {
    const [broken, echo] = await Promise.all([buildBrokenImage(), buildEchoImage()]);
    await using cluster = await startPlaneCluster({
      droneArgs: ["--runtime", "docker", "--host-network"],
    });
    const docker = connectDocker();
    const label = `dev.plane.drone=${cluster.droneName}`;
    const labelled = async () =>
      (await docker.listContainers({ all: true, filters: { label: [label] } }))
        .map((c) => c.Names?.[0] ?? "");
    const ids: string[] = [];
    try {
      const { status, body } = await cluster.connect({
        "spawn_config": { executable: { image: broken, "pull_policy": "Never" } },
      });
      assert.equal(status, 200, JSON.stringify(body));
      const id = String(body.backend_id);
      ids.push(id);

      let final: Record<string, unknown> = {};
      await waitFor(async () => {
        final = await (await cluster.api(`/pub/b/${id}/status`)).json();
        return final.status === "terminated";
      }, { message: `backend ${id} terminated`, timeoutMs: 20_000 });
      assert.equal(final.termination_reason, "internalerror");
      assert.match(String(final.error), /missing-program|no such file|exec/i);
      assert.deepEqual(await labelled(), [], "the failed spawn's container was removed");
      await assert.rejects(docker.getContainer(`plane-${id}`).inspect(), "no container by name");

      // The drone is not left broken: the next spawn on it still works.
      const ready = await cluster.connectReady({
        "spawn_config": { executable: { image: echo, "pull_policy": "Never" } },
      });
      ids.push(String(ready.backend_id));
      assert.deepEqual(await labelled(), [`/plane-${ready.backend_id}`]);
    } finally {
      for (const id of ids) {
        await docker.getContainer(`plane-${id}`).remove({ force: true }).catch(() => {});
      }
    }
  },
});
