import assert from "node:assert/strict";
import { startTestController } from "./testing/test_controller.ts";

Deno.test("createController() registers itself online and goes offline on close", async () => {
  await using t = await startTestController();
  const online = await t.db.query<{ id: string }>("select id from controller where is_online");
  assert.deepEqual(online.rows.map((r) => r.id), [t.controller.name]);
  assert.match(t.controller.name, /^co-[a-z0-9]{14}$/);
  await t.controller.close();
  const after = await t.db.query("select id from controller where is_online");
  assert.equal(after.rowCount, 0);
});

Deno.test("GET /ctrl/status and /pub/health answer ok after a database round trip", async () => {
  await using t = await startTestController();
  const status = await t.request("/ctrl/status");
  assert.equal(status.status, 200);
  assert.deepEqual(Object.keys(await status.json()).sort(), ["hash", "status", "version"]);
  const health = await t.request("/pub/health");
  assert.equal(health.status, 200);
  assert.equal(health.headers.get("access-control-allow-origin"), "*");
  assert.deepEqual(await health.json(), { status: "ok" });
});

Deno.test("unknown routes answer 404 and wrong methods 405, both as ApiError", async () => {
  await using t = await startTestController();
  const missing = await t.request("/nope");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).kind, "NotFound");
  const wrong = await t.request("/ctrl/connect");
  assert.equal(wrong.status, 405);
  const body = await wrong.json();
  assert.equal(body.kind, "MethodNotAllowed");
  assert.match(body.id, /^[a-z0-9]{14}$/);
});

Deno.test("API keys: /ctrl/* needs a valid bearer key, /pub/* does not", async () => {
  await using t = await startTestController({ apiKeys: ["k".repeat(32)] });
  assert.equal((await t.request("/ctrl/status")).status, 401);
  const wrong = await t.request("/ctrl/status", { headers: { authorization: "Bearer nope" } });
  assert.equal(wrong.status, 401);
  assert.equal((await wrong.json()).kind, "Unauthorized");
  const ok = await t.request("/ctrl/status", {
    headers: { authorization: `Bearer ${"k".repeat(32)}` },
  });
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  const pub = await t.request("/pub/health");
  assert.equal(pub.status, 200);
  await pub.body?.cancel();
});
