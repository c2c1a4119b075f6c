/**
 * `createProxy().decide` against a fake controller, without sockets to clients: the routing
 * behaviour of plane-0.5.md §7.2–§7.5 and decisions.md §2.10, §2.4: bounded waits, revocation,
 * reconnects. (`proxy_test.ts` runs the same rows end to end through the engine.)
 */
import assert from "node:assert/strict";
import { createProxy, type Proxy } from "./mod.ts";
import {
  type FakeController,
  keepAlives,
  routeRequests,
  startFakeController,
} from "./testing/fake_controller.ts";
import { waitFor } from "../testing/wait_for.ts";
import type { ConnectionInfo, Decision, ForwardDecision, RequestHead } from "./engine/types.ts";
import { SERVER_HEADER } from "./request.ts";
import { createLogger } from "../shared/log.ts";
import type { RouteInfo } from "../shared/protocol.ts";
import type { BackendName } from "../shared/names.ts";

const log = createLogger("proxy", { level: "error" });
const CONN: ConnectionInfo = { remoteAddress: "127.0.0.1", tls: false };

function route(backend: string, secret = "secret"): RouteInfo {
  return {
    "backend_id": backend as BackendName,
    address: "127.0.0.1:4321",
    "secret_token": secret,
    cluster: "plane.test",
    user: null,
    "user_data": null,
    subdomain: null,
  };
}

function get(target: string): RequestHead {
  return { method: "GET", target, version: "1.1", headers: [["Host", "plane.test"]] };
}

function status(decision: Decision): number | "forward" {
  return decision.kind === "respond" ? decision.status : "forward";
}

async function withProxy(
  fn: (proxy: Proxy, fake: FakeController) => Promise<void>,
  options: { routeWaitMs?: number; connect?: boolean } = {},
) {
  await using fake = startFakeController();
  const proxy = createProxy({
    cluster: "plane.test",
    controllerUrl: fake.url,
    routeWaitMs: options.routeWaitMs,
    backoffInitialMs: 10,
    backoffMaxMs: 50,
    log,
  });
  try {
    if (options.connect !== false) await waitFor(() => proxy.ready(), { message: "proxy ready" });
    await fn(proxy, fake);
  } finally {
    await proxy.close();
  }
}

Deno.test("decide() answers /ready 503 until connected, then 200 (proxy_ready.rs)", async () => {
  await using fake = startFakeController();
  fake.refuse = true;
  const proxy = createProxy({
    cluster: "plane.test",
    controllerUrl: fake.url,
    backoffInitialMs: 10,
    log,
  });
  try {
    assert.equal(status(await proxy.decide(get("/ready"), CONN)), 503);
    // Before any connection a token cannot be looked up: 410 without asking (plane-0.5.md §7.3).
    assert.equal(status(await proxy.decide(get("/abc/"), CONN)), 410);
    fake.refuse = false;
    await waitFor(() => proxy.ready(), { message: "proxy ready" });
    assert.equal(status(await proxy.decide(get("/ready"), CONN)), 200);
    fake.dropConnections();
    await waitFor(() => !proxy.ready(), { message: "proxy not ready" });
    fake.refuse = true;
    assert.equal(status(await proxy.decide(get("/ready"), CONN)), 503);
    assert.deepEqual(routeRequests(fake.received), []);
  } finally {
    await proxy.close();
  }
});

Deno.test("decide() answers / with 400 and asks no route (proxy_root_no_redirect)", async () => {
  await withProxy(async (proxy, fake) => {
    assert.equal(status(await proxy.decide(get("/"), CONN)), 400);
    assert.equal(status(await proxy.decide(get("/ready"), CONN)), 200);
    assert.deepEqual(fake.received, []);
  });
});

Deno.test("decide() asks for an unknown token once, answers 410 and caches it (proxy_bad_bearer_token)", async () => {
  await withProxy(async (proxy, fake) => {
    assert.equal(status(await proxy.decide(get("/abc123/"), CONN)), 410);
    assert.equal(status(await proxy.decide(get("/abc123/x"), CONN)), 410);
    assert.deepEqual(routeRequests(fake.received), ["abc123"]);
  });
});

Deno.test("decide() serves a cached token with no second round trip (targets.md §3)", async () => {
  await withProxy(async (proxy, fake) => {
    fake.routes.set("tok", route("b1"));
    assert.equal(status(await proxy.decide(get("/tok/"), CONN)), "forward");
    const cached = proxy.decide(get("/tok/a"), CONN);
    assert.ok(!(cached instanceof Promise), "a cached route is decided synchronously");
    assert.equal(status(cached), "forward");
    assert.deepEqual(routeRequests(fake.received), ["tok"]);
  });
});

Deno.test("decide() holds a pending route until the controller answers", async () => {
  await withProxy(async (proxy, fake) => {
    fake.routes.set("tok", "pending");
    const first = proxy.decide(get("/tok/"), CONN);
    const second = proxy.decide(get("/tok/b"), CONN);
    await fake.next((m) => "RouteInfoRequest" in m);
    fake.send({ RouteInfoResponse: { token: "tok", "route_info": route("b1") } });
    assert.equal(status(await first), "forward");
    assert.equal(status(await second), "forward");
    assert.deepEqual(routeRequests(fake.received), ["tok"], "one request for both waits");
  });
});

Deno.test("decide() answers 504 when a route stays pending past the wait limit", async () => {
  await withProxy(async (proxy, fake) => {
    fake.routes.set("tok", "pending");
    const decision = await proxy.decide(get("/tok/"), CONN);
    assert.equal(status(decision), 504);
    assert.equal(proxy.routes.pendingTokens().length, 0);
    assert.deepEqual(routeRequests(fake.received), ["tok"]);
  }, { routeWaitMs: 50 });
});

Deno.test("decide() re-asks pending tokens after a reconnect (decisions.md §2.10)", async () => {
  await withProxy(async (proxy, fake) => {
    fake.routes.set("tok", "pending");
    const waiting = proxy.decide(get("/tok/"), CONN);
    await fake.next((m) => "RouteInfoRequest" in m);
    fake.routes.set("tok", route("b1"));
    fake.dropConnections();
    assert.equal(status(await waiting), "forward");
    assert.deepEqual(routeRequests(fake.received), ["tok", "tok"]);
    assert.equal(fake.peers.length, 2);
  });
});

Deno.test("decide() answers 410 after TokenRevoked and after BackendRemoved", async () => {
  await withProxy(async (proxy, fake) => {
    fake.routes.set("t1", route("b1"));
    fake.routes.set("t2", route("b2"));
    fake.routes.set("t3", route("b2"));
    for (const t of ["t1", "t2", "t3"]) {
      assert.equal(status(await proxy.decide(get(`/${t}/`), CONN)), "forward");
    }
    fake.send({ TokenRevoked: { token: "t1" } });
    fake.send({ BackendRemoved: { backend: "b2" as BackendName } });
    await waitFor(() => proxy.routes.peek("t3") === null, { message: "b2 removed" });
    assert.equal(proxy.routes.peek("t1"), null);
    for (const t of ["t1", "t2", "t3"]) {
      assert.equal(status(await proxy.decide(get(`/${t}/`), CONN)), 410);
    }
  });
});

Deno.test("decide() does a cached route's own work once, not per request (issue 13)", async () => {
  await withProxy(async (proxy, fake) => {
    fake.routes.set("tok", { ...route("b1"), user: "ann", "user_data": { role: "editor" } });
    const decide = async (target: string) => {
      const d = await proxy.decide(get(target), CONN);
      assert.equal(d.kind, "forward");
      return d as ForwardDecision;
    };
    const first = await decide("/tok/a");
    const second = await decide("/tok/b?x=1");
    // Identity: right for each request (the path differs), the rest built when cached.
    const verified = (d: ForwardDecision) =>
      d.head.headers.filter(([name]) => name.startsWith("x-verified-"));
    assert.deepEqual(verified(second), [
      ["x-verified-username", "ann"],
      ["x-verified-user-data", '{"role":"editor"}'],
      ["x-verified-path", "/tok/b"],
      ["x-verified-backend", "b1"],
      ["x-verified-secret", "secret"],
    ]);
    assert.equal(verified(first)[2]![1], "/tok/a");
    const userData = (d: ForwardDecision) =>
      d.head.headers.find(([name]) => name === "x-verified-user-data");
    assert.equal(userData(first), userData(second), "user_data's JSON is made once per route");
    // No closures per request: the hooks belong to the cached route.
    assert.equal(first.responseHeaders, second.responseHeaders);
    assert.equal(first.onResponse, second.onResponse);
    assert.equal(first.onUpgrade, second.onUpgrade);
    assert.deepEqual(first.responseHeaders!(200, [["Server", "x"], ["a", "1"]]), [
      ["a", "1"],
      ["Access-Control-Allow-Origin", "*"],
      ["Access-Control-Allow-Methods", "*"],
      ["Access-Control-Allow-Headers", "*, Authorization"],
      ["Server", SERVER_HEADER],
      ["x-plane-backend-id", "b1"],
    ]);
  });
});

Deno.test("decide() hooks the connection monitor: keepalives for requests and upgrades", async () => {
  await withProxy(async (proxy, fake) => {
    fake.routes.set("tok", route("b1"));
    const decision = await proxy.decide(get("/tok/"), CONN);
    assert.equal(decision.kind, "forward");
    if (decision.kind !== "forward") return;
    decision.onResponse?.(200);
    assert.deepEqual(proxy.monitor.entry("b1"), {
      activeConnections: 0,
      hadRecentConnection: true,
    });
    await fake.next((m) => "KeepAlive" in m);
    const close = decision.onUpgrade!();
    assert.equal(proxy.monitor.entry("b1")?.activeConnections, 1);
    close();
    assert.deepEqual(proxy.monitor.entry("b1"), {
      activeConnections: 0,
      hadRecentConnection: true,
    });
    assert.deepEqual(keepAlives(fake.received), ["b1"]);
    // BackendRemoved also drops the backend from the monitor (plane-0.5.md §7.3).
    fake.send({ BackendRemoved: { backend: "b1" as BackendName } });
    await waitFor(() => proxy.monitor.entry("b1") === undefined, { message: "b1 forgotten" });
  });
});
