/**
 * The route table's declarations, enforced: every route says who may call it, how its errors
 * look and its CORS (by type), and `createApp` applies them, so no route without credentials
 * answers anything but 401 unless it is declared public.
 */
import assert from "node:assert/strict";
import { edgeOfPath, ROUTE_TABLE } from "./app.ts";
import type { RouteEntry } from "./router.ts";
import { startTestController } from "./testing/test_controller.ts";
import { JAMSOCKET_ROUTES } from "./jamsocket/routes.ts";

const API_KEY = "k".repeat(32);
const SECRET = "s".repeat(32);

/** A concrete path for `pattern`: every parameter filled with a well-formed name. */
function pathOf(pattern: string): string {
  return pattern.replace(/:[a-z]+/g, "x");
}

// Type-checked by `deno test` and `deno task check`: each `@ts-expect-error` fails the check if
// the declaration it marks ever compiles.
Deno.test("RouteEntry cannot be declared without auth, error format or CORS policy", () => {
  const run = () => new Response();
  // @ts-expect-error: a route must say who may call it
  const noAuth: RouteEntry = {
    method: "GET",
    pattern: "/v2/x",
    errors: "jamsocket",
    cors: "jamsocket",
    run,
  };
  // @ts-expect-error: a route must say how its errors look
  const noErrors: RouteEntry = {
    method: "GET",
    pattern: "/v2/x",
    auth: "api",
    cors: "jamsocket",
    run,
  };
  // @ts-expect-error: a route must say which CORS it answers
  const noCors: RouteEntry = {
    method: "GET",
    pattern: "/v2/x",
    auth: "api",
    errors: "jamsocket",
    run,
  };
  const oldAuth: RouteEntry = {
    method: "GET",
    pattern: "/v2/x",
    // @ts-expect-error: "auth" is not an auth; the Jamsocket table once spelled it so
    auth: "auth",
    errors: "jamsocket",
    cors: "jamsocket",
    run,
  };
  assert.ok([noAuth, noErrors, noCors, oldAuth]);
});

Deno.test("ROUTE_TABLE: every Jamsocket route answers Jamsocket's envelope and CORS, every route its path's CORS", () => {
  assert.ok(JAMSOCKET_ROUTES.length > 0);
  for (const route of JAMSOCKET_ROUTES) {
    assert.ok(ROUTE_TABLE.includes(route), route.pattern);
    assert.equal(route.errors, "jamsocket", route.pattern);
    assert.equal(route.cors, "jamsocket", route.pattern);
  }
  // Preflights are answered by the path's family (`edgeOfPath`): a route's own answers agree.
  for (const route of ROUTE_TABLE) {
    const edge = edgeOfPath(pathOf(route.pattern));
    assert.deepEqual({ errors: route.errors, cors: route.cors }, edge, route.pattern);
  }
});

Deno.test("createApp(): every route not declared public answers 401 without credentials, in its own format", async () => {
  await using t = await startTestController({ apiKeys: [API_KEY], clusterSecret: SECRET });
  const guarded = ROUTE_TABLE.filter((r) => r.auth !== "public");
  assert.ok(guarded.some((r) => r.errors === "jamsocket"), "the walk covers Jamsocket routes");
  for (const route of guarded) {
    const label = `${route.method} ${route.pattern}`;
    const url = `http://127.0.0.1${pathOf(route.pattern)}`;
    const credentials = [
      {},
      { authorization: "Bearer wrong" },
      // An API key does not open a socket, nor the cluster secret the API.
      { authorization: `Bearer ${route.auth === "socket" ? API_KEY : SECRET}` },
    ];
    for (const headers of credentials) {
      const response = await t.controller.fetch(
        new Request(url, { method: route.method, headers }),
      );
      assert.equal(response.status, 401, `${label} ${JSON.stringify(headers)}`);
      const body = await response.json();
      if (route.errors === "jamsocket") {
        assert.equal(body.error.code, "Unauthorized", label);
        assert.equal(body.error.status, 401, label);
      } else {
        assert.equal(body.kind, "Unauthorized", label);
      }
      const cors = response.headers.get("access-control-allow-origin");
      assert.equal(cors, route.cors === "none" ? null : "*", label);
    }
  }
});

Deno.test("createApp(): routes declared public answer without credentials", async () => {
  await using t = await startTestController({ apiKeys: [API_KEY], clusterSecret: SECRET });
  const open = ROUTE_TABLE.filter((r) => r.auth === "public");
  assert.ok(open.length > 0);
  for (const route of open) {
    const url = `http://127.0.0.1${pathOf(route.pattern)}`;
    const response = await t.controller.fetch(new Request(url, { method: route.method }));
    await response.body?.cancel();
    assert.notEqual(response.status, 401, `${route.method} ${route.pattern}`);
  }
});

Deno.test("createApp(): /metrics takes the API key unless --metrics-public", async () => {
  await using guarded = await startTestController({ apiKeys: [API_KEY] });
  const refused = await guarded.controller.fetch(new Request("http://127.0.0.1/metrics"));
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  await using open = await startTestController({ apiKeys: [API_KEY], metricsPublic: true });
  const served = await open.controller.fetch(new Request("http://127.0.0.1/metrics"));
  assert.equal(served.status, 200);
  await served.body?.cancel();
});
