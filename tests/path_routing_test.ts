/**
 * Path routing for Jamsocket-style local development (jamsocket-api.md §10.2): the real proxy,
 * controller and drone; `/_plane_backend=<id>/…` reaches the backend by id, with no token.
 */
import assert from "node:assert/strict";
import { startTestController } from "../controller/testing/test_controller.ts";
import { waitFor } from "../testing/wait_for.ts";
import { collectStatuses, startTestDrone, waitForSchedulable } from "./env.ts";
import { parseProxyFlags, startProxy } from "../cli/proxy_command.ts";
import { ProxyConfig } from "../proxy/config.ts";
import { createLogger } from "../shared/log.ts";
import { UsageError } from "../cli/usage_error.ts";

Deno.test("path routing: /_plane_backend=<id>/path?q reaches the backend as /path?q through the real proxy", async () => {
  const cluster = "localhost:9090";
  // The controller accepts a path-routing proxy only when told to (issue 10 finding 1).
  await using t = await startTestController({ defaultCluster: cluster, allowPathRouting: true });
  await using d = await startTestDrone({ controllerUrl: t.url, cluster });
  await waitForSchedulable(t.db, d.drone.name);
  const proxy = await startProxy(
    ProxyConfig.parse({
      controllerUrl: t.url,
      cluster,
      hostname: "127.0.0.1",
      httpPort: 0,
      pathRouting: true,
    }),
    { log: createLogger("proxy", { level: "error" }), shutdownMs: 1_000 },
  );
  try {
    await waitFor(() => proxy.ready(), { message: "proxy connected" });
    const response = await t.request("/ctrl/connect", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ "spawn_config": { executable: { image: "echo" } } }),
    });
    const { backend_id: id } = await response.json();
    await collectStatuses(t.url, id, "ready");
    const base = `http://127.0.0.1:${proxy.server.httpPort}`;
    const answer = await fetch(`${base}/_plane_backend=${id}/hello/world?x=1`);
    assert.equal(answer.status, 200);
    const body = await answer.json();
    assert.equal(body.path, "/hello/world?x=1");
    assert.equal(body.env.SESSION_BACKEND_ID, id);
    assert.equal(body.headers["x-verified-backend"], id);
    const missing = await fetch(`${base}/hello`);
    assert.equal(missing.status, 400);
    assert.equal(missing.headers.get("access-control-allow-origin"), "*");
    await missing.body?.cancel();
    const unknown = await fetch(`${base}/_plane_backend=nosuchbackend/`);
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
  } finally {
    await proxy.stop();
  }
});

Deno.test("path routing is refused on a non-loopback listener unless forced", () => {
  const base = ["--controller-url", "http://127.0.0.1:8080", "--cluster", "localhost:9090"];
  assert.throws(
    () => parseProxyFlags([...base, "--path-routing"], () => undefined),
    (err) => err instanceof UsageError && /binds loopback only/.test(err.message),
  );
  const forced = parseProxyFlags(
    [...base, "--path-routing", "--force-path-routing"],
    () => undefined,
  );
  assert.equal(forced.kind === "run" && forced.config.pathRouting, true);
  const local = parseProxyFlags(
    [...base, "--path-routing", "--hostname", "127.0.0.1"],
    () => undefined,
  );
  assert.equal(local.kind === "run" && local.config.hostname, "127.0.0.1");
  const off = parseProxyFlags(base, () => undefined);
  assert.equal(off.kind === "run" && off.config.pathRouting, false);
});
