/**
 * Drone fault tests (issue: drone): killed and restarted, cut off from the controller, asked
 * to terminate a backend it does not know. Real controller, Postgres, drone and processes.
 */
import assert from "node:assert/strict";
import { startTestController } from "../controller/testing/test_controller.ts";
import { waitFor } from "../testing/wait_for.ts";
import {
  collectStatuses,
  ECHO_BACKEND,
  spawnDroneProcess,
  startTestDrone,
  waitForSchedulable,
} from "./env.ts";
import { startTcpRelay } from "./fixtures/tcp_relay.ts";
import { FakeClock } from "../drone/clock.ts";
import { LocalProcessExecutor } from "../drone/executor/local_process.ts";
import { randomDroneName } from "../shared/names.ts";
import { seedBackend } from "../controller/testing/seed.ts";
import { updateBackendState } from "../controller/db/backend_state.ts";
import type { BackendName } from "../shared/names.ts";

const CLUSTER = "localhost:9090";

async function connect(url: string, body: unknown) {
  const response = await fetch(`${url}/ctrl/connect`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const result = await response.json();
  assert.equal(response.status, 200, JSON.stringify(result));
  return result as { backend_id: BackendName };
}

async function history(
  t: { db: { query: <R>(q: string, v: unknown[]) => Promise<{ rows: R[] }> } },
  id: string,
) {
  const { rows } = await t.db.query<{ status: string }>(
    "select state->>'status' as status from backend_state where backend_id = $1 order by id",
    [id],
  );
  return rows.map((r) => r.status);
}

async function answers(address: string): Promise<boolean> {
  try {
    const response = await fetch(`http://${address}/`, { signal: AbortSignal.timeout(1000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

Deno.test("a drone killed with SIGKILL and restarted kills its old backends and loses no state event", async () => {
  await using t = await startTestController({ defaultCluster: CLUSTER });
  const stateDir = await Deno.makeTempDir();
  const name = randomDroneName();
  const start = () => spawnDroneProcess(t.url, CLUSTER, name, stateDir);
  let child = start();
  try {
    await waitForSchedulable(t.db, name);
    const connected = await connect(t.url, { "spawn_config": { executable: { image: "echo" } } });
    await collectStatuses(t.url, connected.backend_id, "ready");
    const info = await (await fetch(`${t.url}/ctrl/b/${connected.backend_id}`)).json();
    child.kill("SIGKILL");
    await child.status;
    assert.equal(await answers(info.address), true, "the backend outlives its killed drone");
    child = start();
    const entries = await collectStatuses(t.url, connected.backend_id, "terminated");
    assert.equal(entries.at(-1)!.termination_reason, "keyexpired");
    await waitFor(async () => !(await answers(info.address)), { message: "old backend killed" });
    assert.deepEqual(await history(t, connected.backend_id), [
      "scheduled",
      "loading",
      "starting",
      "waiting",
      "ready",
      "hard-terminating",
      "terminated",
    ]);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("events recorded while the controller connection is down are replayed on reconnect and acked once", async () => {
  await using t = await startTestController({ defaultCluster: CLUSTER });
  const target = new URL(t.url);
  await using relay = startTcpRelay({ hostname: target.hostname, port: Number(target.port) });
  await using d = await startTestDrone({ controllerUrl: relay.url, cluster: CLUSTER });
  await waitForSchedulable(t.db, d.drone.name);
  const connected = await connect(t.url, { "spawn_config": { executable: { image: "echo" } } });
  await collectStatuses(t.url, connected.backend_id, "ready");
  const info = await (await fetch(`${t.url}/ctrl/b/${connected.backend_id}`)).json();
  relay.cut();
  await waitFor(() => !d.drone.status.connected, { message: "drone disconnected" });
  // The backend exits while the drone cannot reach the controller.
  await (await fetch(`http://${info.address}/exit?code=7`)).body?.cancel();
  await waitFor(() => d.store.backendState(connected.backend_id)?.status === "terminated", {
    message: "terminated recorded locally",
  });
  assert.equal(d.store.unackedEvents().length, 1, "the terminated event waits in the outbox");
  const connections = d.drone.status.connections;
  relay.restore();
  await waitFor(() => d.drone.status.connections > connections, { message: "reconnected" });
  await waitFor(() => d.store.unackedEvents().length === 0, { message: "replayed event acked" });
  const entries = await collectStatuses(t.url, connected.backend_id, "terminated");
  assert.equal(entries.at(-1)!.exit_error, true);
  const statuses = await history(t, connected.backend_id);
  assert.equal(statuses.filter((s) => s === "terminated").length, 1);
});

Deno.test("a drone cut off from the controller soft-terminates at +40 s and kills at +50 s on its own clock", async () => {
  await using t = await startTestController({ defaultCluster: CLUSTER });
  const target = new URL(t.url);
  await using relay = startTcpRelay({ hostname: target.hostname, port: Number(target.port) });
  const clock = new FakeClock(Date.now());
  const executor = new LocalProcessExecutor({
    images: {
      echo: { command: [Deno.execPath(), "run", "--allow-net", "--allow-env", ECHO_BACKEND] },
      // Ignores SIGTERM, so only the hard kill at +50 s ends it.
      stubborn: {
        command: [Deno.execPath(), "run", "--allow-net", "--allow-env", ECHO_BACKEND],
        env: { IGNORE_SIGTERM: "1" },
      },
    },
    softGraceMs: 600_000,
  });
  await using d = await startTestDrone({
    controllerUrl: relay.url,
    cluster: CLUSTER,
    clock,
    executor,
  });
  // Heartbeats carry the fake clock's time; spawn deadlines are computed from it.
  await waitForSchedulable(t.db, d.drone.name);
  const connected = await connect(t.url, { "spawn_config": { executable: { image: "stubborn" } } });
  const id = connected.backend_id;
  await waitFor(() => d.drone.core.backendState(id)?.status === "ready", { message: "ready" });
  const spawnedAt = clock.now();
  relay.cut();
  await waitFor(() => !d.drone.status.connected, { message: "disconnected" });
  clock.advance(39_000);
  assert.equal(d.drone.core.backendState(id)?.status, "ready");
  clock.advance(1_500);
  assert.equal(d.drone.core.backendState(id)?.status, "terminating");
  assert.deepEqual(d.drone.core.backendState(id), {
    status: "terminating",
    "last_status": "ready",
    termination: "soft",
    reason: "keyexpired",
  });
  clock.advance(9_000);
  assert.equal(d.drone.core.backendState(id)?.status, "terminating", "still within the grace");
  clock.advance(1_000);
  assert.ok(clock.now() - spawnedAt >= 50_000);
  await waitFor(() => d.store.backendState(id)?.status === "terminated", { message: "killed" });
  const final = d.store.backendState(id)!;
  assert.equal(final.status === "terminated" && final.exit_code, 137);
  assert.equal(final.status === "terminated" && final.reason, "keyexpired");
});

Deno.test("Terminate for a backend the drone does not know ends it terminated with reason lost", async () => {
  await using t = await startTestController({ defaultCluster: CLUSTER });
  await using d = await startTestDrone({ controllerUrl: t.url, cluster: CLUSTER });
  await waitForSchedulable(t.db, d.drone.name);
  const { rows } = await t.db.query<{ id: number }>("select id from node where name = $1", [
    d.drone.name,
  ]);
  const id = await seedBackend(t.db, { droneId: rows[0]!.id, cluster: CLUSTER });
  await updateBackendState(t.db, id, { status: "ready", address: "127.0.0.1:1" });
  const response = await fetch(`${t.url}/ctrl/b/${id}/hard-terminate`, { method: "POST" });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const entries = await collectStatuses(t.url, id, "terminated");
  assert.equal(entries.at(-1)!.termination_reason, "lost");
});
