/**
 * Issue 11, finding 1: a burst must not take the cluster down. Real `plane controller` and
 * `plane drone` subprocesses with deno.json's permissions (`startPlaneCluster`): a burst of
 * concurrent connects to a never-ready image, then every backend terminated at full speed. The
 * drone must stay connected throughout (the controller used to close a busy socket once 1,024
 * messages were queued, and the drone's full outbox replay got it closed again, forever), every
 * backend must end `terminated`, and resends must not race acks.
 */
import assert from "node:assert/strict";
import { startPlaneCluster } from "./plane_process.ts";
import { waitFor } from "../testing/wait_for.ts";

/**
 * Backends in the burst. The 2,000 does not fit a test on this 2-core machine: the
 * drone's local runtime forks two processes per spawn (the backend and `cat` for its pid file's
 * start time), 25–100 ms each under load, so 1,000 spawns alone take one to two minutes. 500
 * take 15–40 s and overran the old controller all the same (it closed the socket and the
 * drone's full replay livelocked). `PLANE_BURST=2000` runs the size: on 2026-12-06, with
 * other work loading this machine, every one of 2,000 connects was answered within 1.6 s, all were
 * acked, and all 2,000 were terminated 116 s later, the drone connected throughout (2 min 37 s).
 */
const BURST = Number(Deno.env.get("PLANE_BURST") ?? 500);
/**
 * Bound per phase: 90 s for the default 500 (this shared machine took 33–81 s for the whole
 * test), growing with the burst, since the drone forks every backend one after another.
 */
const PHASE_MS = Math.max(90_000, BURST * 180);
/** Requests in flight from the test at once. */
const CLIENT_CONCURRENCY = 200;

async function inParallel<T>(items: T[], limit: number, run: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}

Deno.test("a burst of connects to never-ready backends, then terminating them all, keeps the drone connected", async () => {
  await using cluster = await startPlaneCluster({ proxy: false });
  const { controller, drone, database } = cluster;
  assert(drone);

  const statuses = new Map<number, number>();
  const ids: string[] = [];
  const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
  let slowest = 0;
  await inParallel(Array.from({ length: BURST }, (_, i) => i), CLIENT_CONCURRENCY, async () => {
    const started = Date.now();
    const { status, body } = await cluster.connect({
      "spawn_config": { executable: { image: "silent" } },
    });
    slowest = Math.max(slowest, Date.now() - started);
    count(status);
    if (status === 200) ids.push(String(body.backend_id));
  });
  // 503 is the only 5xx by design (no drone to place on); with the drone connected, none.
  assert.deepEqual([...statuses.keys()].filter((s) => s >= 500 && s !== 503), []);
  assert.equal(ids.length, BURST, `connect answers: ${JSON.stringify([...statuses])}`);
  // A connect never waits for the drone: a busy one does not hold it up.
  assert(slowest < 15_000, `the slowest connect took ${slowest} ms`);

  // Every Spawn reaches the drone and is acked: the drone saw the whole burst.
  await waitFor(async () => {
    const { rows } = await database.db.query<{ n: number }>(
      "select count(*)::int as n from backend_action where acked_at is null",
    );
    return rows[0]!.n === 0;
  }, { timeoutMs: PHASE_MS, intervalMs: 250, message: "every Spawn acked" });
  const ackedAt = Date.now();

  const terminated = new Map<number, number>();
  await inParallel(ids, CLIENT_CONCURRENCY, async (id) => {
    const response = await cluster.api(`/ctrl/b/${id}/soft-terminate`, { method: "POST" });
    await response.body?.cancel();
    terminated.set(response.status, (terminated.get(response.status) ?? 0) + 1);
  });
  assert.deepEqual([...terminated], [[200, BURST]]);

  await waitFor(async () => {
    const { rows } = await database.db.query<{ n: number }>(
      "select count(*)::int as n from backend where last_status <> 'terminated'",
    );
    return rows[0]!.n === 0;
  }, { timeoutMs: PHASE_MS, intervalMs: 250, message: "every backend terminated" });
  // deno-lint-ignore no-console
  console.log(
    `burst of ${BURST}: connects answered in ≤ ${slowest} ms each; all acked, then all ` +
      `terminated ${((Date.now() - ackedAt) / 1000).toFixed(1)} s later`,
  );

  // The drone stayed connected: the controller never closed or lost its socket.
  const closes = controller.logs.filter((l) =>
    l.message === "Node disconnected" || String(l.message).includes("closing") ||
    String(l.message).includes("Closing")
  );
  assert.deepEqual(closes, []);
  const reconnects = drone.logs.filter((l) =>
    String(l.message).startsWith("Controller connection") || l.message === "Connected to controller"
  );
  assert.equal(reconnects.length, 1, JSON.stringify(reconnects));

  // Resends wait for acks: (almost) no duplicate Spawn reaches the drone.
  const repeated = drone.logs.filter((l) => l.message === "Ignoring a repeated Spawn").length;
  assert(repeated <= BURST / 100, `${repeated} repeated Spawns`);

  // With no drone to place on, a connect fails fast with 503, not a hang or a 500.
  await drone.stop();
  await waitFor(async () => {
    const { rows } = await database.db.query("select 1 from node where controller is not null");
    return rows.length === 0;
  }, { message: "the drone marked offline" });
  const started = Date.now();
  const refused = await cluster.connect({ "spawn_config": { executable: { image: "silent" } } });
  assert.equal(refused.status, 503);
  assert.equal(refused.body.kind, "NoDroneAvailable");
  assert(Date.now() - started < 5_000, "the refusal came at once");
});
