import assert from "node:assert/strict";
import { startTestController, type TestController } from "./testing/test_controller.ts";
import { waitFor } from "../testing/wait_for.ts";
import { connectFakePeer, type FakePeer, isVariant } from "./testing/fake_peer.ts";
import { seedBackend, seedDrone, seedToken } from "./testing/seed.ts";
import { updateBackendState } from "./db/backend_state.ts";
import type { MessageFromProxy, MessageToProxy, RouteInfo } from "../shared/protocol.ts";
import { randomProxyName, randomSuffix } from "../shared/names.ts";
import { randomStaticToken, randomToken } from "../shared/tokens.ts";
import type { BackendState } from "../shared/backend_state.ts";

const CLUSTER = "plane.test";
const OTHER_CLUSTER = "other.test";
const ADDRESS = "127.0.0.1:4321";

type Proxy = FakePeer<MessageFromProxy>;
type RouteInfoResponse = Extract<MessageToProxy, { RouteInfoResponse: unknown }>;

function connectProxy(t: TestController, cluster = CLUSTER, query = ""): Promise<Proxy> {
  return connectFakePeer<MessageFromProxy>({
    controllerUrl: t.url,
    path: `/ctrl/c/${cluster}/proxy-socket${query}`,
    name: randomProxyName(),
  });
}

function isRouteResponseFor(token: string) {
  return (m: unknown) =>
    isVariant("RouteInfoResponse")(m) && (m as RouteInfoResponse).RouteInfoResponse.token === token;
}

/** Asks for a token's route and waits for the answer. */
async function routeInfo(proxy: Proxy, token: string): Promise<RouteInfo | null> {
  const answer = proxy.next<RouteInfoResponse>(isRouteResponseFor(token));
  proxy.send({ RouteInfoRequest: { token } });
  return (await answer).RouteInfoResponse.route_info;
}

/**
 * A round trip through the socket: the controller handles one peer's messages in order, so once
 * this answers, everything sent before it has been handled and everything the controller sent
 * before it has arrived.
 */
async function roundTrip(proxy: Proxy): Promise<void> {
  assert.equal(await routeInfo(proxy, `ping-${randomSuffix()}`), null);
}

async function seedCluster(t: TestController, cluster = CLUSTER) {
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster });
  return { drone, backend: await seedBackend(t.db, { droneId: drone.id, cluster }) };
}

const READY: BackendState = { status: "ready", address: ADDRESS };
function terminated(): BackendState {
  return {
    status: "terminated",
    "last_status": "ready",
    termination: "soft",
    reason: "external",
    "exit_code": 0,
  };
}

Deno.test("proxy socket refuses an invalid cluster name with 400 InvalidClusterName", async () => {
  await using t = await startTestController();
  const res = await t.request("/ctrl/c/not_a_host!/proxy-socket");
  assert.equal(res.status, 400);
  assert.equal((await res.json()).kind, "InvalidClusterName");
});

Deno.test("RouteInfoRequest answers null for an unknown token", async () => {
  await using t = await startTestController();
  await using proxy = await connectProxy(t);
  assert.equal(await routeInfo(proxy, randomToken()), null);
});

Deno.test("RouteInfoRequest answers the full route for a ready backend", async () => {
  await using t = await startTestController();
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const backend = await seedBackend(t.db, {
    droneId: drone.id,
    cluster: CLUSTER,
    subdomain: "sub",
  });
  await updateBackendState(t.db, backend, READY);
  const token = randomToken();
  await seedToken(t.db, {
    backendId: backend,
    token,
    user: "alice",
    auth: { role: "admin" },
    secret: "s3cret",
  });
  await using proxy = await connectProxy(t);
  assert.deepEqual(await routeInfo(proxy, token), {
    "backend_id": backend,
    address: ADDRESS,
    "secret_token": "s3cret",
    cluster: CLUSTER,
    user: "alice",
    "user_data": { role: "admin" },
    subdomain: "sub",
  });
});

Deno.test("RouteInfoRequest resolves static tokens without secret or user", async () => {
  await using t = await startTestController();
  const drone = await seedDrone(t.db, { controller: t.controller.name, cluster: CLUSTER });
  const token = randomStaticToken();
  const backend = await seedBackend(t.db, {
    droneId: drone.id,
    cluster: CLUSTER,
    staticToken: token,
  });
  await updateBackendState(t.db, backend, READY);
  await using proxy = await connectProxy(t);
  assert.deepEqual(await routeInfo(proxy, token), {
    "backend_id": backend,
    address: ADDRESS,
    "secret_token": "",
    cluster: CLUSTER,
    user: null,
    "user_data": null,
    subdomain: null,
  });
});

Deno.test("RouteInfoRequest refuses an expired token", async () => {
  await using t = await startTestController();
  const { backend } = await seedCluster(t);
  await updateBackendState(t.db, backend, READY);
  const token = randomToken();
  await seedToken(t.db, { backendId: backend, token, user: "bob", expiresInSeconds: -1 });
  await using proxy = await connectProxy(t);
  assert.equal(await routeInfo(proxy, token), null);
});

Deno.test("RouteInfoRequest answers null for a terminating backend", async () => {
  await using t = await startTestController();
  const { backend } = await seedCluster(t);
  await updateBackendState(t.db, backend, READY);
  await updateBackendState(t.db, backend, {
    status: "terminating",
    "last_status": "ready",
    termination: "soft",
    reason: "external",
  });
  const token = randomToken();
  await seedToken(t.db, { backendId: backend, token });
  await using proxy = await connectProxy(t);
  assert.equal(await routeInfo(proxy, token), null);
});

Deno.test("RouteInfoRequest for a pending backend is answered once it becomes ready", async () => {
  await using t = await startTestController();
  const { backend } = await seedCluster(t);
  await updateBackendState(t.db, backend, { status: "loading" });
  const token = randomToken();
  await seedToken(t.db, { backendId: backend, token, user: "carol" });
  await using proxy = await connectProxy(t);
  const answer = proxy.next<RouteInfoResponse>(isRouteResponseFor(token));
  proxy.send({ RouteInfoRequest: { token } });
  await roundTrip(proxy); // the wait is installed now
  await updateBackendState(t.db, backend, { status: "waiting", address: ADDRESS });
  await roundTrip(proxy);
  assert.equal(proxy.received.filter(isRouteResponseFor(token)).length, 0, "answered too early");
  await updateBackendState(t.db, backend, READY);
  const info = (await answer).RouteInfoResponse.route_info;
  assert.equal(info?.address, ADDRESS);
  assert.equal(info?.user, "carol");
  assert.equal(info?.backend_id, backend);
});

Deno.test("RouteInfoRequest for a pending backend answers null when it terminates", async () => {
  await using t = await startTestController();
  const { backend } = await seedCluster(t);
  const token = randomToken();
  await seedToken(t.db, { backendId: backend, token });
  await using proxy = await connectProxy(t);
  const answer = proxy.next<RouteInfoResponse>(isRouteResponseFor(token));
  proxy.send({ RouteInfoRequest: { token } });
  await roundTrip(proxy);
  await updateBackendState(t.db, backend, {
    status: "terminated",
    "last_status": "scheduled",
    termination: null,
    reason: "lost",
    "exit_code": null,
  });
  assert.equal((await answer).RouteInfoResponse.route_info, null);
});

Deno.test("RouteInfoRequest for a pending backend gives up silently after routeWaitMs", async () => {
  await using t = await startTestController({ routeWaitMs: 100 });
  const { backend } = await seedCluster(t);
  const token = randomToken();
  await seedToken(t.db, { backendId: backend, token });
  await using proxy = await connectProxy(t);
  const sentAt = Date.now();
  proxy.send({ RouteInfoRequest: { token } });
  await roundTrip(proxy);
  // The behaviour under test is a timeout, so real time has to pass here.
  await waitFor(() => Date.now() - sentAt > 300, { message: "the route wait to expire" });
  // A live wait would answer null on this event before the same delivery's BackendRemoved.
  const removed = proxy.next(isVariant("BackendRemoved"));
  await updateBackendState(t.db, backend, terminated());
  await removed;
  assert.equal(proxy.received.filter(isRouteResponseFor(token)).length, 0);
});

Deno.test("a proxy closing with pending route waits leaves nothing running", async () => {
  await using t = await startTestController();
  const { backend } = await seedCluster(t);
  const token = randomToken();
  await seedToken(t.db, { backendId: backend, token });
  const proxy = await connectProxy(t);
  proxy.send({ RouteInfoRequest: { token } });
  await roundTrip(proxy);
  await proxy.close();
  // --trace-leaks fails this test if the 30-minute wait timer or its subscription survive.
  await waitFor(async () => {
    const { rows } = await t.db.query<{ controller: string | null }>(
      "select controller from node where name = $1",
      [proxy.name],
    );
    return rows[0]?.controller === null;
  });
});

Deno.test("KeepAlive advances last_keepalive", async () => {
  await using t = await startTestController();
  const { backend } = await seedCluster(t);
  await t.db.query(
    "update backend set last_keepalive = now() - interval '1 hour' where id = $1",
    [backend],
  );
  await using proxy = await connectProxy(t);
  proxy.send({ KeepAlive: backend });
  await roundTrip(proxy);
  const { rows } = await t.db.query<{ fresh: boolean }>(
    "select last_keepalive > now() - interval '1 minute' as fresh from backend where id = $1",
    [backend],
  );
  assert.equal(rows[0]?.fresh, true);
  assert.equal(proxy.received.filter(isVariant("BackendRemoved")).length, 0);
});

Deno.test("KeepAlive for a terminated backend answers BackendRemoved", async () => {
  await using t = await startTestController();
  const { backend } = await seedCluster(t);
  await updateBackendState(t.db, backend, terminated());
  await using proxy = await connectProxy(t);
  const removed = proxy.next(isVariant("BackendRemoved"));
  proxy.send({ KeepAlive: backend });
  assert.deepEqual(await removed, { BackendRemoved: { backend } });
});

Deno.test("a terminated backend is announced only to proxies of its cluster", async () => {
  await using t = await startTestController();
  const { backend } = await seedCluster(t);
  await using mine = await connectProxy(t, CLUSTER);
  await using other = await connectProxy(t, OTHER_CLUSTER);
  await roundTrip(mine);
  await roundTrip(other);
  const removed = mine.next(isVariant("BackendRemoved"));
  await updateBackendState(t.db, backend, READY);
  await updateBackendState(t.db, backend, terminated());
  assert.deepEqual(await removed, { BackendRemoved: { backend } });
  // Both sockets' handlers ran for that event; the other proxy's round trip flushes its socket.
  await roundTrip(other);
  assert.equal(other.received.filter(isVariant("BackendRemoved")).length, 0);
});

Deno.test("a terminating backend is announced as BackendRemoved, so proxies stop routing new requests during its grace (issue 10)", async () => {
  await using t = await startTestController();
  const { backend } = await seedCluster(t);
  await updateBackendState(t.db, backend, READY);
  await using proxy = await connectProxy(t);
  await roundTrip(proxy);
  const removed = proxy.next(isVariant("BackendRemoved"));
  await updateBackendState(t.db, backend, {
    status: "terminating",
    "last_status": "ready",
    termination: "soft",
    reason: "external",
  });
  assert.deepEqual(await removed, { BackendRemoved: { backend } });
});

Deno.test("RouteInfoRequest answers null for _plane_backend=<id> on a socket that did not declare path routing (issue 10)", async () => {
  await using t = await startTestController({ allowPathRouting: true });
  const { backend } = await seedCluster(t);
  await updateBackendState(t.db, backend, READY);
  await using proxy = await connectProxy(t);
  assert.equal(await routeInfo(proxy, `_plane_backend=${backend}`), null);
  // Nor is the bare id a token.
  assert.equal(await routeInfo(proxy, backend), null);
});

Deno.test("a proxy socket declaring path routing is refused with 403 unless the controller allows it (issue 10)", async () => {
  await using t = await startTestController();
  const refused = await t.request(`/ctrl/c/${CLUSTER}/proxy-socket?path_routing=true`);
  assert.equal(refused.status, 403);
  const body = await refused.json();
  assert.equal(body.kind, "Forbidden");
  assert.match(body.message, /--allow-path-routing/);
  const invalid = await t.request(`/ctrl/c/${CLUSTER}/proxy-socket?path_routing=yes`);
  assert.equal(invalid.status, 400);
  assert.equal((await invalid.json()).kind, "InvalidRequest");
  await assert.rejects(connectProxy(t, CLUSTER, "?path_routing=true"));
});

Deno.test("a declared path-routing proxy resolves _plane_backend=<id> only within its cluster, with no secret or user", async () => {
  await using t = await startTestController({ allowPathRouting: true });
  const { backend } = await seedCluster(t);
  const { backend: foreign } = await seedCluster(t, OTHER_CLUSTER);
  await updateBackendState(t.db, backend, READY);
  await updateBackendState(t.db, foreign, READY);
  await using proxy = await connectProxy(t, CLUSTER, "?path_routing=true");
  assert.deepEqual(await routeInfo(proxy, `_plane_backend=${backend}`), {
    "backend_id": backend,
    address: ADDRESS,
    "secret_token": "",
    cluster: CLUSTER,
    user: null,
    "user_data": null,
    subdomain: null,
  });
  assert.equal(await routeInfo(proxy, `_plane_backend=${foreign}`), null);
});

Deno.test("cert lease: accepted, refused to a second proxy, free again after release", async () => {
  await using t = await startTestController();
  await using first = await connectProxy(t);
  await using second = await connectProxy(t);
  const isLease = isVariant("CertManagerResponse");
  async function ask(proxy: Proxy, request: MessageFromProxy) {
    const answer = proxy.next<{ CertManagerResponse: unknown }>(isLease);
    proxy.send(request);
    return (await answer).CertManagerResponse;
  }
  const lease: MessageFromProxy = { CertManagerRequest: "CertLeaseRequest" };
  const setTxt: MessageFromProxy = { CertManagerRequest: { SetTxtRecord: { "txt_value": "abc" } } };
  assert.deepEqual(await ask(first, lease), { CertLeaseResponse: { accepted: true } });
  assert.deepEqual(await ask(second, lease), { CertLeaseResponse: { accepted: false } });
  // Plane refuses the holder too within the minute (plane-0.5.md §10.3).
  assert.deepEqual(await ask(first, lease), { CertLeaseResponse: { accepted: false } });
  assert.deepEqual(await ask(second, setTxt), { SetTxtRecordResponse: { accepted: false } });
  assert.deepEqual(await ask(first, setTxt), { SetTxtRecordResponse: { accepted: true } });
  const { rows } = await t.db.query<{ txt: string }>(
    "select txt_value as txt from acme_txt_entries where cluster = $1",
    [CLUSTER],
  );
  assert.equal(rows[0]?.txt, "abc");
  second.send({ CertManagerRequest: "ReleaseCertLease" }); // not the holder: no effect
  await roundTrip(second);
  assert.deepEqual(await ask(second, lease), { CertLeaseResponse: { accepted: false } });
  first.send({ CertManagerRequest: "ReleaseCertLease" });
  await roundTrip(first);
  assert.deepEqual(await ask(second, lease), { CertLeaseResponse: { accepted: true } });
});

Deno.test("cert lease: a lease older than one minute can be taken over", async () => {
  await using t = await startTestController();
  await using first = await connectProxy(t);
  await using second = await connectProxy(t);
  const accepted = (proxy: Proxy) => {
    const answer = proxy.next<
      { CertManagerResponse: { CertLeaseResponse: { accepted: boolean } } }
    >(
      isVariant("CertManagerResponse"),
    );
    proxy.send({ CertManagerRequest: "CertLeaseRequest" });
    return answer.then((m) => m.CertManagerResponse.CertLeaseResponse.accepted);
  };
  assert.equal(await accepted(first), true);
  await t.db.query(
    "update acme_txt_entries set leased_at = now() - interval '61 seconds' where cluster = $1",
    [CLUSTER],
  );
  assert.equal(await accepted(second), true);
});
