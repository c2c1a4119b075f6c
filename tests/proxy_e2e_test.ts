/**
 * The proxy on real parts (plane-0.5.md §1.6 step 4): Postgres, a controller, a drone with
 * the local-process echo backend, and our proxy (`createProxy` + `serveProxy` + the engine).
 * A connect URL is fetched through the proxy while the backend is still starting, a
 * WebSocket is relayed, and the proxy's keepalives hold off the idle sweeper while traffic
 * flows (plane-0.5.md §7.5), until the traffic stops.
 */
import assert from "node:assert/strict";
import { startTestController } from "../controller/testing/test_controller.ts";
import { waitFor } from "../testing/wait_for.ts";
import { collectStatuses, startTestDrone, waitForSchedulable } from "./env.ts";
import { createProxy } from "../proxy/mod.ts";
import { serveProxy } from "../proxy/serve.ts";
import { openRawWebSocket, request } from "../proxy/testing/http_client.ts";
import { createLogger, type LogLevel } from "../shared/log.ts";

const CLUSTER = "localhost:9090";
const level = (Deno.env.get("PLANE_TEST_LOG") as LogLevel | undefined) ?? "error";
const log = createLogger("proxy", { level });

async function connect(url: string, body: unknown) {
  const response = await fetch(`${url}/ctrl/connect`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const result = await response.json();
  assert.equal(response.status, 200, JSON.stringify(result));
  return result;
}

Deno.test("proxy e2e: a connect URL reaches the echo backend with x-verified-* headers, WebSockets relay, keepalives hold off the sweeper", async () => {
  await using t = await startTestController({ defaultCluster: CLUSTER });
  await using d = await startTestDrone({ controllerUrl: t.url, cluster: CLUSTER });
  await waitForSchedulable(t.db, d.drone.name);
  const proxy = createProxy({
    cluster: CLUSTER,
    controllerUrl: t.url,
    backoffInitialMs: 20,
    // Faster than the backend's 2 s idle limit, so traffic visibly keeps it alive.
    keepAliveIntervalMs: 300,
    log,
  });
  const server = await serveProxy(proxy, { hostname: "127.0.0.1", httpPort: 0, log });
  try {
    await waitFor(() => proxy.ready(), { message: "proxy connected to the controller" });
    assert.equal((await request(server.httpPort, "/ready")).status, 200);

    const connected = await connect(t.url, {
      key: { name: "proxy-e2e" },
      "spawn_config": { executable: { image: "echo" }, "max_idle_seconds": 2 },
      user: "alice",
      auth: { role: "editor", team: "a" },
    });
    const url = new URL(connected.url);
    assert.equal(url.host, CLUSTER);
    const token = url.pathname.split("/")[1]!;

    // Sent at once: the backend is still starting, so the proxy holds the request (plane-0.5.md
    // §7.3).
    const res = await request(server.httpPort, `${url.pathname}hello?x=1`, [["Host", url.host]]);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers.get("x-plane-backend-id"), connected.backend_id);
    const seen = JSON.parse(res.body);
    assert.equal(seen.path, "/hello?x=1");
    assert.equal(seen.env.SESSION_BACKEND_ID, connected.backend_id);
    assert.equal(seen.headers.host, CLUSTER);
    assert.equal(seen.headers["x-verified-username"], "alice");
    assert.equal(seen.headers["x-verified-user-data"], '{"role":"editor","team":"a"}');
    assert.equal(seen.headers["x-verified-backend"], connected.backend_id);
    assert.equal(seen.headers["x-verified-secret"], connected.secret_token);
    assert.equal(seen.headers["x-verified-path"], `/${token}/hello`);
    assert.equal(seen.headers["x-forwarded-for"], "127.0.0.1");
    assert.equal(seen.headers["x-forwarded-proto"], "http");

    // A WebSocket through the proxy, held open across several idle limits.
    const ws = await openRawWebSocket(server.httpPort, `${url.pathname}ws`, url.host);
    try {
      assert.equal(ws.response.status, 101);
      await ws.send("hello");
      assert.equal(await ws.receive(), "hello");
      assert.equal(proxy.monitor.entry(connected.backend_id)?.activeConnections, 1);
      // Watch the controller record keepalives until more than twice the idle limit passed.
      const started = Date.now();
      const stamps = new Set<number>();
      await waitFor(async () => {
        const { rows } = await t.db.query<{ ms: number; status: string }>(
          `select (extract(epoch from last_keepalive) * 1000)::float8 as ms, last_status as status
           from backend where id = $1`,
          [connected.backend_id],
        );
        assert.equal(rows[0]?.status, "ready", "swept while traffic flowed");
        stamps.add(rows[0]!.ms);
        return Date.now() - started > 4_500 && stamps.size >= 5;
      }, { timeoutMs: 20_000, intervalMs: 100, message: "keepalives across two idle limits" });
      await ws.send("still here");
      assert.equal(await ws.receive(), "still here");
    } finally {
      ws.close();
    }
    await waitFor(() => proxy.monitor.entry(connected.backend_id)?.activeConnections === 0, {
      message: "WebSocket closed",
    });

    // Traffic stopped: keepalives stop after one quiet revisit, and the sweeper takes it.
    const rest = await collectStatuses(t.url, connected.backend_id, "terminated");
    assert.equal(rest.at(-1)?.termination_reason, "swept");
    // The controller told the proxy (BackendRemoved): the token now answers 410.
    await waitFor(() => proxy.routes.peek(token) === null, { message: "route removed" });
    const gone = await request(server.httpPort, `${url.pathname}`, [["Host", url.host]]);
    assert.equal(gone.status, 410);
  } finally {
    await server.close({ graceMs: 1_000 });
    await proxy.close();
  }
});
