/**
 * Issue 12, item 1: a terminated backend says why, on every surface users read — the
 * controller's `/ctrl/b/{id}`, the public status and status stream, `plane status <id>` and
 * `plane connect --wait` — for an unmapped image, a crash, a startup timeout, a clean exit and
 * a soft terminate. Real `plane` subprocesses (local-process runtime) on a fresh database.
 */
import assert from "node:assert/strict";
import { type PlaneCluster, runPlane, startPlaneCluster } from "./plane_process.ts";
import { waitFor } from "../testing/wait_for.ts";

/** `plane ARGS` against the cluster's controller, as a user runs it. */
function plane(cluster: PlaneCluster, ...args: string[]) {
  return runPlane(args, { PLANE_CONTROLLER_URL: cluster.controllerUrl });
}

/** Every surface's view of a backend once it is terminated. */
async function terminatedViews(cluster: PlaneCluster, id: string) {
  let status: Record<string, unknown> = {};
  await waitFor(async () => {
    const response = await cluster.api(`/pub/b/${id}/status`);
    status = await response.json();
    return status.status === "terminated";
  }, { message: `backend ${id} terminated`, timeoutMs: 20_000 });
  const info = await (await cluster.api(`/ctrl/b/${id}`)).json();
  // The stream ends after `terminated` (decisions.md §2.7); its last entry is the terminal one.
  const stream = await (await cluster.api(`/pub/b/${id}/status-stream`)).text();
  const entries = [...stream.matchAll(/^data: ?(.*)$/gm)].map((m) => JSON.parse(m[1]!));
  const cli = await plane(cluster, "status", id);
  assert.equal(cli.code, 0, cli.stderr);
  const backendStatus = await plane(cluster, "backend-status", id);
  assert.equal(backendStatus.code, 0, backendStatus.stderr);
  // The Jamsocket status an app written for Jamsocket reads (`@jamsocket/server`).
  const jamsocket = await (await cluster.api(`/v2/backend/${id}/status`)).json();
  return {
    status,
    state: info.state,
    last: entries.at(-1),
    cli: cli.stdout,
    backendStatus: backendStatus.stdout,
    jamsocket,
  };
}

async function spawnEcho(cluster: PlaneCluster): Promise<{ id: string; url: string }> {
  const body = await cluster.connectReady({ "spawn_config": { executable: { image: "echo" } } });
  return { id: String(body.backend_id), url: String(body.url) };
}

Deno.test("A terminated backend carries its termination reason and error text on every surface", async () => {
  await using cluster = await startPlaneCluster({
    droneArgs: ["--startup-timeout-seconds", "2"],
  });

  await (async function unmappedImage() {
    const { body } = await cluster.connect({ "spawn_config": { executable: { image: "nope" } } });
    const id = String(body.backend_id);
    const views = await terminatedViews(cluster, id);
    const error = 'Cannot run image "nope": it is not mapped to a command in this drone\'s ' +
      "local-process configuration (mapped: echo, silent)";
    assert.deepEqual(
      { ...views.status, time: 0 },
      { status: "terminated", termination_reason: "internalerror", error, time: 0 },
    );
    assert.deepEqual({ ...views.last, time: 0 }, { ...views.status, time: 0 });
    assert.equal(views.state.reason, "internalerror");
    assert.equal(views.state.last_status, "loading");
    assert.equal(views.state.error, error);
    assert.match(views.cli, /^Reason: +internalerror$/m);
    assert.match(views.cli, /^Error: +Cannot run image "nope": it is not mapped/m);
    assert.match(
      views.backendStatus,
      /terminated +reason=internalerror error="Cannot run image \\"nope\\": it is not mapped/,
    );
    assert.equal(views.jamsocket.status, "terminated");
    assert.equal(views.jamsocket.termination_reason, "internalerror");
    assert.equal(views.jamsocket.error, error);
  })();

  await (async function crash() {
    const { id, url } = await spawnEcho(cluster);
    await (await fetch(`${url}exit?code=1`)).body?.cancel();
    const views = await terminatedViews(cluster, id);
    assert.deepEqual(
      { ...views.status, time: 0 },
      { status: "terminated", exit_error: true, error: "exited with code 1", time: 0 },
    );
    assert.deepEqual({ ...views.last, time: 0 }, { ...views.status, time: 0 });
    assert.equal(views.state.exit_code, 1);
    assert.equal(views.state.error, "exited with code 1");
    assert.match(views.cli, /^Reason: +none \(exited by itself\)$/m);
    assert.match(views.cli, /^Exit code: +1 \(error\)$/m);
    assert.match(views.cli, /^Error: +exited with code 1$/m);
  })();

  await (async function cleanExit() {
    const { id, url } = await spawnEcho(cluster);
    await (await fetch(`${url}exit?code=0`)).body?.cancel();
    const views = await terminatedViews(cluster, id);
    assert.deepEqual(
      { ...views.status, time: 0 },
      { status: "terminated", exit_error: false, time: 0 },
    );
    assert.equal(views.state.exit_code, 0);
    assert.equal(views.state.error, undefined);
    assert.match(views.cli, /^Exit code: +0 \(not an error\)$/m);
    assert.doesNotMatch(views.cli, /^Error:/m);
  })();

  await (async function softTerminate() {
    const { id } = await spawnEcho(cluster);
    const terminate = await cluster.api(`/ctrl/b/${id}/soft-terminate`, { method: "POST" });
    await terminate.body?.cancel();
    assert.equal(terminate.status, 200);
    const views = await terminatedViews(cluster, id);
    // The echo backend exits 143 on the SIGTERM it was sent: not an error.
    assert.deepEqual({ ...views.status, time: 0 }, {
      status: "terminated",
      termination_reason: "external",
      termination_kind: "soft",
      exit_error: false,
      time: 0,
    });
    assert.equal(views.state.exit_code, 143);
    assert.match(views.cli, /^Exit code: +143 \(not an error\)$/m);
  })();

  await (async function startupTimeout() {
    const run = await plane(cluster, "connect", "--image", "silent", "--wait", "--json");
    assert.equal(run.code, 1);
    const id = JSON.parse(run.stdout.split("\n")[0]!).backend_id;
    const error = "did not answer HTTP on its port within the drone's --startup-timeout-seconds";
    assert.equal(
      run.stderr,
      `error: backend ${id} terminated before it was ready: reason startuptimeout: ${error}\n`,
    );
    const views = await terminatedViews(cluster, id);
    assert.deepEqual({ ...views.status, time: 0 }, {
      status: "terminated",
      termination_reason: "startuptimeout",
      termination_kind: "hard",
      exit_error: false,
      error,
      time: 0,
    });
    assert.equal(views.state.error, error);
    assert.match(views.cli, /^Reason: +startuptimeout$/m);
  })();
});
