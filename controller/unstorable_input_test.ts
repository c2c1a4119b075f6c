/**
 * Issue 10, finding 7: client input the database cannot take used to come back as a 500. Every
 * string field is tried with NUL and lone surrogates, every path parameter with `%00`, bodies
 * nested past the depth limit in `executable` and `auth`, and the two connect refusals Plane
 * answers 500 (a taken `spawn_config.id`, no drone). Each must be a 4xx (503 for no drone)
 * ApiError whose message names the field or the fix, and must leave the database as it was.
 */
import assert from "node:assert/strict";
import { startTestController, type TestController } from "./testing/test_controller.ts";
import { seedBackend, seedDrone, seedToken } from "./testing/seed.ts";
import { ApiError } from "../shared/api_error.ts";
import { JamsocketErrorBody } from "../shared/jamsocket.ts";
import type { Database } from "./db/database.ts";
import { MAX_JSON_DEPTH } from "./json_depth.ts";

const CLUSTER = "unstorable.test:9090";
const API_KEY = "k".repeat(24);

/** What Postgres refuses in text (NUL) and jsonb (NUL, unpaired surrogates). */
const UNSTORABLE = ["a\u0000b", "\u0000", "\ud800", "x\udc00y", "tail\udbff", "\udfff\ud800"];

type Json = Record<string, unknown>;

function validConnect(): Json {
  return {
    key: { name: "k", namespace: "ns", tag: "t" },
    "spawn_config": {
      cluster: CLUSTER,
      pool: "",
      executable: { image: "echo", env: { GREETING: "hi" } },
    },
    user: "ada",
    auth: { role: "reader", nested: { list: ["x"] } },
  };
}

/** A copy of `body` with the value at `path` replaced (or a key renamed, for `{key}`). */
function withValue(body: Json, path: string[], value: unknown): Json {
  const copy = structuredClone(body);
  let node = copy as Record<string, unknown>;
  for (const part of path.slice(0, -1)) node = node[part] as Record<string, unknown>;
  node[path.at(-1)!] = value;
  return copy;
}

/** Every ConnectRequest string the database stores: [field path, where to put the bad text]. */
function connectCases(): { field: string; body: Json }[] {
  const cases: { field: string; body: Json }[] = [];
  const valuePaths = [
    ["key", "name"],
    ["key", "namespace"],
    ["key", "tag"],
    ["user"],
    ["spawn_config", "pool"],
    ["spawn_config", "executable", "image"],
    ["spawn_config", "executable", "env", "GREETING"],
    ["auth", "role"],
    ["auth", "nested", "list"],
  ];
  for (const bad of UNSTORABLE) {
    for (const path of valuePaths) {
      const value = path.at(-1) === "list" ? ["ok", bad] : bad;
      cases.push({ field: path.join("."), body: withValue(validConnect(), path, value) });
    }
    // Names (object keys) in jsonb: an env name, an auth key, an executable field.
    cases.push({
      field: "spawn_config.executable.env",
      body: withValue(validConnect(), ["spawn_config", "executable", "env"], { [`N${bad}`]: "v" }),
    });
    cases.push({
      field: "auth",
      body: withValue(validConnect(), ["auth"], { [bad]: 1 }),
    });
    cases.push({
      field: "spawn_config.executable",
      body: withValue(validConnect(), ["spawn_config", "executable"], {
        image: "echo",
        [bad]: true,
      }),
    });
  }
  return cases;
}

async function rowCounts(db: Database): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ["backend", "token", "backend_action", "backend_key", "event"]) {
    const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from ${table}`);
    counts[table] = rows[0]!.n;
  }
  return counts;
}

async function call(t: TestController, method: string, path: string, body?: string) {
  const headers = new Headers({ authorization: `Bearer ${API_KEY}` });
  if (body !== undefined) headers.set("content-type", "application/json");
  const response = await t.controller.fetch(
    new Request(`http://controller.test${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    }),
    { remoteIp: "127.0.0.1" },
  );
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Checked by the caller.
  }
  return { status: response.status, text, body: parsed };
}

/** A 4xx `{id, kind, message}` whose message matches `message`; else a failure line. */
function refusal(
  label: string,
  answer: { status: number; text: string; body: unknown },
  message: RegExp,
  status?: number,
): string | null {
  // Paths under Jamsocket's prefixes answer Jamsocket's envelope (issue 12), the rest ApiError.
  const jamsocket = /^\S+ \/v[12]\//.test(label);
  const shape = jamsocket
    ? JamsocketErrorBody.transform((b) => b.error).safeParse(answer.body)
    : ApiError.safeParse(answer.body);
  const statusOk = status === undefined
    ? answer.status >= 400 && answer.status < 500
    : answer.status === status;
  if (statusOk && shape.success && message.test(shape.data.message)) return null;
  return `${label}: ${answer.status} ${answer.text.slice(0, 200)}`;
}

async function setup() {
  const t = await startTestController({ defaultCluster: CLUSTER, apiKeys: [API_KEY] });
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const backend = await seedBackend(t.db, { droneId: drone.id, cluster: CLUSTER });
  await seedToken(t.db, { backendId: backend, token: "seeded-token", user: "ada" });
  return { t, backend };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("POST /ctrl/connect refuses NUL and lone surrogates in every stored string with a 400 naming the field", async () => {
  const { t } = await setup();
  await using _ = t;
  const before = await rowCounts(t.db);
  const failures: string[] = [];
  const cases = connectCases();
  for (const c of cases) {
    const answer = await call(t, "POST", "/ctrl/connect", JSON.stringify(c.body));
    const failure = refusal(
      `${c.field} ${JSON.stringify(JSON.stringify(c.body)).slice(0, 120)}`,
      answer,
      new RegExp(`^Invalid request body: ${escapeRegExp(c.field)}`),
      400,
    );
    if (failure) failures.push(failure);
  }
  assert.deepEqual(failures, [], `${failures.length}/${cases.length} answered wrongly`);
  assert.deepEqual(await rowCounts(t.db), before);
  // The same body with storable text is accepted: the refusals were about the text only.
  const ok = await call(t, "POST", "/ctrl/connect", JSON.stringify(validConnect()));
  assert.equal(ok.status, 200, ok.text);
});

Deno.test("POST /ctrl/b/revoke refuses NUL and lone surrogates in user with a 400 naming it", async () => {
  const { t, backend } = await setup();
  await using _ = t;
  const before = await rowCounts(t.db);
  for (const bad of UNSTORABLE) {
    for (const path of ["/ctrl/b/revoke", "/ctrl/revoke"]) {
      const answer = await call(
        t,
        "POST",
        path,
        JSON.stringify({ "backend_id": backend, user: bad }),
      );
      assert.equal(
        refusal(path, answer, /^Invalid request body: user: must not contain/, 400),
        null,
      );
    }
  }
  assert.deepEqual(await rowCounts(t.db), before);
});

Deno.test(`JSON bodies nested deeper than ${MAX_JSON_DEPTH} levels are a 400 naming the limit, before parsing`, async () => {
  const { t, backend } = await setup();
  await using _ = t;
  const before = await rowCounts(t.db);
  const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
  const deepObject = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);
  const bodies: [string, string][] = [
    ["/ctrl/connect", `{"spawn_config":{"executable":{"image":"echo","x":${deep(10_000)}}}}`],
    [
      "/ctrl/connect",
      `{"spawn_config":{"executable":{"image":"echo"}},"auth":${deepObject(50_000)}}`,
    ],
    ["/ctrl/connect", `{"auth":{"a":${deep(MAX_JSON_DEPTH)}}}`],
    ["/ctrl/b/revoke", `{"backend_id":"${backend}","user":"u","x":${deep(70)}}`],
  ];
  for (const [path, body] of bodies) {
    const answer = await call(t, "POST", path, body);
    assert.equal(
      refusal(path, answer, new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`), 400),
      null,
    );
  }
  // Exactly at the limit is accepted by the depth check (and then judged by the schema).
  const atLimit = `{"key":{"name":"deep"},"spawn_config":{"executable":{"image":"echo","x":${
    deep(MAX_JSON_DEPTH - 3)
  }}}}`;
  const accepted = await call(t, "POST", "/ctrl/connect", atLimit);
  assert.equal(accepted.status, 200, accepted.text);
  const after = await rowCounts(t.db);
  assert.equal(after.backend, before.backend! + 1);
});

Deno.test("a control character in any path parameter is a 4xx ApiError, public routes included", async () => {
  const { t } = await setup();
  await using _ = t;
  const before = await rowCounts(t.db);
  const failures: string[] = [];
  const c = encodeURIComponent(CLUSTER);
  const routes: [string, string][] = [
    ["GET", "/pub/b/%00/status"],
    ["GET", "/pub/b/a%00/status-stream"],
    ["GET", "/ctrl/b/%00"],
    ["GET", "/ctrl/b/%00/logs"],
    ["POST", "/ctrl/b/%00/soft-terminate"],
    ["POST", "/ctrl/b/%00/hard-terminate"],
    ["GET", "/ctrl/c/%00/state"],
    ["GET", "/ctrl/c/%00/backends"],
    ["POST", `/ctrl/c/${c}/d/dr-%00/drain`],
    ["POST", `/ctrl/c/${c}/d/%00/undrain`],
    ["GET", "/ctrl/c/a%00b/drone-socket"],
    ["GET", "/ctrl/c/a%00b/proxy-socket"],
    ["GET", "/v2/backend/%00/status"],
    ["POST", "/v2/backend/%00/terminate"],
    ["GET", "/v2/backend/%00"],
    ["GET", "/v1/backend/%00/status"],
  ];
  for (const [method, path] of routes) {
    const answer = await call(t, method, path);
    // Jamsocket routes answer their own envelope, refused before routing or after.
    const failure = refusal(`${method} ${path}`, answer, /./);
    if (failure) failures.push(failure);
  }
  // A forged list cursor carrying NUL in its backend id.
  const cursor = btoa(JSON.stringify({ t: "2026-01-01T00:00:00.000000Z", i: "a\u0000" }))
    .replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
  const listed = await call(t, "GET", `/ctrl/c/${c}/backends?cursor=${cursor}`);
  const failure = refusal("cursor", listed, /cursor/, 400);
  if (failure) failures.push(failure);
  assert.deepEqual(failures, []);
  assert.deepEqual(await rowCounts(t.db), before);
});

Deno.test("POST /ctrl/connect: a spawn_config.id used under another key is 409 naming the field", async () => {
  const { t, backend } = await setup();
  await using _ = t;
  const before = await rowCounts(t.db);
  const answer = await call(
    t,
    "POST",
    "/ctrl/connect",
    JSON.stringify({
      key: { name: "another-key" },
      "spawn_config": { id: backend, executable: { image: "echo" } },
    }),
  );
  assert.equal(refusal("id taken", answer, /spawn_config\.id is already used/, 409), null);
  assert.equal((answer.body as ApiError).kind, "FailedToAcquireKey");
  assert.deepEqual(await rowCounts(t.db), before);
});

Deno.test("POST /ctrl/connect: no drone for the cluster or pool is 503 naming what to start", async () => {
  const { t } = await setup();
  await using _ = t;
  const before = await rowCounts(t.db);
  const cases: [Json, RegExp][] = [
    [
      { cluster: "nosuch.example:1", executable: { image: "echo" } },
      /cluster "nosuch\.example:1" in the default pool: start a drone with --cluster "nosuch\.example:1"/,
    ],
    [
      { pool: "gpu", executable: { image: "echo" } },
      new RegExp(
        `in pool "gpu": start a drone with --cluster "${escapeRegExp(CLUSTER)}" --pool "gpu"`,
      ),
    ],
  ];
  for (const [spawn, message] of cases) {
    const answer = await call(
      t,
      "POST",
      "/ctrl/connect",
      JSON.stringify({ "spawn_config": spawn }),
    );
    assert.equal(refusal(JSON.stringify(spawn), answer, message, 503), null);
    assert.equal((answer.body as ApiError).kind, "NoDroneAvailable");
  }
  assert.deepEqual(await rowCounts(t.db), before);
});

Deno.test("Jamsocket routes refuse NUL and lone surrogates with a 400 naming the field, in their envelope", async () => {
  const t = await startTestController({
    defaultCluster: CLUSTER,
    apiKeys: [API_KEY],
    services: { "acme/echo": { image: "echo" } },
  });
  await using _ = t;
  await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const before = await rowCounts(t.db);
  const cases: [string, Json, string][] = [
    ["/v2/service/acme/echo/connect", { key: "a\u0000" }, "key"],
    ["/v2/service/acme/echo/connect", { user: "\ud800" }, "user"],
    ["/v2/service/acme/echo/connect", { auth: { x: { y: "\u0000" } } }, "auth.x.y"],
    [
      "/v2/service/acme/echo/connect",
      { spawn: { executable: { env: { "A\u0000": "x" } } } },
      "spawn.executable.env",
    ],
    [
      "/v2/service/acme/echo/connect",
      { spawn: { executable: { env: { A: "\udc00" } } } },
      "spawn.executable.env.A",
    ],
    ["/v1/user/acme/service/echo/spawn", { lock: "\u0000" }, "lock"],
    ["/v1/user/acme/service/echo/spawn", { env: { A: "x\u0000" } }, "env.A"],
  ];
  for (const [path, body, field] of cases) {
    const answer = await call(t, "POST", path, JSON.stringify(body));
    const error = (answer.body as { error?: { status: number; message: string } }).error;
    assert.equal(answer.status, 400, `${path} ${field}: ${answer.text}`);
    assert.ok(
      error?.message.startsWith(`Invalid request body: ${field}`),
      `${path} ${field}: ${answer.text}`,
    );
  }
  assert.deepEqual(await rowCounts(t.db), before);
});
