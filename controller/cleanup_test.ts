import assert from "node:assert/strict";
import { cleanupOnce } from "./cleanup.ts";
import { ControllerConfig, type ControllerConfigInput } from "./config.ts";
import { startTestController, type TestController } from "./testing/test_controller.ts";
import { seedBackend, seedDrone, seedToken } from "./testing/seed.ts";
import { createLogger } from "../shared/log.ts";
import { randomActionName } from "../shared/names.ts";

const CLUSTER = "cleanup.test:9090";

function contextOf(t: TestController, config: Partial<ControllerConfigInput> = {}) {
  return {
    db: t.db,
    log: createLogger("cleanup", { level: "error" }),
    config: ControllerConfig.parse({ db: t.database.url, ...config }),
  };
}

/** A backend with a token and an action, moved to `terminated` `daysAgo` days ago. */
async function seedTerminated(t: TestController, droneId: number, daysAgo: number) {
  const id = await seedBackend(t.db, { droneId, cluster: CLUSTER });
  await seedToken(t.db, { backendId: id, token: `tok-${id}`, user: "ada" });
  await t.db.query(
    `insert into backend_action (id, backend_id, drone_id, action, acked_at)
     values ($1, $2, $3, '{"Terminate":{"kind":"soft","reason":"external"}}', now())`,
    [randomActionName(), id, droneId],
  );
  await t.db.query(
    `insert into backend_state (backend_id, state, created_at)
     values ($1, '{"status":"terminated","reason":"external"}', now() - make_interval(days => $2))`,
    [id, daysAgo],
  );
  await t.db.query(
    `update backend set last_status = 'terminated', last_status_number = 80,
       state = '{"status":"terminated","reason":"external"}',
       last_status_time = now() - make_interval(days => $2)
     where id = $1`,
    [id, daysAgo],
  );
  // The key is released on `terminated`; an expired one may linger.
  await t.db.query(
    "update backend_key set expires_at = now() - interval '1 minute' where id = $1",
    [id],
  );
  return id;
}

async function countRows(t: TestController, table: string, backendId: string): Promise<number> {
  const column = table === "backend" || table === "backend_key" ? "id" : "backend_id";
  const { rows } = await t.db.query<{ n: number }>(
    `select count(*)::int as n from ${table} where ${column} = $1`,
    [backendId],
  );
  return rows[0]!.n;
}

Deno.test("cleanupOnce() deletes old terminated backends with all their rows, keeps the rest", async () => {
  await using t = await startTestController();
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const old = await seedTerminated(t, drone.id, 10);
  const recent = await seedTerminated(t, drone.id, 2);
  const live = await seedBackend(t.db, { droneId: drone.id, cluster: CLUSTER });
  await t.db.query(
    "update backend set last_status_time = now() - interval '30 days' where id = $1",
    [live],
  );

  const result = await cleanupOnce(contextOf(t, { cleanupMinAgeDays: 7 }));
  assert.equal(result.backends, 1);

  for (const table of ["backend", "backend_key", "backend_state", "backend_action", "token"]) {
    assert.equal(await countRows(t, table, old), 0, `${table} rows of the old backend`);
  }
  assert.equal(await countRows(t, "backend", recent), 1);
  assert.equal(await countRows(t, "token", recent), 1);
  assert.equal(await countRows(t, "backend_action", recent), 1);
  assert.equal(await countRows(t, "backend", live), 1);
  assert.equal(await countRows(t, "backend_key", live), 1);
});

Deno.test("cleanupOnce() deletes at most cleanupBatchSize backends per pass", async () => {
  await using t = await startTestController();
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  for (let i = 0; i < 3; i++) await seedTerminated(t, drone.id, 10 + i);
  const ctx = contextOf(t, { cleanupMinAgeDays: 1, cleanupBatchSize: 2 });

  assert.equal((await cleanupOnce(ctx)).backends, 2);
  assert.equal((await cleanupOnce(ctx)).backends, 1);
  assert.equal((await cleanupOnce(ctx)).backends, 0);
  const { rows } = await t.db.query<{ n: number }>("select count(*)::int as n from backend");
  assert.equal(rows[0]!.n, 0);
});

Deno.test("cleanupOnce() keeps a terminated backend whose key is still live", async () => {
  await using t = await startTestController();
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const id = await seedTerminated(t, drone.id, 10);
  await t.db.query(
    "update backend_key set expires_at = now() + interval '1 minute' where id = $1",
    [id],
  );
  const result = await cleanupOnce(contextOf(t, { cleanupMinAgeDays: 7 }));
  assert.equal(result.backends, 0);
  assert.equal(await countRows(t, "backend", id), 1);
});

Deno.test("cleanupOnce() deletes events older than the minimum age", async () => {
  await using t = await startTestController();
  await t.db.query(
    `insert into event (kind, key, data, created_at) values
       ('test_old', 'a', '{}', now() - interval '9 days'),
       ('test_new', 'b', '{}', now() - interval '1 day')`,
  );
  const result = await cleanupOnce(contextOf(t, { cleanupMinAgeDays: 7 }));
  assert.equal(result.events, 1);
  const { rows } = await t.db.query<{ kind: string }>(
    "select kind from event where kind like 'test_%'",
  );
  assert.deepEqual(rows.map((r) => r.kind), ["test_new"]);
});

Deno.test("cleanupOnce() without cleanupMinAgeDays only deletes expired tokens", async () => {
  await using t = await startTestController();
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const old = await seedTerminated(t, drone.id, 400);
  await seedToken(t.db, { backendId: old, token: "expired-token", expiresInSeconds: -10 });
  await seedToken(t.db, { backendId: old, token: "fresh-token", expiresInSeconds: 600 });
  await t.db.query(
    "insert into event (kind, data, created_at) values ('test_old', '{}', now() - interval '400 days')",
  );

  const result = await cleanupOnce(contextOf(t));
  assert.deepEqual(result, { backends: 0, events: 0, tokens: 1 });
  const { rows } = await t.db.query<{ token: string }>(
    "select token from token where backend_id = $1 order by token",
    [old],
  );
  assert.deepEqual(rows.map((r) => r.token), ["fresh-token", `tok-${old}`]);
  assert.equal(await countRows(t, "backend", old), 1);
});
