/**
 * Conformance of the Jamsocket routes with the official clients (jamsocket-api.md §6, §11):
 * every request is the one a client sends, and every answer is parsed as that client does.
 * States are driven with `updateBackendState` on a seeded drone (no sockets needed).
 */
import assert from "node:assert/strict";
import { startTestController, type TestController } from "../testing/test_controller.ts";
import { seedDrone } from "../testing/seed.ts";
import { TEST_CLUSTER } from "../testing/fake_drone.ts";
import { updateBackendState } from "../db/backend_state.ts";
import type { ControllerConfigInput } from "../config.ts";
import {
  browserStatusStream,
  cliRequest,
  isBackendState,
  JamsocketHttpError,
  ServerClient,
} from "../testing/jamsocket_clients.ts";
import type { BackendState } from "../../shared/backend_state.ts";
import type { BackendMetricsMessage } from "../../shared/protocol.ts";
import { notifyBackendMetrics } from "../db/metrics.ts";
import { isJamsocketPath } from "./routes.ts";

const KEY = "k".repeat(24);
const SERVICES = {
  "acme/editor": { image: "ghcr.io/acme/editor:1", tags: { beta: "ghcr.io/acme/editor:beta" } },
  "acme/editor/staging": { image: "ghcr.io/acme/editor:staging", "max_idle_seconds": 60 },
};

async function setup(config: Partial<ControllerConfigInput> = {}) {
  const t = await startTestController({
    defaultCluster: TEST_CLUSTER,
    services: SERVICES,
    ...config,
  });
  await seedDrone(t.db, { controller: t.controller.name, cluster: TEST_CLUSTER });
  return t;
}

function server(t: TestController, token = KEY, service = "editor") {
  return new ServerClient({ apiUrl: t.url, account: "acme", service, token });
}

const ADDRESS = "127.0.0.1:4000";
const READY_PATH: BackendState[] = [
  { status: "loading" },
  { status: "starting" },
  { status: "waiting", address: ADDRESS },
  { status: "ready", address: ADDRESS },
];

async function drive(t: TestController, id: string, states: BackendState[]) {
  for (const state of states) assert.ok(await updateBackendState(t.db, id, state));
}

const TERMINATED: BackendState = {
  status: "terminated",
  "last_status": "ready",
  termination: "soft",
  reason: "external",
  "exit_code": null,
};

async function spawnRow(t: TestController, id: string) {
  const { rows } = await t.db.query<{ action: { action: { Spawn: Record<string, unknown> } } }>(
    "select action from backend_action where backend_id = $1 order by created_at limit 1",
    [id],
  );
  return rows[0]!.action.action.Spawn as {
    executable: { image: string; env: Record<string, string> };
    key: { key: { name: string; namespace: string; tag: string } };
  };
}

Deno.test("Jamsocket v2 connect: @jamsocket/server's request, a valid ConnectResponse, keys per service", async () => {
  await using t = await setup({ apiKeys: [KEY] });
  const first = await server(t).connect({ key: "doc-1", user: "ann", auth: { role: "editor" } });
  const id = first.backend_id as string;
  assert.equal(first.spawned, true);
  assert.equal(first.status, "scheduled");
  assert.equal(first.status_url, `${t.url}/v2/backend/${id}/status`);
  assert.equal(first.url, `https://${TEST_CLUSTER}/${first.token}/`);
  assert.equal(first.ready_url, `${t.url}/ready/${id}/${first.token}/`);
  assert.equal(typeof first.secret_token, "string");
  assert.ok(Object.values(first).every((v) => v !== null), "no null fields");
  assert.equal(first.drone, undefined, "Plane's extra fields are not sent");

  const spawn = await spawnRow(t, id);
  assert.deepEqual(spawn.key.key, {
    name: "doc-1",
    namespace: "acme/editor",
    tag: "ghcr.io/acme/editor:1",
  });
  assert.equal(spawn.executable.image, "ghcr.io/acme/editor:1");
  assert.equal(spawn.executable.env.JAMSOCKET_SERVICE, "editor");
  const { rows } = await t.db.query<{ idle: number }>(
    "select allowed_idle_seconds as idle from backend where id = $1",
    [id],
  );
  assert.equal(rows[0]!.idle, 300, "max_idle_seconds defaults to 300");

  // Same key: the same backend with a new token; another service's key space is separate.
  const again = await server(t).connect({ key: "doc-1" });
  assert.deepEqual([again.backend_id, again.spawned], [id, false]);
  assert.notEqual(again.token, first.token);
  const staging = await cliRequest(t.url, "POST", "/v2/service/acme/editor/staging/connect", {
    token: KEY,
    body: { key: "doc-1", spawn: { "max_idle_seconds": 30 } },
  });
  const stagingBody = staging.body as Record<string, string>;
  assert.notEqual(stagingBody.backend_id, id);
  const stagingSpawn = await spawnRow(t, stagingBody.backend_id!);
  assert.equal(stagingSpawn.key.key.namespace, "acme/editor/staging");
  assert.equal(stagingSpawn.executable.image, "ghcr.io/acme/editor:staging");

  // A tag picks the image, and the key tag follows it.
  const tagged = await server(t).connect({ spawn: { tag: "beta" } });
  assert.equal(
    (await spawnRow(t, tagged.backend_id as string)).key.key.tag,
    "ghcr.io/acme/editor:beta",
  );
});

Deno.test("Jamsocket v2 connect: the CLI's bodiless, doubled-slash and spawn variants", async () => {
  await using t = await setup();
  // No body at all, `//` after the host, a query string: still a spawn with defaults.
  const response = await fetch(`${t.url}//v2/service/acme/editor/connect?x1y2`, {
    method: "POST",
    headers: { authorization: "Bearer whatever" },
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.equal((await response.json()).spawned, true);

  const unheld = await cliRequest(t.url, "POST", "/v2/service/acme/editor/connect", {
    body: { key: "nobody", spawn: false },
  });
  assert.equal(unheld.status, 409);
  assert.equal(unheld.code, "KeyUnheldNoSpawnConfig");
  const keyless = await cliRequest(t.url, "POST", "/v2/service/acme/editor/connect", {
    body: { spawn: false },
  });
  assert.equal(keyless.status, 400);

  const unknown = await cliRequest(t.url, "POST", "/v2/service/acme/nope/connect", { body: {} });
  assert.equal(unknown.status, 404);
  assert.match(unknown.error!, /^404 - ServiceNotFound: Service "acme\/nope" is not in/);

  const preflight = await fetch(`${t.url}/v2/service/acme/editor/connect`, { method: "OPTIONS" });
  await preflight.body?.cancel();
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
});

Deno.test("Jamsocket connect refuses reserved names in the user's env with a 400 envelope", async () => {
  await using t = await setup();
  for (const name of ["PORT", "SESSION_BACKEND_KEY", "JAMSOCKET_SERVICE", "JAMSOCKET_OTHER"]) {
    const v2 = await cliRequest(t.url, "POST", "/v2/service/acme/editor/connect", {
      body: { spawn: { executable: { env: { [name]: "x" } } } },
    });
    assert.equal(v2.status, 400);
    assert.equal(v2.code, "ReservedEnvironmentVariable");
    assert.match(v2.error!, new RegExp(`"${name}"`));
    const v1 = await cliRequest(t.url, "POST", "/v1/user/acme/service/editor/spawn", {
      body: { env: { [name]: "x" } },
    });
    assert.equal(v1.code, "ReservedEnvironmentVariable");
  }
  const { rows } = await t.db.query("select 1 from backend");
  assert.equal(rows.length, 0, "nothing was spawned");
});

Deno.test("Jamsocket auth: Bearer API keys; dev placeholders only without keys on loopback", async () => {
  await using keyed = await setup({ apiKeys: [KEY] });
  await assert.rejects(server(keyed, "wrong-key").connect(), (err) => {
    assert.ok(err instanceof JamsocketHttpError);
    return err.status === 401;
  });
  const missing = await cliRequest(keyed.url, "GET", "/v2/backend/nope", { token: "" });
  assert.equal(missing.status, 401);
  assert.equal(missing.code, "Unauthorized");
  const placeholder = await cliRequest(keyed.url, "POST", "/v2/service/-/-/connect", {
    token: KEY,
    body: {},
  });
  assert.equal(placeholder.status, 403);
  assert.equal(placeholder.code, "DevModeUnavailable");
  assert.equal((await cliRequest(keyed.url, "GET", "/auth", { token: KEY })).status, 200);

  // No keys, loopback: `new Jamsocket({dev: true})` resolves to the only service.
  await using open = await setup({ services: { "acme/editor": { image: "echo" } } });
  const dev = ServerClient.dev(Number(new URL(open.url).port));
  const connected = await dev.connect({ key: "doc" });
  assert.equal(
    (await spawnRow(open, connected.backend_id as string)).key.key.namespace,
    "acme/editor",
  );
  assert.equal(isBackendState(await dev.status(connected.backend_id as string)), true);
});

Deno.test("Jamsocket status: ISO time, no nulls, CORS, query strings ignored, 404 envelope", async () => {
  await using t = await setup();
  const client = server(t);
  const { backend_id: id } = await client.connect({});
  const scheduled = await client.status(id as string);
  assert.equal(scheduled.status, "scheduled");
  assert.match(scheduled.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  await drive(t, id as string, [...READY_PATH, TERMINATED]);
  const terminated = await client.status(id as string);
  assert.deepEqual(Object.keys(terminated).sort(), [
    "status",
    "termination_kind",
    "termination_reason",
    "time",
  ]);
  const raw = await fetch(`${t.url}/v2/backend/${id}/status?abc}`);
  assert.equal(raw.headers.get("access-control-allow-origin"), "*");
  assert.equal(raw.headers.get("content-type"), "application/json");
  await raw.body?.cancel();

  await assert.rejects(client.status("nosuchbackend"), (err) => {
    assert.ok(err instanceof JamsocketHttpError);
    return err.status === 404;
  });
  const cli = await cliRequest(t.url, "GET", "/v2/backend/nosuchbackend/status");
  assert.equal(cli.code, "BackendNotFound");
});

Deno.test("Jamsocket v2 status stream: history replayed, data lines only, one event per chunk, ends at terminated", async () => {
  await using t = await setup();
  const connected = await server(t).connect({ key: "doc" });
  const id = connected.backend_id as string;
  await drive(t, id, READY_PATH);
  // Subscribing after ready still sees every status (the browser client relies on it).
  const upToReady = await browserStatusStream(connected.status_url as string, "ready");
  assert.deepEqual(upToReady.entries.map((e) => e.status), [
    "scheduled",
    "loading",
    "starting",
    "waiting",
    "ready",
  ]);
  assert.deepEqual([upToReady.skipped, upToReady.parseErrors], [[], []]);
  assert.equal(upToReady.headers.get("content-type"), "text/event-stream");
  assert.equal(upToReady.headers.get("access-control-allow-origin"), "*");
  assert.ok(upToReady.entries.every(isBackendState));

  const following = browserStatusStream(connected.status_url as string, null);
  const terminate = await cliRequest(t.url, "POST", `/v2/backend/${id}/terminate`, {
    body: { hard: false },
  });
  assert.deepEqual(terminate.body, { status: "ok" });
  await drive(t, id, [
    { status: "terminating", "last_status": "ready", termination: "soft", reason: "external" },
    TERMINATED,
  ]);
  const all = await following;
  assert.equal(all.ended, true, "the stream ends after terminated");
  assert.deepEqual(all.entries.slice(-2).map((e) => e.status), ["terminating", "terminated"]);
  assert.deepEqual([all.skipped, all.parseErrors], [[], []]);

  const unknown = await fetch(`${t.url}/v2/backend/nosuchbackend/status/stream`);
  assert.equal(unknown.status, 404);
  assert.equal((await unknown.json()).error.code, "BackendNotFound");
});

Deno.test("Jamsocket terminate: soft and hard actions, then BackendNotRunning", async () => {
  await using t = await setup({ apiKeys: [KEY] });
  const { backend_id: id } = await server(t).connect({});
  const soft = await cliRequest(t.url, "POST", `/v2/backend/${id}/terminate`, { token: KEY });
  assert.deepEqual(soft.body, { status: "ok" });
  const hard = await cliRequest(t.url, "POST", `/v2/backend/${id}/terminate`, {
    token: KEY,
    body: { hard: true },
  });
  assert.equal(hard.status, 200);
  const { rows } = await t.db.query<{ t: unknown }>(
    `select action->'action'->'Terminate' as t from backend_action
     where backend_id = $1 and action->'action'->'Terminate' is not null order by created_at`,
    [id],
  );
  assert.deepEqual(rows.map((r) => r.t), [
    { kind: "soft", reason: "external" },
    { kind: "hard", reason: "external" },
  ]);
  await drive(t, id as string, [TERMINATED]);
  const again = await cliRequest(t.url, "POST", `/v2/backend/${id}/terminate`, { token: KEY });
  assert.equal(again.status, 409);
  assert.equal(again.code, "BackendNotRunning");
  const unknown = await cliRequest(t.url, "POST", "/v2/backend/nope/terminate", { token: KEY });
  assert.equal(unknown.status, 404);
});

Deno.test("Jamsocket v1: spawn, status, stream and terminate, with and without /v1", async () => {
  await using t = await setup();
  for (const prefix of ["", "/v1"]) {
    const spawned = await cliRequest(t.url, "POST", `${prefix}/user/acme/service/editor/spawn`, {
      body: { lock: `doc${prefix}`, "grace_period_seconds": 45, grace_period: 1 },
    });
    assert.equal(spawned.status, 200, spawned.error ?? "");
    const body = spawned.body as Record<string, unknown>;
    const name = body.name as string;
    assert.deepEqual(Object.keys(body).sort(), [
      "backend_id",
      "name",
      "ready_url",
      "spawned",
      "status",
      "status_url",
      "url",
    ]);
    assert.equal(body.status, "Loading");
    assert.equal(body.status_url, `${t.url}/backend/${name}/status`);
    const spawn = await spawnRow(t, name);
    assert.equal(spawn.key.key.name, `doc${prefix}`);
    const { rows } = await t.db.query<{ idle: number }>(
      "select allowed_idle_seconds as idle from backend where id = $1",
      [name],
    );
    assert.equal(rows[0]!.idle, 45);

    await drive(t, name, READY_PATH);
    const status = await cliRequest(t.url, "GET", `${prefix}/backend/${name}/status?x`);
    assert.equal((status.body as Record<string, string>).state, "Ready");
    assert.equal((status.body as Record<string, string>).backend, name);

    const following = browserStatusStream(`${t.url}${prefix}/backend/${name}/status`, null);
    const terminated = await cliRequest(t.url, "POST", `${prefix}/backend/${name}/terminate`);
    assert.deepEqual(terminated.body, { status: "ok" });
    await drive(t, name, [TERMINATED]);
    const stream = await following;
    // scheduled and loading are both Loading, starting and waiting both Starting: deduped.
    assert.deepEqual(stream.entries.map((e) => e.state), [
      "Loading",
      "Starting",
      "Ready",
      "Terminated",
    ]);
    assert.ok(stream.entries.every((e) => e.backend === name && typeof e.time === "string"));
    const { rows: kinds } = await t.db.query<{ kind: string }>(
      `select action->'action'->'Terminate'->>'kind' as kind from backend_action
       where backend_id = $1 and action->'action'->'Terminate' is not null`,
      [name],
    );
    assert.deepEqual(kinds.map((r) => r.kind), ["hard"], "v1 terminate is hard");
  }
});

Deno.test("Jamsocket connect answers 429 at the concurrent-backend limit; held keys still connect", async () => {
  await using t = await setup({
    maxBackends: 2,
    services: { ...SERVICES, "acme/small": { image: "small", "max_backends": 1 } },
  });
  const small = server(t, KEY, "small");
  await small.connect({ key: "a" });
  await assert.rejects(small.connect({ key: "b" }), (err) => {
    assert.ok(err instanceof JamsocketHttpError);
    return err.status === 429;
  });
  assert.equal((await small.connect({ key: "a" })).spawned, false);
  await server(t).connect({});
  const global = await cliRequest(t.url, "POST", "/v2/service/acme/editor/connect", { body: {} });
  assert.equal(global.status, 429);
  assert.equal(global.code, "TooManyBackends");
});

Deno.test("Jamsocket backend info and account listing: service names, ISO times, V2 states", async () => {
  await using t = await setup({ apiKeys: [KEY] });
  const { backend_id: id } = await server(t).connect({ key: "doc" });
  await drive(t, id as string, READY_PATH);
  const info = await cliRequest(t.url, "GET", `/v2/backend/${id}`, { token: KEY });
  const body = info.body as Record<string, unknown>;
  assert.equal(body.service_name, "editor");
  assert.equal(body.account_name, "acme");
  assert.equal(body.cluster_name, TEST_CLUSTER);
  assert.equal(body.image_digest, "ghcr.io/acme/editor:1");
  assert.equal(body.key, "doc");
  const statuses = body.statuses as Record<string, string>[];
  assert.deepEqual(statuses.map((s) => s.status), [
    "scheduled",
    "loading",
    "starting",
    "waiting",
    "ready",
  ]);
  const times = statuses.map((s) => s.time!);
  assert.deepEqual([...times].sort(), times, "ISO times sort as text");

  const listed = await cliRequest(t.url, "GET", "/v2/account/acme/backends", { token: KEY });
  const running = (listed.body as { running_backends: Record<string, unknown>[] })
    .running_backends;
  assert.deepEqual(running.map((b) => [b.id, b.service_name, b.key]), [[id, "editor", "doc"]]);
  assert.equal((running[0]!.status as Record<string, string>).status, "ready");
  const other = await cliRequest(t.url, "GET", "/v2/account/other/backends", { token: KEY });
  assert.deepEqual(other.body, { "running_backends": [] });
});

Deno.test("ready_url: a waiting page, a redirect once ready, 410 once terminated", async () => {
  await using t = await setup();
  const connected = await server(t).connect({});
  const id = connected.backend_id as string;
  const readyUrl = connected.ready_url as string;
  const waiting = await fetch(readyUrl, { redirect: "manual" });
  assert.equal(waiting.status, 200);
  assert.match(waiting.headers.get("content-type")!, /^text\/html/);
  const page = await waiting.text();
  assert.ok(page.includes(`${t.url}/v2/backend/${id}/status/stream`));
  assert.ok(page.includes(JSON.stringify(connected.url)));

  const forged = await fetch(`${t.url}/ready/${id}/not-the-token/`, { redirect: "manual" });
  assert.equal(forged.status, 404);
  await forged.body?.cancel();

  await drive(t, id, READY_PATH);
  const ready = await fetch(readyUrl, { redirect: "manual" });
  await ready.body?.cancel();
  assert.equal(ready.status, 302);
  assert.equal(ready.headers.get("location"), connected.url);

  await drive(t, id, [TERMINATED]);
  const ended = await fetch(readyUrl, { redirect: "manual" });
  await ended.body?.cancel();
  assert.equal(ended.status, 410);
});

Deno.test("isJamsocketPath() names Jamsocket's prefixes, doubled slash included, not Plane's", () => {
  for (
    const path of ["/v2/nope", "/v1/x", "//v2/service/a/b", "/user/a/x", "/auth", "/cli-login"]
  ) {
    assert.equal(isJamsocketPath(path), true, path);
  }
  for (const path of ["/ctrl/nope", "/pub/x", "/", "/favicon.ico", "/v3/x"]) {
    assert.equal(isJamsocketPath(path), false, path);
  }
});

Deno.test("Jamsocket paths no route serves answer the CLI's error envelope; Plane's keep theirs", async () => {
  await using t = await setup({ apiKeys: [KEY] });
  for (const path of ["/v2/account/acme/nosuch", "/v1/nosuch", "/user/acme/x", "//v2/x"]) {
    const answer = await cliRequest(t.url, "GET", path, { token: KEY });
    assert.equal(answer.status, 404, path);
    assert.equal(answer.code, "NotFound", path);
    assert.match(answer.error!, new RegExp(`^404 - NotFound: No route for GET ${path} \\(id: `));
  }
  const wrongMethod = await cliRequest(t.url, "GET", "/v2/backend/abc/terminate", { token: KEY });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.code, "MethodNotAllowed");
  assert.match(wrongMethod.error!, /use POST/);

  const raw = await fetch(`${t.url}/v2/nosuch`);
  assert.equal(raw.headers.get("content-type"), "application/json");
  assert.equal(raw.headers.get("access-control-allow-origin"), "*");
  await raw.body?.cancel();
  const preflight = await fetch(`${t.url}/v2/nosuch`, { method: "OPTIONS" });
  await preflight.body?.cancel();
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");

  const plane = await t.request("/ctrl/nosuch", { headers: { authorization: `Bearer ${KEY}` } });
  const body = await plane.json();
  assert.equal(plane.status, 404);
  assert.deepEqual(Object.keys(body).sort(), ["id", "kind", "message"]);
});

Deno.test("Jamsocket services: list, info and images from the service map; writes refused naming --services", async () => {
  await using t = await setup({ apiKeys: [KEY] });
  const get = (path: string) => cliRequest(t.url, "GET", path, { token: KEY });
  assert.deepEqual((await get("/v2/account/acme/services")).body, { services: ["editor"] });
  assert.deepEqual((await get("/v2/account/other/services")).body, { services: [] });

  const info = (await get("/v2/service/acme/editor")).body as Record<string, unknown>;
  assert.equal(info.name, "editor");
  assert.equal(info.account_name, "acme");
  assert.equal(info.image_name, "ghcr.io/acme/editor");
  assert.ok(!Number.isNaN(Date.parse(info.created_at as string)));
  assert.deepEqual(
    (info.environments as Record<string, unknown>[]).map((e) => [e.name, e.image_tag, e.cluster]),
    [["default", "1", TEST_CLUSTER], ["staging", "staging", TEST_CLUSTER]],
  );

  const images = (await get("/v2/service/acme/editor/images")).body as {
    images: Record<string, string>[];
  };
  assert.deepEqual(images.images.map((i) => [i.repository, i.tag]), [
    ["ghcr.io/acme/editor", "1"],
    ["ghcr.io/acme/editor", "staging"],
    ["ghcr.io/acme/editor", "beta"],
  ]);
  assert.ok(images.images.every((i) => !Number.isNaN(Date.parse(i.upload_time!))));

  const missing = await get("/v2/service/acme/nosuch");
  assert.equal(missing.status, 404);
  assert.equal(missing.code, "ServiceNotFound");
  assert.match(missing.error!, /"acme\/nosuch" is not in the controller's service map/);
  assert.equal((await get("/v2/service/acme/nosuch/images")).code, "ServiceNotFound");

  const create = await cliRequest(t.url, "POST", "/v2/account/acme/service", {
    token: KEY,
    body: { name: "fresh" },
  });
  assert.equal(create.status, 409);
  assert.equal(create.code, "ServiceMapReadOnly");
  assert.match(
    create.error!,
    /Cannot create service "acme\/fresh": services come from the controller's --services file; add "acme\/fresh": \{"image": "IMAGE"\}/,
  );
  for (const path of ["/v2/service/acme/editor/update", "/v2/service/acme/editor/staging/update"]) {
    const update = await cliRequest(t.url, "POST", path, { token: KEY, body: { image_tag: "x" } });
    assert.equal(update.code, "ServiceMapReadOnly", path);
    assert.match(update.error!, /--services file/);
  }
  const remove = await cliRequest(t.url, "POST", "/v2/service/acme/editor/delete", { token: KEY });
  assert.equal(remove.code, "ServiceMapReadOnly");
  const push = await get("/service/acme/editor/image-name");
  assert.equal(push.code, "ServiceMapReadOnly");
  // Nothing was written: the map answers as before.
  assert.deepEqual((await get("/v2/account/acme/services")).body, { services: ["editor"] });
  assert.equal((await cliRequest(t.url, "GET", "/v2/account/acme/services")).status, 401);
});

Deno.test("Jamsocket metrics stream: drone samples as the CLI reads them, 404 unknown, ends at terminated", async () => {
  await using t = await setup({ apiKeys: [KEY] });
  const { backend_id: id } = await server(t).connect({});
  await drive(t, id as string, READY_PATH);
  const unknown = await fetch(`${t.url}/v2/backend/nosuchbackend/metrics/stream`, {
    headers: { authorization: `Bearer ${KEY}` },
  });
  assert.equal(unknown.status, 404);
  assert.equal((await unknown.json()).error.code, "BackendNotFound");
  const unauthorized = await fetch(`${t.url}/v2/backend/${id}/metrics/stream`);
  assert.equal(unauthorized.status, 401);
  await unauthorized.body?.cancel();

  const response = await fetch(`${t.url}/v2/backend/${id}/metrics/stream`, {
    headers: { authorization: `Bearer ${KEY}`, accept: "text/event-stream" },
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const sample = {
    "backend_id": id as string,
    "mem_used": 2048,
    "mem_total": 4096,
    "mem_active": 0,
    "mem_inactive": 0,
    "mem_unevictable": 0,
    "mem_limit": 8192,
    "cpu_used": 5,
    "sys_cpu": 10,
  } as BackendMetricsMessage;
  // Another backend's sample is not this stream's.
  await notifyBackendMetrics(t.db, {
    ...sample,
    "backend_id": "otherbackend1" as typeof sample.backend_id,
  });
  await notifyBackendMetrics(t.db, sample);
  const reader = response.body!.getReader();
  const { value } = await reader.read();
  const text = new TextDecoder().decode(value);
  assert.match(text, /^data:\{.*\}\n\n$/);
  assert.deepEqual(JSON.parse(text.slice(5)), {
    cluster: TEST_CLUSTER,
    "backend_id": id,
    "mem_used": 2048,
    "mem_available": 8192,
    "cpu_used": 5,
    "sys_cpu": 10,
  });
  await drive(t, id as string, [TERMINATED]);
  const end = await reader.read();
  assert.equal(end.done, true, "the stream ends with the backend");

  const after = await fetch(`${t.url}/v2/backend/${id}/metrics/stream`, {
    headers: { authorization: `Bearer ${KEY}` },
  });
  assert.equal(after.status, 409);
  assert.equal((await after.json()).error.code, "BackendNotRunning");
});
