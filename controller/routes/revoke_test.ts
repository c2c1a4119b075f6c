import assert from "node:assert/strict";
import { startTestController, type TestController } from "../testing/test_controller.ts";
import { connectFakePeer, type FakePeer, isVariant } from "../testing/fake_peer.ts";
import { seedBackend, seedDrone, seedToken } from "../testing/seed.ts";
import { updateBackendState } from "../db/backend_state.ts";
import type { MessageFromProxy, MessageToProxy } from "../../shared/protocol.ts";
import { randomProxyName } from "../../shared/names.ts";
import { randomToken } from "../../shared/tokens.ts";

const CLUSTER = "plane.test";
type RouteInfoResponse = Extract<MessageToProxy, { RouteInfoResponse: unknown }>;

function connectProxy(t: TestController, cluster = CLUSTER) {
  return connectFakePeer<MessageFromProxy>({
    controllerUrl: t.url,
    path: `/ctrl/c/${cluster}/proxy-socket`,
    name: randomProxyName(),
  });
}

async function routeInfo(proxy: FakePeer<MessageFromProxy>, token: string) {
  const answer = proxy.next<RouteInfoResponse>((m) =>
    isVariant("RouteInfoResponse")(m) && (m as RouteInfoResponse).RouteInfoResponse.token === token
  );
  proxy.send({ RouteInfoRequest: { token } });
  return (await answer).RouteInfoResponse.route_info;
}

async function readyBackend(t: TestController, cluster = CLUSTER) {
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster });
  const backend = await seedBackend(t.db, { droneId: drone.id, cluster });
  await updateBackendState(t.db, backend, { status: "ready", address: "127.0.0.1:4000" });
  return backend;
}

function revoke(t: TestController, path: string, body: unknown) {
  return t.request(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

Deno.test("revoke tells proxies on another controller instance to drop the user's tokens", async () => {
  await using t = await startTestController();
  await using t2 = await t.another();
  const backend = await readyBackend(t);
  const [mine, theirs] = [randomToken(), randomToken()];
  await seedToken(t.db, { backendId: backend, token: mine, user: "alice" });
  await seedToken(t.db, { backendId: backend, token: theirs, user: "bob" });
  await using proxy = await connectProxy(t2);
  assert.equal((await routeInfo(proxy, mine))?.backend_id, backend);

  const revoked = proxy.next(isVariant("TokenRevoked"));
  const res = await revoke(t, "/ctrl/b/revoke", { "backend_id": backend, user: "alice" });
  assert.equal(res.status, 200);
  assert.equal(await res.json(), "Token revoked successfully");
  assert.deepEqual(await revoked, { TokenRevoked: { token: mine } });
  assert.equal(await routeInfo(proxy, mine), null);
  // Another user's token is untouched.
  assert.equal((await routeInfo(proxy, theirs))?.user, "bob");
  assert.equal(proxy.received.filter(isVariant("TokenRevoked")).length, 1);
});

Deno.test("revoke is also accepted at /ctrl/revoke (Plane's client path)", async () => {
  await using t = await startTestController();
  const backend = await readyBackend(t);
  const token = randomToken();
  await seedToken(t.db, { backendId: backend, token, user: "alice" });
  await using proxy = await connectProxy(t);
  const revoked = proxy.next(isVariant("TokenRevoked"));
  const res = await revoke(t, "/ctrl/revoke", { "backend_id": backend, user: "alice" });
  assert.equal(res.status, 200);
  assert.equal(await res.json(), "Token revoked successfully");
  assert.deepEqual(await revoked, { TokenRevoked: { token } });
  assert.equal(await routeInfo(proxy, token), null);
});

Deno.test("revoke reaches only proxies of the backend's cluster", async () => {
  await using t = await startTestController();
  const backend = await readyBackend(t);
  const token = randomToken();
  await seedToken(t.db, { backendId: backend, token, user: "alice" });
  await using mine = await connectProxy(t);
  await using other = await connectProxy(t, "other.test");
  await routeInfo(other, "ping"); // the other proxy's subscriptions are in place
  const revoked = mine.next(isVariant("TokenRevoked"));
  await revoke(t, "/ctrl/b/revoke", { "backend_id": backend, user: "alice" });
  await revoked;
  await routeInfo(other, "ping"); // flushes anything sent to it before
  assert.equal(other.received.filter(isVariant("TokenRevoked")).length, 0);
});

Deno.test("revoke answers 200 when nothing matches and 400 for an invalid body", async () => {
  await using t = await startTestController();
  const ok = await revoke(t, "/ctrl/b/revoke", { "backend_id": "nosuchbackend", user: "x" });
  assert.equal(ok.status, 200);
  assert.equal(await ok.json(), "Token revoked successfully");
  const bad = await revoke(t, "/ctrl/b/revoke", { user: "x" });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).kind, "InvalidRequest");
});
