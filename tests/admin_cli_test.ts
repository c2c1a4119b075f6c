/**
 * The admin commands as a user runs them: `cli/main.ts` in a subprocess against a real
 * controller, Postgres and drone (local-process runtime).
 */
import assert from "node:assert/strict";
import { startTestController } from "../controller/testing/test_controller.ts";
import { startTestDrone, waitForSchedulable } from "./env.ts";
import { runPlane } from "./plane_process.ts";

const CLUSTER = "localhost:9090";
function plane(controllerUrl: string, ...args: string[]) {
  return runPlane(args, { PLANE_CONTROLLER_URL: controllerUrl });
}

/** The status column of `formatStatusEntry` lines. */
function statuses(stdout: string): string[] {
  return [...stdout.matchAll(/^\d{4}-\d\d-\d\d \S+Z {2}(\S+)/gm)].map((m) => m[1]!);
}

Deno.test("plane connect --wait, status, list, logs, terminate, drain and undrain against a controller", async () => {
  await using t = await startTestController({ defaultCluster: CLUSTER });
  await using d = await startTestDrone({ controllerUrl: t.url, cluster: CLUSTER });
  await waitForSchedulable(t.db, d.drone.name);

  const connect = await plane(t.url, "connect", "--image", "echo", "--key", "doc", "--wait");
  assert.equal(connect.code, 0, connect.stderr);
  const id = /^Backend: +([a-z0-9]+) \(created\)$/m.exec(connect.stdout)?.[1];
  assert.ok(id, connect.stdout);
  assert.match(connect.stdout, new RegExp(`^Drone: +${d.drone.name}$`, "m"));
  assert.match(connect.stdout, /^URL: +http:\/\/localhost:9090\/[\w-]+\/$/m);
  assert.deepEqual(statuses(connect.stdout), [
    "scheduled",
    "loading",
    "starting",
    "waiting",
    "ready",
  ]);

  const again = await plane(t.url, "connect", "--image", "echo", "--key", "doc", "--json");
  assert.equal(again.code, 0, again.stderr);
  const reused = JSON.parse(again.stdout);
  assert.equal(reused.backend_id, id);
  assert.equal(reused.spawned, false);

  const controller = await plane(t.url, "status");
  assert.equal(controller.code, 0, controller.stderr);
  assert.match(controller.stdout, /^Controller version: +0\.5\.6 \(hash 00000000\)$/m);
  const backend = await plane(t.url, "status", id);
  assert.match(backend.stdout, /^Status: +ready /m);
  assert.match(backend.stdout, /^Key: +doc$/m);

  const state = await plane(t.url, "cluster-state", CLUSTER);
  assert.match(state.stdout, new RegExp(`^${d.drone.name} +yes +no +1 `, "m"));

  const list = await plane(t.url, "list", CLUSTER, "--json");
  assert.equal(list.code, 0, list.stderr);
  const page = JSON.parse(list.stdout);
  assert.deepEqual(page.backends.map((b: { id: string }) => b.id), [id]);
  assert.equal(page.next_cursor, null);

  const address: string = JSON.parse((await plane(t.url, "status", id, "--json")).stdout).address;
  const logs = await plane(t.url, "logs", id, "--no-follow");
  assert.equal(logs.code, 0, logs.stderr);
  assert.deepEqual(logs.stdout.trim().split("\n").sort(), [
    "[stderr] stderr hello",
    `listening on ${address.split(":")[1]}`,
  ]);

  const drain = await plane(t.url, "drain", "--cluster", CLUSTER, "--drone", d.drone.name);
  assert.equal(drain.code, 0, drain.stderr);
  assert.match(drain.stdout, /is draining/);
  const refused = await plane(t.url, "connect", "--image", "echo");
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /^error: No active drone available for cluster "[^"]+" in the default pool: start a drone with --cluster "[^"]+", or undrain one \(HTTP 503 NoDroneAvailable, error id [a-z0-9]{14}\)\n$/,
  );
  const undrain = await plane(
    t.url,
    "admin",
    "undrain",
    "--cluster",
    CLUSTER,
    "--drone",
    d.drone.name,
    "--json",
  );
  assert.deepEqual(JSON.parse(undrain.stdout), { updated: true });

  const terminate = await plane(t.url, "terminate", id, "--wait");
  assert.equal(terminate.code, 0, terminate.stderr);
  assert.match(terminate.stdout, new RegExp(`^Requested a soft terminate of backend ${id}$`, "m"));
  assert.deepEqual(statuses(terminate.stdout), ["ready", "terminating", "terminated"]);
  assert.match(terminate.stdout, /terminated {2}reason=external kind=soft/);

  const history = await plane(t.url, "backend-status", id, "--json");
  assert.deepEqual(
    history.stdout.trim().split("\n").map((line) => JSON.parse(line).status),
    ["scheduled", "loading", "starting", "waiting", "ready", "terminating", "terminated"],
  );
});

Deno.test("plane connect --wait exits 1 when the backend terminates before it is ready", async () => {
  await using t = await startTestController({ defaultCluster: CLUSTER });
  await using d = await startTestDrone({ controllerUrl: t.url, cluster: CLUSTER });
  await waitForSchedulable(t.db, d.drone.name);
  // "silent" listens on nothing: the drone gives up after its startup timeout (3 s here).
  const run = await plane(t.url, "connect", "--image", "silent", "--wait", "--json");
  assert.equal(run.code, 1);
  const lines = run.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.equal(lines[0].spawned, true);
  assert.equal(lines.at(-1).status, "terminated");
  assert.equal(lines.at(-1).termination_reason, "startuptimeout");
  assert.equal(
    run.stderr,
    `error: backend ${lines[0].backend_id} terminated before it was ready: reason ` +
      "startuptimeout: did not answer HTTP on its port within the drone's " +
      "--startup-timeout-seconds\n",
  );
});

Deno.test("plane status prints a 404 as one line with the error id and exits 1", async () => {
  await using t = await startTestController();
  const run = await plane(t.url, "status", "nosuchbackend");
  assert.equal(run.code, 1);
  assert.equal(run.stdout, "");
  assert.match(
    run.stderr,
    /^error: Backend "nosuchbackend" does not exist \(HTTP 404 NotFound, error id [a-z0-9]{14}\)\n$/,
  );
  const usage = await plane(t.url, "terminate");
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^error: "plane terminate" needs BACKEND/);
});
