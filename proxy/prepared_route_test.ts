import assert from "node:assert/strict";
import {
  applyResponseSuffix,
  CORS_DEFAULTS,
  prepareRoute,
  responseSuffix,
  SERVER_HEADER,
} from "./prepared_route.ts";
import type { RouteInfo } from "../shared/protocol.ts";
import type { BackendName } from "../shared/names.ts";

const ROUTE: RouteInfo = {
  "backend_id": "b1" as BackendName,
  address: "[::1]:8080",
  "secret_token": "sec",
  cluster: "Plane.Test:9090",
  user: "ann",
  "user_data": { role: "editor" },
  subdomain: null,
};

Deno.test("prepareRoute() builds the route-only identity fields once, in sending order", () => {
  const p = prepareRoute("tok", ROUTE);
  assert.equal(p.hostname, "::1");
  assert.equal(p.port, 8080);
  assert.equal(p.cluster, "plane.test:9090");
  assert.deepEqual(p.identityBefore, [
    ["x-verified-username", "ann"],
    ["x-verified-user-data", '{"role":"editor"}'],
  ]);
  assert.deepEqual(p.identityAfter, [["x-verified-backend", "b1"], ["x-verified-secret", "sec"]]);
  assert.deepEqual([p.skippedBefore, p.skippedAfter], [[], []]);
  assert.equal(p.hooks, null);
});

Deno.test("prepareRoute() gives a static token no user data, and `{}` for a dynamic one without", () => {
  const route = { ...ROUTE, user: null, "user_data": null };
  assert.deepEqual(prepareRoute("s.abc", route).identityBefore, []);
  assert.deepEqual(prepareRoute("abc", route).identityBefore, [["x-verified-user-data", "{}"]]);
});

Deno.test("prepareRoute() leaves out fields whose value is not a valid header value", () => {
  const p = prepareRoute("tok", { ...ROUTE, user: "a\r\nb", "secret_token": "x\u0000" });
  assert.deepEqual(p.identityBefore, [["x-verified-user-data", '{"role":"editor"}']]);
  assert.deepEqual(p.skippedBefore, ["x-verified-username"]);
  assert.deepEqual(p.identityAfter, [["x-verified-backend", "b1"]]);
  assert.deepEqual(p.skippedAfter, ["x-verified-secret"]);
});

Deno.test("applyResponseSuffix() drops Server and the backend's id, adds CORS only when absent", () => {
  const suffix = responseSuffix("b1");
  const tail = [["Server", SERVER_HEADER], ["x-plane-backend-id", "b1"]];
  assert.deepEqual(
    applyResponseSuffix(
      [["SERVER", "nginx"], ["X-Plane-Backend-Id", "forged"], ["a", "1"]],
      suffix,
    ),
    [["a", "1"], ...CORS_DEFAULTS, ...tail],
  );
  assert.deepEqual(
    applyResponseSuffix([["Access-Control-Allow-Headers", "x"]], suffix),
    [["Access-Control-Allow-Headers", "x"], ...tail],
  );
  // A proxy-made response keeps any x-plane-backend-id (there is no backend to name).
  assert.deepEqual(applyResponseSuffix([["x-plane-backend-id", "b"]], responseSuffix(null)), [
    ["x-plane-backend-id", "b"],
    ...CORS_DEFAULTS,
    ["Server", SERVER_HEADER],
  ]);
  // Same-length names that are not ours pass untouched (the length gate only narrows).
  assert.deepEqual(applyResponseSuffix([["x-served", "1"]], suffix).slice(0, 1), [[
    "x-served",
    "1",
  ]]);
});

Deno.test("prepareRoute().responseHeaders is the route's one function for every response", () => {
  const p = prepareRoute("tok", ROUTE);
  assert.deepEqual(p.responseHeaders(200, []), [
    ...CORS_DEFAULTS,
    ["Server", SERVER_HEADER],
    ["x-plane-backend-id", "b1"],
  ]);
});
