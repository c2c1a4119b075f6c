/**
 * Issue 11, finding 2: a restarted drone kills what its previous run left, as users run it
 * (`plane drone` with deno.json's permissions, not `--allow-all`, under which `/proc/<pid>/*`
 * cannot be read). Backends are detached process groups and survive a SIGKILLed drone; the
 * restarted drone (same `--name`, same `--db`) must kill every one and report it `terminated`.
 */
import assert from "node:assert/strict";
import { type PlaneCluster, startPlaneCluster } from "./plane_process.ts";
import { waitFor } from "../testing/wait_for.ts";
import { connectDocker } from "../drone/executor/docker_connect.ts";
import { buildEchoImage, dockerTestsRun } from "../drone/executor/testdata/docker_image.ts";
import { backendProcesses } from "./env.ts";

const BACKENDS = 5;

async function statuses(cluster: PlaneCluster, ids: string[]) {
  const { rows } = await cluster.database.db.query<{ id: string; status: string }>(
    "select id, last_status as status from backend where id = any($1)",
    [ids],
  );
  return rows;
}

Deno.test("plane drone restarted after SIGKILL kills every local backend its previous run left and reports them terminated", async () => {
  await using cluster = await startPlaneCluster();
  const ids: string[] = [];
  try {
    await restartKillsLeftovers(cluster, ids);
  } finally {
    // Whatever the outcome, this test leaves no process behind.
    for (const pid of await backendProcesses(new Set(ids))) Deno.kill(pid, "SIGKILL");
  }
});

async function restartKillsLeftovers(cluster: PlaneCluster, ids: string[]) {
  const connects = Array.from(
    { length: BACKENDS },
    () => cluster.connectReady({ "spawn_config": { executable: { image: "echo" } } }),
  );
  for (const body of await Promise.all(connects)) ids.push(String(body.backend_id));
  const running = await backendProcesses(new Set(ids));
  assert.equal(running.length, BACKENDS, "one process per backend before the kill");

  cluster.drone!.child.kill("SIGKILL");
  await cluster.drone!.child.status;
  // As in Plane, backends outlive their drone: this is what the restart has to clean up.
  assert.equal((await backendProcesses(new Set(ids))).length, BACKENDS);

  const drone = await cluster.restartDrone();
  await waitFor(async () => {
    const rows = await statuses(cluster, ids);
    return rows.length === BACKENDS && rows.every((r) => r.status === "terminated");
  }, { message: "every backend of the killed drone terminated", timeoutMs: 15_000 });
  await waitFor(async () => (await backendProcesses(new Set(ids))).length === 0, {
    message: "no process of the previous run left",
    timeoutMs: 5_000,
  });
  for (const pid of running) {
    // A killed process may linger as a zombie until its new parent reaps it: that is gone.
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
    assert.ok(stat === "" || /\) Z /.test(stat), `process ${pid} is gone: ${stat}`);
  }
  const pidFiles: string[] = [];
  for await (const entry of Deno.readDir(`${cluster.dir}/pids`)) pidFiles.push(entry.name);
  assert.deepEqual(pidFiles, [], "the pid files of killed backends are removed");
  assert.deepEqual(
    drone.logs.filter((l) => l.level === "error"),
    [],
    "the sweep logged no error",
  );
}

const dockerAvailable = await dockerTestsRun("Docker drone restart test");

Deno.test({
  name:
    "plane drone --runtime docker restarted after SIGKILL removes every container its previous run left",
  ignore: !dockerAvailable,
  async fn() {
    const image = await buildEchoImage();
    await using cluster = await startPlaneCluster({
      droneArgs: ["--runtime", "docker", "--host-network"],
    });
    const docker = connectDocker();
    const ids: string[] = [];
    try {
      const spawn = { "spawn_config": { executable: { image, "pull_policy": "Never" } } };
      for (
        const body of await Promise.all([cluster.connectReady(spawn), cluster.connectReady(spawn)])
      ) {
        ids.push(String(body.backend_id));
      }
      const label = `dev.plane.drone=${cluster.droneName}`;
      const labelled = async () =>
        (await docker.listContainers({ all: true, filters: { label: [label] } })).length;
      assert.equal(await labelled(), ids.length);

      cluster.drone!.child.kill("SIGKILL");
      await cluster.drone!.child.status;
      await cluster.restartDrone();
      await waitFor(async () => {
        const rows = await statuses(cluster, ids);
        return rows.length === ids.length && rows.every((r) => r.status === "terminated");
      }, { message: "every backend of the killed drone terminated", timeoutMs: 15_000 });
      await waitFor(async () => (await labelled()) === 0, {
        message: "no container of the previous run left",
      });
      for (const id of ids) {
        await assert.rejects(docker.getContainer(`plane-${id}`).inspect(), `plane-${id} removed`);
      }
    } finally {
      for (const id of ids) {
        await docker.getContainer(`plane-${id}`).remove({ force: true }).catch(() => {});
      }
    }
  },
});
