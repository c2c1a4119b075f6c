import assert from "node:assert/strict";
import { startTestController, type TestController } from "./testing/test_controller.ts";
import { seedDrone } from "./testing/seed.ts";
import { updateBackendState } from "./db/backend_state.ts";
import {
  type ConnectStore,
  createConnectStore,
  type KeyLookup,
  type SpawnResult,
} from "./db/connect_queries.ts";
import { connect, MAX_CONNECT_ATTEMPTS } from "./connect_algorithm.ts";
import { ControllerConfig } from "./config.ts";
import { createPgDatabase } from "./db/pg_database.ts";
import { createLogger } from "../shared/log.ts";
import { ConnectRequest } from "../shared/api.ts";
import { ApiError } from "../shared/api_error.ts";
import type { BackendActionMessage } from "../shared/protocol.ts";

/** A cluster with a port (URLs are http) and one without (URLs are https). */
const DEV_CLUSTER = "localhost:9090";
const CLUSTER = "plane.test";
const EXECUTABLE = { image: "ghcr.io/jamsocket/demo-image-drop-four" };
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const STATIC_TOKEN = /^s\.[A-Za-z0-9_-]{43}$/;

interface Answer {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

async function post(t: TestController, body: unknown): Promise<Answer> {
  const response = await t.controller.fetch(
    new Request("http://controller.test/ctrl/connect", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
  return { status: response.status, body: await response.json() };
}

function spawnBody(key: string | null, spawn: Record<string, unknown> = {}, extra = {}) {
  return {
    ...(key === null ? {} : { key: { name: key } }),
    "spawn_config": { cluster: CLUSTER, executable: EXECUTABLE, ...spawn },
    ...extra,
  };
}

function assertApiError(answer: Answer, status: number, kind: string, message?: string) {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(ApiError.safeParse(answer.body).success, true, JSON.stringify(answer.body));
  assert.equal(answer.body.kind, kind);
  if (message !== undefined) assert.equal(answer.body.message, message);
}

async function count(t: TestController, sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await t.db.query<{ n: number }>(
    `select count(*)::int4 as n from ${sql}`,
    values,
  );
  return rows[0]!.n;
}

Deno.test("POST /ctrl/connect spawns a new backend on a cluster with a port", async () => {
  await using t = await startTestController();
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: DEV_CLUSTER });
  const answer = await post(t, {
    key: { name: "room-1" },
    "spawn_config": { cluster: DEV_CLUSTER, executable: EXECUTABLE },
    user: "alice",
    auth: { role: "admin" },
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const body = answer.body;
  assert.equal(body.spawned, true);
  assert.equal(body.status, "scheduled");
  assert.equal(body.drone, drone.name);
  assert.match(body.backend_id, /^[a-z0-9]{14}$/);
  assert.match(body.token, TOKEN);
  assert.match(body.secret_token, TOKEN);
  assert.equal(body.url, `http://${DEV_CLUSTER}/${body.token}/`);
  assert.equal(body.subdomain, null);
  assert.equal(body.status_url, `${t.url}/pub/b/${body.backend_id}/status`);
  const token = await t.db.query<{ backend_id: string; username: string; auth: unknown }>(
    "select backend_id, username, auth, secret_token from token where token = $1",
    [body.token],
  );
  assert.deepEqual(token.rows[0], {
    "backend_id": body.backend_id,
    username: "alice",
    auth: { role: "admin" },
    "secret_token": body.secret_token,
  });
  const backend = await t.db.query(
    "select last_status, last_status_number, state, drone_id, cluster from backend where id = $1",
    [body.backend_id],
  );
  assert.deepEqual(backend.rows[0], {
    "last_status": "scheduled",
    "last_status_number": 10,
    state: { status: "scheduled" },
    "drone_id": drone.id,
    cluster: DEV_CLUSTER,
  });
});

Deno.test("POST /ctrl/connect puts the subdomain in an https URL for a cluster without a port", async () => {
  await using t = await startTestController();
  await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const answer = await post(t, spawnBody("room-1", { subdomain: "sub" }));
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body.url, `https://sub.${CLUSTER}/${answer.body.token}/`);
  assert.equal(answer.body.subdomain, "sub");
  const again = await post(t, spawnBody("room-1", { subdomain: "sub" }));
  assert.equal(again.body.url, `https://sub.${CLUSTER}/${again.body.token}/`);
  assert.equal(again.body.subdomain, "sub");
});

Deno.test("POST /ctrl/connect with a held key returns the same backend and a new token", async () => {
  await using t = await startTestController();
  await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const first = await post(t, spawnBody("room-1"));
  const second = await post(t, spawnBody("room-1", {}, { user: "bob" }));
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.equal(second.body.spawned, false);
  assert.equal(second.body.backend_id, first.body.backend_id);
  assert.equal(second.body.drone, null);
  assert.equal(second.body.status, "scheduled");
  assert.match(second.body.token, TOKEN);
  assert.notEqual(second.body.token, first.body.token);
  assert.match(second.body.secret_token, TOKEN);
  assert.notEqual(second.body.secret_token, first.body.secret_token);
  assert.equal(second.body.url, `https://${CLUSTER}/${second.body.token}/`);
  // A reconnect needs no spawn config and reports the backend's current status.
  await updateBackendState(t.db, first.body.backend_id, { status: "loading" });
  const third = await post(t, { key: { name: "room-1" } });
  assert.equal(third.status, 200, JSON.stringify(third.body));
  assert.equal(third.body.status, "loading");
  assert.equal(await count(t, "backend"), 1);
  assert.equal(await count(t, "token where backend_id = $1", [first.body.backend_id]), 3);
  const user = await t.db.query("select username from token where token = $1", [
    second.body.token,
  ]);
  assert.deepEqual(user.rows[0], { username: "bob" });
});

Deno.test("POST /ctrl/connect with use_static_token returns the same static token every time", async () => {
  await using t = await startTestController();
  await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const first = await post(t, spawnBody("room-1", { "use_static_token": true }));
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.spawned, true);
  assert.match(first.body.token, STATIC_TOKEN);
  assert.equal(first.body.secret_token, null);
  assert.equal(first.body.url, `https://${CLUSTER}/${first.body.token}/`);
  const second = await post(t, spawnBody("room-1", { "use_static_token": true }, { user: "x" }));
  assert.equal(second.body.spawned, false);
  assert.equal(second.body.token, first.body.token);
  assert.equal(second.body.secret_token, null);
  assert.equal(await count(t, "token"), 0);
  const row = await t.db.query("select static_token from backend where id = $1", [
    first.body.backend_id,
  ]);
  assert.deepEqual(row.rows[0], { "static_token": first.body.token });
  const action = await t.db.query<{ action: BackendActionMessage }>(
    "select action from backend_action where backend_id = $1",
    [first.body.backend_id],
  );
  const spawn = action.rows[0]!.action.action;
  assert.ok("Spawn" in spawn);
  assert.equal(spawn.Spawn.static_token, first.body.token);
});

Deno.test("POST /ctrl/connect replaces a backend whose key expired", async () => {
  await using t = await startTestController();
  await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const first = await post(t, spawnBody("room-1"));
  const old = await t.db.query<{ fencing_token: number }>(
    "update backend_key set expires_at = now() - interval '1 second' where id = $1 " +
      "returning fencing_token",
    [first.body.backend_id],
  );
  const second = await post(t, spawnBody("room-1"));
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.equal(second.body.spawned, true);
  assert.notEqual(second.body.backend_id, first.body.backend_id);
  const keys = await t.db.query<{ id: string; fencing_token: number }>(
    "select id, fencing_token from backend_key where key_name = 'room-1'",
  );
  assert.equal(keys.rows.length, 1);
  assert.equal(keys.rows[0]!.id, second.body.backend_id);
  // plane-0.5.md §5.7: the fencing token increases when the key is re-acquired.
  assert.ok(keys.rows[0]!.fencing_token >= old.rows[0]!.fencing_token);
});

Deno.test("POST /ctrl/connect spawns a new backend once the key holder terminated", async () => {
  await using t = await startTestController();
  await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const first = await post(t, spawnBody("room-1"));
  await updateBackendState(t.db, first.body.backend_id, {
    status: "terminated",
    "last_status": "scheduled",
    termination: "hard",
    reason: "external",
    "exit_code": null,
  });
  const second = await post(t, spawnBody("room-1"));
  assert.equal(second.body.spawned, true);
  assert.notEqual(second.body.backend_id, first.body.backend_id);
});

Deno.test("POST /ctrl/connect queues a Spawn action with deadlines in the drone's clock", async () => {
  await using t = await startTestController();
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const localTime = 1_700_000_000_123;
  await t.db.query(
    "update drone set last_local_time = to_timestamp($2::float8 / 1000) where id = $1",
    [
      drone.id,
      localTime,
    ],
  );
  const answer = await post(
    t,
    spawnBody(null, { "lifetime_limit_seconds": 600, "max_idle_seconds": 30 }, {
      key: { name: "room-1", namespace: "ns", tag: "v1" },
    }),
  );
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const id = answer.body.backend_id;
  const rows = await t.db.query<{ id: string; drone_id: number; action: BackendActionMessage }>(
    "select id, drone_id, action from backend_action where backend_id = $1",
    [id],
  );
  assert.equal(rows.rows.length, 1);
  const row = rows.rows[0]!;
  assert.equal(row.drone_id, drone.id);
  const message = row.action;
  assert.equal(message.action_id, row.id);
  assert.match(message.action_id, /^ak-[a-z0-9]{14}$/);
  assert.equal(message.backend_id, id);
  assert.equal(message.drone_id, drone.id);
  assert.ok("Spawn" in message.action);
  const spawn = message.action.Spawn;
  assert.deepEqual(spawn.executable, EXECUTABLE);
  assert.equal(spawn.static_token, null);
  assert.deepEqual(spawn.key.key, { name: "room-1", namespace: "ns", tag: "v1" });
  const { deadlines } = spawn.key;
  assert.deepEqual(deadlines, {
    "renew_at": localTime + 30_000,
    "soft_terminate_at": localTime + 40_000,
    // decisions.md §2.1: +50 s at spawn, not Plane's +40 s.
    "hard_terminate_at": localTime + 50_000,
  });
  assert.ok(deadlines.soft_terminate_at + 10_000 <= deadlines.hard_terminate_at);
  // The fencing token is the DB's now() in epoch ms (plane-0.5.md §5.4) and is stored with the key.
  const key = await t.db.query<{ fencing_token: number; now: number; lease: number }>(
    `select fencing_token, (extract(epoch from now()) * 1000)::float8 as now,
       (extract(epoch from expires_at - now()))::float8 as lease
     from backend_key where id = $1`,
    [id],
  );
  const keyRow = key.rows[0]!;
  assert.equal(spawn.key.token, keyRow.fencing_token);
  assert.ok(Math.abs(keyRow.now - keyRow.fencing_token) < 60_000);
  assert.ok(keyRow.lease > 50 && keyRow.lease <= 60);
  const limits = await t.db.query<{ idle: number; lifetime: number }>(
    `select allowed_idle_seconds as idle,
       extract(epoch from expiration_time - last_keepalive)::float8 as lifetime
     from backend where id = $1`,
    [id],
  );
  assert.equal(limits.rows[0]!.idle, 30);
  assert.ok(Math.abs(limits.rows[0]!.lifetime - 600) < 1);
  // The action event is keyed by the drone id; the state event carries {backend_id, cluster, state}.
  const actionEvents = await t.db.query<{ data: BackendActionMessage }>(
    "select data from event where kind = 'backend_action' and key = $1",
    [String(drone.id)],
  );
  assert.equal(actionEvents.rows.length, 1);
  assert.equal(actionEvents.rows[0]!.data.action_id, message.action_id);
  const stateEvents = await t.db.query(
    "select data from event where kind = 'backend_state' and key = $1",
    [id],
  );
  assert.deepEqual(stateEvents.rows, [{
    data: { "backend_id": id, cluster: CLUSTER, state: { status: "scheduled" } },
  }]);
  assert.equal(await count(t, "backend_state where backend_id = $1", [id]), 1);
});

Deno.test("POST /ctrl/connect without a key spawns a new backend every time", async () => {
  await using t = await startTestController();
  await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const first = await post(t, spawnBody(null));
  const second = await post(t, spawnBody(null));
  assert.equal(first.body.spawned, true);
  assert.equal(second.body.spawned, true);
  assert.notEqual(first.body.backend_id, second.body.backend_id);
  const keys = await t.db.query<{ key_name: string }>("select key_name from backend_key");
  for (const row of keys.rows) assert.match(row.key_name, /^lk-[a-z0-9]{14}$/);
});

Deno.test("POST /ctrl/connect uses the controller's default cluster", async () => {
  await using t = await startTestController({ defaultCluster: CLUSTER });
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const answer = await post(t, { key: { name: "k" }, "spawn_config": { executable: EXECUTABLE } });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body.drone, drone.name);
  assert.equal(answer.body.url, `https://${CLUSTER}/${answer.body.token}/`);
});

Deno.test("POST /ctrl/connect schedules only on drones of the requested pool", async () => {
  await using t = await startTestController();
  const plain = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const gpu = await seedDrone(t.db, {
    controller: t.controller.name,
    cluster: CLUSTER,
    pool: "gpu",
  });
  for (let i = 0; i < 4; i++) {
    const answer = await post(t, spawnBody(null, { pool: "gpu" }));
    assert.equal(answer.body.drone, gpu.name);
    const other = await post(t, spawnBody(null));
    assert.equal(other.body.drone, plain.name);
  }
  assertApiError(await post(t, spawnBody(null, { pool: "none" })), 503, "NoDroneAvailable");
});

Deno.test("POST /ctrl/connect spreads backends to the less loaded drone", async () => {
  await using t = await startTestController();
  const a = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const b = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  // With best-of-2 and two drones, every spawn goes to the emptier one.
  for (let i = 0; i < 6; i++) assert.equal((await post(t, spawnBody(null))).status, 200);
  const counts = await t.db.query<{ drone_id: number; n: number }>(
    "select drone_id, count(*)::int4 as n from backend group by drone_id order by drone_id",
  );
  assert.deepEqual(counts.rows, [{ "drone_id": a.id, n: 3 }, { "drone_id": b.id, n: 3 }]);
});

Deno.test("POST /ctrl/connect skips draining, stale, disconnected and never-heartbeated drones", async () => {
  await using t = await startTestController();
  const cases: [string, string][] = [
    ["draining", "update drone set draining = true where id = $1"],
    [
      "stale heartbeat",
      "update drone set last_heartbeat = now() - interval '46 seconds' where id = $1",
    ],
    ["disconnected", "update node set controller = null where id = $1"],
    ["no local time", "update drone set last_local_time = null where id = $1"],
    ["not ready", "update drone set ready = false where id = $1"],
  ];
  for (const [label, sql] of cases) {
    const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
    await t.db.query(sql, [drone.id]);
    const answer = await post(t, spawnBody(null));
    assertApiError(answer, 503, "NoDroneAvailable");
    assert.ok(answer.status === 503, label);
  }
  const healthy = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const answer = await post(t, spawnBody(null));
  assert.equal(answer.body.drone, healthy.name);
});

Deno.test("POST /ctrl/connect skips drones whose controller is offline or stale", async () => {
  await using t = await startTestController();
  // Other controllers' rows, so this controller's own heartbeat loop cannot revive them.
  await t.db.query(
    `insert into controller (id, last_heartbeat, is_online, plane_version, plane_hash) values
       ('co-offline', now(), false, 'x', 'x'),
       ('co-stale', now() - interval '46 seconds', true, 'x', 'x')`,
  );
  for (const controller of ["co-offline", "co-stale"]) {
    await seedDrone(t.db, { controller, cluster: CLUSTER });
    assertApiError(await post(t, spawnBody(null)), 503, "NoDroneAvailable");
  }
  const healthy = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  assert.equal((await post(t, spawnBody(null))).body.drone, healthy.name);
});

Deno.test("POST /ctrl/connect answers the error table of plane-0.5.md §2.2", async () => {
  await using t = await startTestController();
  assertApiError(
    await post(t, { key: { name: "room-1" } }),
    409,
    "KeyUnheldNoSpawnConfig",
    "Lock is unheld but no spawn config was provided.",
  );
  assertApiError(
    await post(t, spawnBody("room-1")),
    503,
    "NoDroneAvailable",
    `No active drone available for cluster "${CLUSTER}" in the default pool: ` +
      `start a drone with --cluster "${CLUSTER}", or undrain one`,
  );
  assertApiError(
    await post(t, { key: { name: "room-1" }, "spawn_config": { executable: EXECUTABLE } }),
    400,
    "NoClusterProvided",
    "No cluster provided, and no default cluster for this controller: set " +
      '"spawn_config.cluster" (plane connect --cluster NAME) or start the controller with ' +
      "--default-cluster NAME (PLANE_DEFAULT_CLUSTER)",
  );
  await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const held = await post(
    t,
    spawnBody(null, { id: "fixed-id" }, { key: { name: "room-1", tag: "a" } }),
  );
  assert.equal(held.status, 200, JSON.stringify(held.body));
  assert.equal(held.body.backend_id, "fixed-id");
  assertApiError(
    await post(t, { key: { name: "room-1", tag: "b" } }),
    409,
    "KeyHeld",
    "Lock is held but tag does not match.",
  );
  // The same name in another namespace is another key.
  const otherNamespace = await post(
    t,
    spawnBody(null, {}, { key: { name: "room-1", namespace: "x" } }),
  );
  assert.equal(otherNamespace.body.spawned, true);
  // Reusing a backend id hits the primary key every attempt (plane-0.5.md §2.2); 409, not Plane's
  // 500.
  assertApiError(
    await post(t, spawnBody("room-2", { id: "fixed-id" })),
    409,
    "FailedToAcquireKey",
    "Cannot spawn: spawn_config.id is already used by another backend; " +
      "omit spawn_config.id or choose an unused one",
  );
  assert.equal(await count(t, "backend_key where key_name = 'room-2'"), 0);
  assert.equal(await count(t, "token where backend_id = 'fixed-id'"), 1);
});

Deno.test("POST /ctrl/connect rejects invalid names and bodies with a 400 ApiError", async () => {
  await using t = await startTestController();
  await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  for (
    const body of [
      spawnBody("k", { id: "Upper-Case" }),
      spawnBody("k", { cluster: "bad cluster" }),
      { key: { name: "k" }, "spawn_config": { cluster: CLUSTER } },
      { key: { name: "" } },
      { key: { name: "k" }, auth: null },
      spawnBody("k", { subdomain: "-bad" }),
      spawnBody("k", { "lifetime_limit_seconds": -1 }),
    ]
  ) {
    const answer = await post(t, body);
    assertApiError(answer, 400, "InvalidRequest");
    assert.equal(ConnectRequest.safeParse(body).success, false);
  }
  assert.equal(await count(t, "backend"), 0);
});

Deno.test("POST /ctrl/connect: 100 parallel connects with one key spawn exactly one backend", async () => {
  await using t = await startTestController();
  await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const answers = await Promise.all(
    Array.from({ length: 100 }, () => post(t, spawnBody("contended"))),
  );
  for (const answer of answers) assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answers.filter((a) => a.body.spawned).length, 1);
  assert.equal(new Set(answers.map((a) => a.body.backend_id)).size, 1);
  assert.equal(new Set(answers.map((a) => a.body.token)).size, 100);
  assert.equal(await count(t, "backend"), 1);
  assert.equal(await count(t, "backend_action"), 1);
  assert.equal(await count(t, "token"), 100);
});

// The retry logic against an injected store (plane-0.5.md §2.2: 3 attempts on FailedToAcquireKey
// and FailedToRemoveKey), including the interleavings that are hard to provoke with real timing.

const CONFIG = ControllerConfig.parse({ db: "unused", defaultCluster: CLUSTER });
const REQUEST = ConnectRequest.parse(spawnBody("room-1"));
const LIVE: KeyLookup = {
  kind: "live",
  minted: true,
  holder: {
    backendId: "winner",
    cluster: CLUSTER,
    status: "ready",
    staticToken: null,
    subdomain: null,
  },
};
const CANDIDATE = { id: 1, name: "dr-one", lastLocalTime: 0, liveBackends: 0 };

function fakeStore(script: {
  lookups: KeyLookup[];
  removes?: boolean[];
  spawns?: SpawnResult[];
}): ConnectStore & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    lookupKey() {
      calls.push("lookup");
      return Promise.resolve(script.lookups.shift() ?? { kind: "not_found" });
    },
    removeExpiredKey() {
      calls.push("remove");
      return Promise.resolve(script.removes?.shift() ?? true);
    },
    listDroneCandidates() {
      calls.push("candidates");
      return Promise.resolve([CANDIDATE]);
    },
    spawnBackend() {
      calls.push("spawn");
      return Promise.resolve(script.spawns?.shift() ?? { ok: true, fencingToken: 1 });
    },
  };
}

function run(store: ConnectStore, request = REQUEST) {
  return connect(request, { store, config: CONFIG, controllerUrl: "http://c" });
}

Deno.test("connect() retries a lost key race and returns the winner's backend", async () => {
  const store = fakeStore({
    lookups: [{ kind: "not_found" }, LIVE],
    spawns: [{ ok: false, reason: "conflict" }],
  });
  const result = await run(store);
  assert.ok(result.ok);
  assert.equal(result.response.backend_id, "winner");
  assert.equal(result.response.spawned, false);
  assert.equal(result.response.status, "ready");
  assert.deepEqual(store.calls, ["lookup", "candidates", "spawn", "lookup"]);
});

Deno.test("connect() gives up with FailedToAcquireKey after 3 lost races", async () => {
  const store = fakeStore({
    lookups: [],
    spawns: Array.from({ length: 5 }, () => ({ ok: false, reason: "conflict" }) as const),
  });
  const result = await run(store);
  assert.deepEqual(result, {
    ok: false,
    error: {
      status: 409,
      kind: "FailedToAcquireKey",
      message: "Failed to acquire lock: other connects for the same key kept winning; retry",
    },
  });
  assert.equal(store.calls.filter((c) => c === "spawn").length, MAX_CONNECT_ATTEMPTS);
});

Deno.test("connect() gives up with FailedToRemoveKey after 3 concurrent renewals", async () => {
  const expired: KeyLookup = { kind: "expired", backendId: "old" };
  const store = fakeStore({ lookups: [expired, expired, expired], removes: [false, false, false] });
  const result = await run(store);
  assert.deepEqual(result, {
    ok: false,
    error: { status: 409, kind: "FailedToRemoveKey", message: "Failed to remove lock." },
  });
  assert.deepEqual(store.calls, ["lookup", "remove", "lookup", "remove", "lookup", "remove"]);
});

Deno.test("connect() spawns after removing an expired key", async () => {
  const store = fakeStore({ lookups: [{ kind: "expired", backendId: "old" }], removes: [true] });
  const result = await run(store);
  assert.ok(result.ok);
  assert.equal(result.response.spawned, true);
  assert.equal(result.response.drone, "dr-one");
  assert.deepEqual(store.calls, ["lookup", "remove", "candidates", "spawn"]);
});

Deno.test("connect() does not retry errors that are not key races", async () => {
  const store = fakeStore({ lookups: [{ kind: "tag_mismatch", backendId: "x" }] });
  const result = await run(store);
  assert.ok(!result.ok);
  assert.equal(result.error.kind, "KeyHeld");
  assert.deepEqual(store.calls, ["lookup"]);
});

Deno.test("connect() on real Postgres: an expired key renewed during the connect is kept", async () => {
  await using t = await startTestController();
  await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const first = await post(t, spawnBody("room-1"));
  const real = createConnectStore(t.db);
  const expire = "update backend_key set expires_at = now() - interval '1 second' where id = $1";
  const renew = "update backend_key set expires_at = now() + interval '60 seconds' where id = $1";
  await t.db.query(expire, [first.body.backend_id]);
  // The drone renews between the lookup and the delete: the delete must not remove the key,
  // and the retry finds the live backend.
  const renewing: ConnectStore = {
    ...real,
    async removeExpiredKey(backendId) {
      await t.db.query(renew, [backendId]);
      return await real.removeExpiredKey(backendId);
    },
  };
  const kept = await run(renewing, ConnectRequest.parse(spawnBody("room-1")));
  assert.ok(kept.ok);
  assert.equal(kept.response.spawned, false);
  assert.equal(kept.response.backend_id, first.body.backend_id);
  // Renewed every time, then expired again: three failed removals answer FailedToRemoveKey.
  await t.db.query(expire, [first.body.backend_id]);
  const flapping: ConnectStore = {
    ...real,
    async removeExpiredKey(backendId) {
      await t.db.query(renew, [backendId]);
      const removed = await real.removeExpiredKey(backendId);
      await t.db.query(expire, [backendId]);
      return removed;
    },
  };
  const failed = await run(flapping, ConnectRequest.parse(spawnBody("room-1")));
  assert.ok(!failed.ok);
  assert.equal(failed.error.kind, "FailedToRemoveKey");
  assert.equal(failed.error.status, 409);
  assert.equal(await count(t, "backend"), 1);
});

Deno.test("lookupKey() commits asynchronously without leaving the setting on its connection", async () => {
  await using t = await startTestController();
  await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const first = await post(t, spawnBody("room-1"));
  // One connection, so the check below runs where the reconnect statement ran.
  const db = createPgDatabase({
    url: t.database.url,
    max: 1,
    log: createLogger("test", { level: "error" }),
  });
  try {
    const before = await db.query("show synchronous_commit");
    const token = {
      token: "t".repeat(43),
      secretToken: "s",
      user: null,
      auth: {},
      lifetimeMs: 1000,
    };
    const found = await createConnectStore(db).lookupKey(
      { name: "room-1", namespace: "", tag: "" },
      token,
    );
    assert.equal(found.kind === "live" && found.holder.backendId, first.body.backend_id);
    const after = await db.query("show synchronous_commit");
    assert.deepEqual(after.rows, before.rows);
    assert.equal(await count(t, "token where token = $1", [token.token]), 1);
  } finally {
    await db.close();
  }
});
