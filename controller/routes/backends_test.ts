import assert from "node:assert/strict";
import { startTestController } from "../testing/test_controller.ts";
import { seedBackend, seedDrone } from "../testing/seed.ts";
import { updateBackendState } from "../db/backend_state.ts";
import { BackendInfo, BackendList } from "../../shared/api.ts";
import { decodeCursor, encodeCursor } from "../db/backend_info.ts";
import { parseListQuery } from "./backends.ts";

const CLUSTER = "plane.test";

Deno.test("GET /ctrl/b/{backend} returns the full row and 404 for an unknown backend", async () => {
  await using t = await startTestController();
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const backend = await seedBackend(t.db, {
    droneId: drone.id,
    cluster: CLUSTER,
    key: "my-key",
    subdomain: "sub",
    maxIdleSeconds: 30,
    lifetimeSeconds: 600,
  });
  await updateBackendState(t.db, backend, { status: "ready", address: "127.0.0.1:9" });

  const res = await t.request(`/ctrl/b/${backend}`);
  assert.equal(res.status, 200);
  const info = BackendInfo.parse(await res.json());
  assert.equal(info.id, backend);
  assert.equal(info.cluster, CLUSTER);
  assert.equal(info.status, "ready");
  assert.deepEqual(info.state, { status: "ready", address: "127.0.0.1:9" });
  assert.equal(info.drone, drone.name);
  assert.deepEqual(info.key, { name: "my-key", namespace: "", tag: "" });
  assert.equal(info.address, "127.0.0.1:9");
  assert.equal(info.subdomain, "sub");
  assert.equal(info.allowed_idle_seconds, 30);
  assert.ok(Math.abs(info.created_at - Date.now()) < 60_000);
  assert.ok(info.status_time >= info.created_at);
  assert.ok(Math.abs(info.last_keepalive - info.created_at) < 60_000);
  assert.ok(Math.abs(info.expiration_time! - (info.created_at + 600_000)) < 1_000);

  await updateBackendState(t.db, backend, {
    status: "terminated",
    "last_status": "ready",
    termination: "soft",
    reason: "swept",
    "exit_code": 0,
  });
  const done = BackendInfo.parse(await (await t.request(`/ctrl/b/${backend}`)).json());
  assert.equal(done.status, "terminated");
  assert.equal(done.key, null, "the key is released on terminated");
  assert.equal(done.address, null);

  const missing = await t.request("/ctrl/b/nosuchbackend");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).kind, "NotFound");
});

Deno.test("GET /ctrl/c/{cluster}/backends pages with a cursor and filters by status", async () => {
  await using t = await startTestController();
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const other = await seedDrone(t.db, { controller: t.controller.name, cluster: "other.test" });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    ids.push(await seedBackend(t.db, { droneId: drone.id, cluster: CLUSTER }));
  }
  await seedBackend(t.db, { droneId: other.id, cluster: "other.test" });
  await updateBackendState(t.db, ids[1]!, { status: "ready", address: "127.0.0.1:9" });
  await updateBackendState(t.db, ids[3]!, { status: "ready", address: "127.0.0.1:9" });

  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = cursor ? `?limit=2&cursor=${cursor}` : "?limit=2";
    const res = await t.request(`/ctrl/c/${CLUSTER}/backends${query}`);
    assert.equal(res.status, 200);
    const page = BackendList.parse(await res.json());
    assert.ok(page.backends.length <= 2);
    seen.push(...page.backends.map((b) => b.id));
    cursor = page.next_cursor;
    pages++;
  } while (cursor !== null && pages < 10);
  // Issue 12: newest first, as documented (it answered oldest first).
  assert.deepEqual(seen, ids.toReversed(), "every backend of the cluster once, newest first");
  assert.equal(pages, 3);

  const ready = BackendList.parse(
    await (await t.request(`/ctrl/c/${CLUSTER}/backends?status=ready`)).json(),
  );
  assert.deepEqual(ready.backends.map((b) => b.id), [ids[3], ids[1]]);
  assert.equal(ready.next_cursor, null);
  // A backend created while a client pages shows up before page one, never inside the walk.
  const first = BackendList.parse(
    await (await t.request(`/ctrl/c/${CLUSTER}/backends?limit=2`)).json(),
  );
  const late = await seedBackend(t.db, { droneId: drone.id, cluster: CLUSTER });
  const second = BackendList.parse(
    await (await t.request(`/ctrl/c/${CLUSTER}/backends?limit=2&cursor=${first.next_cursor}`))
      .json(),
  );
  assert.deepEqual(second.backends.map((b) => b.id), [ids[2], ids[1]]);
  const fresh = BackendList.parse(
    await (await t.request(`/ctrl/c/${CLUSTER}/backends?limit=1`)).json(),
  );
  assert.deepEqual(fresh.backends.map((b) => b.id), [late]);
  const several = BackendList.parse(
    await (await t.request(`/ctrl/c/${CLUSTER}/backends?status=ready,scheduled`)).json(),
  );
  assert.equal(several.backends.length, 6);
});

Deno.test("GET /ctrl/c/{cluster}/backends refuses bad parameters with 400", async () => {
  await using t = await startTestController();
  const cases: [string, string][] = [
    ["/ctrl/c/plane.test/backends?limit=0", "InvalidRequest"],
    ["/ctrl/c/plane.test/backends?limit=100000", "InvalidRequest"],
    ["/ctrl/c/plane.test/backends?limit=ten", "InvalidRequest"],
    ["/ctrl/c/plane.test/backends?status=running", "InvalidRequest"],
    ["/ctrl/c/plane.test/backends?cursor=garbage", "InvalidRequest"],
    ["/ctrl/c/bad_cluster!/backends", "InvalidClusterName"],
  ];
  for (const [path, kind] of cases) {
    const res = await t.request(path);
    assert.equal(res.status, 400, path);
    assert.equal((await res.json()).kind, kind, path);
  }
});

Deno.test("encodeCursor() and decodeCursor() round-trip and reject anything else", () => {
  const cursor = { createdAt: "2026-11-22T05:10:12.325484Z", id: "abc123" };
  assert.deepEqual(decodeCursor(encodeCursor(cursor)), cursor);
  assert.equal(decodeCursor("garbage"), null);
  assert.equal(decodeCursor(""), null);
  assert.equal(decodeCursor(btoa(JSON.stringify({ t: "yesterday", i: "x" }))), null);
});

Deno.test("parseListQuery() applies defaults", () => {
  assert.deepEqual(parseListQuery(new URLSearchParams()), {
    statuses: [],
    limit: 100,
    after: null,
  });
  assert.deepEqual(parseListQuery(new URLSearchParams("status=ready&status=waiting&limit=5")), {
    statuses: ["ready", "waiting"],
    limit: 5,
    after: null,
  });
});
