import assert from "node:assert/strict";
import { createTestDatabase } from "./db/test_database.ts";
import { serveControllerMain } from "./testing/served_controller.ts";
import { ApiError } from "../shared/api_error.ts";
import { StatusResponse } from "../shared/api.ts";

Deno.test({
  name: "controller/main.ts serves health and status under deno serve, configured by env",
  async fn() {
    await using database = await createTestDatabase();
    const served = await serveControllerMain({ DATABASE_URL: database.url });
    try {
      const status = await served.request("/ctrl/status");
      assert.equal(status.status, 200);
      StatusResponse.parse(await status.json());
      const { rows } = await database.db.query<{ n: number }>(
        "select count(*)::int as n from controller where is_online",
      );
      assert.equal(rows[0]!.n, 1);
    } finally {
      const exit = await served.stop();
      assert.equal(exit.code, 0, served.stderr());
    }
    // SIGTERM closed the controller: it marked itself offline before exiting.
    const { rows } = await database.db.query<{ n: number }>(
      "select count(*)::int as n from controller where is_online",
    );
    assert.equal(rows[0]!.n, 0);
  },
});

Deno.test("controller/main.ts requires API keys from PLANE_API_KEYS when set", async () => {
  await using database = await createTestDatabase();
  const key = "k".repeat(24);
  await using served = await serveControllerMain({
    DATABASE_URL: database.url,
    PLANE_API_KEYS: `${"x".repeat(20)}, ${key}`,
  });
  const denied = await served.request("/ctrl/status");
  assert.equal(denied.status, 401);
  ApiError.parse(await denied.json());
  const ok = await served.request("/ctrl/status", { headers: { authorization: `Bearer ${key}` } });
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
});

// The full connect through this entry, with a real drone, is tests/deploy_test.ts (the
// controller may not import the drone).
