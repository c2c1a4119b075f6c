/**
 * Reliability figure (targets.md §4, "Postgres restarted"): the shared Postgres server cannot be
 * restarted under other tests, so every connection of this test's database is killed with
 * `pg_terminate_backend` instead — the controller's pool, its LISTEN connection, all of it —
 * at every step of a backend's lifecycle. The controller recovers without a restart (connects
 * and status streams keep working) and no state event is lost: the backend's history has every
 * status exactly once, a status stream opened before the kills saw them all, and the drone's
 * outbox empties.
 */
import assert from "node:assert/strict";
// @ts-types="@types/pg"
import pg from "pg";
import { startTestController } from "../controller/testing/test_controller.ts";
import { waitFor } from "../testing/wait_for.ts";
import { adminUrl } from "../controller/db/test_database.ts";
import { collectStatuses, sseEntries, startTestDrone, waitForSchedulable } from "./env.ts";
import type { BackendName } from "../shared/names.ts";

const CLUSTER = "localhost:9090";
const LIFECYCLE = ["scheduled", "loading", "starting", "waiting", "ready"];

async function connect(url: string, key: string) {
  const response = await fetch(`${url}/ctrl/connect`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: { name: key }, "spawn_config": { executable: { image: "echo" } } }),
  });
  return { status: response.status, body: await response.json() };
}

Deno.test("reliability: Postgres connections killed at every lifecycle step; the controller recovers without a restart and loses no state event", async () => {
  await using t = await startTestController({ defaultCluster: CLUSTER });
  await using d = await startTestDrone({ controllerUrl: t.url, cluster: CLUSTER });
  await waitForSchedulable(t.db, d.drone.name);
  const databaseName = new URL(t.database.url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  let kills = 0;
  let killed = 0;
  /** Terminates every connection to this test's database (never another test's). */
  const killAll = async () => {
    const { rows } = await admin.query<{ n: number }>(
      `select count(pg_terminate_backend(pid))::int4 as n from pg_stat_activity
       where datname = $1 and pid <> pg_backend_pid()`,
      [databaseName],
    );
    kills++;
    killed += rows[0]!.n;
  };
  // Right after a kill the pool may still hand out a connection whose server process is gone:
  // that request fails (an ApiError 500) and the next one gets a fresh connection. A client
  // retries; recovery means a retry succeeds soon, on the same controller process.
  let failures = 0;
  const recovered = async <T>(what: string, attempt: () => Promise<T | null>): Promise<T> =>
    await waitFor(async () => {
      const result = await attempt();
      if (result === null) failures++;
      return result;
    }, { timeoutMs: 5_000, message: `${what} after the kill` });
  const connectOk = (key: string) =>
    recovered(`connect ${key}`, async () => {
      const answer = await connect(t.url, key);
      if (answer.status === 200) return answer.body;
      assert.equal(answer.status, 500, JSON.stringify(answer.body));
      assert.equal(answer.body.kind, "Other", JSON.stringify(answer.body));
      return null;
    });
  const statusesOk = (id: string, until: string) =>
    recovered(`status stream of ${id}`, () =>
      collectStatuses(t.url, id, until).catch((err) => {
        assert.match(String(err), /status-stream answered 500/);
        return null;
      }));
  /** Kills every connection each time the drone moves the backend to a new status. */
  const killThroughLifecycle = async (id: BackendName, until: string) => {
    let last: string | undefined;
    await waitFor(async () => {
      const status = d.drone.core.backendState(id)?.status;
      if (status !== last) {
        last = status;
        await killAll();
      }
      return status === until;
    }, { intervalMs: 2, message: `backend ${until} on the drone` });
  };
  try {
    // A status stream opened before anything is killed must see every status, once each.
    const first = await connect(t.url, "pg-loss");
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const id = first.body.backend_id as BackendName;
    const stream = await fetch(`${t.url}/pub/b/${id}/status-stream`);
    assert.equal(stream.status, 200);
    const watching = (async () => {
      const entries: Record<string, unknown>[] = [];
      for await (const entry of sseEntries(stream)) {
        entries.push(entry);
        if (entry.status === "ready") break;
      }
      await stream.body?.cancel().catch(() => {});
      return entries;
    })();
    await killAll();
    await killThroughLifecycle(id, "ready");
    const seen = await watching;
    assert.deepEqual(seen.map((e) => e.status), LIFECYCLE, "status stream across the kills");

    // Connects still work — the existing key, and a new backend on the same controller.
    await killAll();
    const again = await connectOk("pg-loss");
    assert.equal(again.backend_id, id);
    assert.equal(again.spawned, false);
    await killAll();
    const other = await connectOk("pg-loss-2");
    assert.equal(other.spawned, true);
    const otherId = other.backend_id as BackendName;
    await killThroughLifecycle(otherId, "ready");
    assert.deepEqual((await statusesOk(otherId, "ready")).map((e) => e.status), LIFECYCLE);

    // Terminate the first backend while connections keep dying.
    await killAll();
    await recovered("soft-terminate", async () => {
      const response = await fetch(`${t.url}/ctrl/b/${id}/soft-terminate`, { method: "POST" });
      await response.body?.cancel();
      if (response.status === 200) return true;
      assert.equal(response.status, 500);
      return null;
    });
    await killThroughLifecycle(id, "terminated");
    const end = await statusesOk(id, "terminated");
    assert.equal(end.at(-1)?.termination_reason, "external");

    // End the second backend too, so that every action has done its work.
    await killAll();
    await recovered("hard-terminate", async () => {
      const response = await fetch(`${t.url}/ctrl/b/${otherId}/hard-terminate`, {
        method: "POST",
      });
      await response.body?.cancel();
      if (response.status === 200) return true;
      assert.equal(response.status, 500);
      return null;
    });
    await killThroughLifecycle(otherId, "terminated");
    assert.equal((await statusesOk(otherId, "terminated")).at(-1)?.status, "terminated");

    // Nothing lost: the drone's outbox empties and each history has every status once.
    await waitFor(() => d.store.unackedEvents().length === 0, { message: "drone outbox empty" });
    // ...and the controller's action queue too: every Spawn and Terminate was acked.
    await waitFor(async () => {
      const { rows } = await t.db.query<{ n: number }>(
        "select count(*)::int4 as n from backend_action where acked_at is null",
      );
      return rows[0]!.n === 0;
    }, { message: "action queue empty" });
    const history = async (backend: string) => {
      const { rows } = await t.db.query<{ status: string }>(
        "select state->>'status' as status from backend_state where backend_id = $1 order by id",
        [backend],
      );
      return rows.map((r) => r.status);
    };
    assert.deepEqual(await history(id), [...LIFECYCLE, "terminating", "terminated"]);
    assert.deepEqual(await history(otherId), [...LIFECYCLE, "hard-terminating", "terminated"]);
    // deno-lint-ignore no-console
    console.log(
      `postgres connections lost: ${kills} kills (${killed} connections terminated) across two ` +
        `lifecycles; ${failures} requests answered 500 and succeeded on retry; no controller ` +
        `restart; every status recorded and streamed once; outbox and action queue empty`,
    );
  } finally {
    await admin.end();
  }
});
