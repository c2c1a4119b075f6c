/**
 * Issue 10, finding 7, through `plane controller` as users run it: client input Postgres cannot
 * take (NUL, lone surrogates), bodies nested past the limit, `%00` in a public path, a taken
 * `spawn_config.id` and a cluster or pool no drone serves used to be answered 500. Each is now a
 * 4xx ApiError naming the field or the fix (503 for no drone), and nothing is written.
 */
import assert from "node:assert/strict";
import { startPlaneCluster } from "./plane_process.ts";
import { ApiError } from "../shared/api_error.ts";
import type { Queryable } from "../controller/db/database.ts";

const API_KEY = "client-input-api-key-0123456789";

async function rows(db: Queryable): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ["backend", "token", "backend_key", "backend_action"]) {
    const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from ${table}`);
    counts[table] = rows[0]!.n;
  }
  return counts;
}

async function apiError(response: Response): Promise<ApiError> {
  const text = await response.text();
  const parsed = ApiError.safeParse(JSON.parse(text));
  assert.ok(parsed.success, `not an ApiError: ${text}`);
  return parsed.data;
}

Deno.test("plane controller answers unstorable text, deep JSON, %00 paths, a taken id and a missing drone with 4xx/503 ApiErrors that name the fix", async () => {
  await using c = await startPlaneCluster({ apiKeys: [API_KEY], proxy: false });
  const db = c.database.db;
  const existing = await c.connectReady({
    key: { name: "first" },
    "spawn_config": { id: "taken-id", executable: { image: "echo" } },
  });
  assert.equal(existing.backend_id, "taken-id");
  const before = await rows(db);
  const post = (path: string, body: string) =>
    c.api(path, { method: "POST", headers: { "content-type": "application/json" }, body });
  const spawn = { executable: { image: "echo" } };

  // NUL and lone surrogates, in a plain field, a nested jsonb value and a jsonb key.
  const unstorable: [unknown, string][] = [
    [{ key: { name: "a\u0000b" }, "spawn_config": spawn }, "key.name"],
    [{ "spawn_config": spawn, user: "\ud800" }, "user"],
    [{ "spawn_config": spawn, auth: { deep: { x: "\udc00" } } }, "auth.deep.x"],
    [
      { "spawn_config": { executable: { image: "echo", env: { "A\u0000": "1" } } } },
      "spawn_config.executable.env",
    ],
    [{ "spawn_config": { ...spawn, pool: "p\u0000" } }, "spawn_config.pool"],
  ];
  for (const [body, field] of unstorable) {
    const response = await post("/ctrl/connect", JSON.stringify(body));
    assert.equal(response.status, 400, field);
    const error = await apiError(response);
    assert.equal(error.kind, "InvalidRequest");
    assert.ok(error.message.startsWith(`Invalid request body: ${field}`), error.message);
  }
  const revoke = await post(
    "/ctrl/b/revoke",
    JSON.stringify({ "backend_id": "taken-id", user: "\u0000" }),
  );
  assert.equal(revoke.status, 400);
  assert.match(
    (await apiError(revoke)).message,
    /^Invalid request body: user: must not contain NUL/,
  );

  // Nesting: 10,000 deep in executable, 50,000 deep in auth.
  for (
    const body of [
      `{"spawn_config":{"executable":{"image":"echo","x":${"[".repeat(10_000)}${
        "]".repeat(10_000)
      }}}}`,
      `{"spawn_config":{"executable":{"image":"echo"}},"auth":${'{"a":'.repeat(50_000)}1${
        "}".repeat(50_000)
      }}`,
    ]
  ) {
    const response = await post("/ctrl/connect", body);
    assert.equal(response.status, 400);
    assert.match((await apiError(response)).message, /nested deeper than 64 levels/);
  }

  // A NUL in a public path.
  const status = await fetch(`${c.controllerUrl}/pub/b/%00/status`);
  assert.equal(status.status, 400);
  assert.match((await apiError(status)).message, /backend "%00" must not contain control/);

  // A spawn_config.id already used under another key: 409 naming the field.
  const taken = await post(
    "/ctrl/connect",
    JSON.stringify({ key: { name: "second" }, "spawn_config": { ...spawn, id: "taken-id" } }),
  );
  assert.equal(taken.status, 409);
  const takenError = await apiError(taken);
  assert.equal(takenError.kind, "FailedToAcquireKey");
  assert.match(takenError.message, /spawn_config\.id is already used by another backend/);

  // No drone for the cluster or pool: 503 saying which drone to start.
  for (
    const [config, message] of [
      [{ ...spawn, cluster: "nowhere.example:1" }, /--cluster "nowhere\.example:1"/],
      [{ ...spawn, pool: "gpu" }, /--pool "gpu"/],
    ] as const
  ) {
    const response = await post("/ctrl/connect", JSON.stringify({ "spawn_config": config }));
    assert.equal(response.status, 503);
    const error = await apiError(response);
    assert.equal(error.kind, "NoDroneAvailable");
    assert.match(error.message, message);
  }

  assert.deepEqual(await rows(db), before, "a refused request wrote something");
  // Still serving.
  const again = await c.connect({ key: { name: "first" } });
  assert.equal(again.status, 200);
  assert.equal(again.body.backend_id, "taken-id");
});
