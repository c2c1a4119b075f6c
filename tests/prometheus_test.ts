/**
 * Issue 15 `GET /metrics`, as users run it: `plane controller`, `plane drone --metrics-port 0`
 * and `plane proxy --workers 2 --metrics-port 0` as subprocesses with deno.json's permissions.
 * Each endpoint is scraped before and after a connect, proxied requests, a WebSocket and a
 * terminate; every answer must parse strictly (`shared/prometheus_parse.ts`) and the series
 * must have moved as those actions imply. The controller's endpoint is behind the API key
 * unless `--metrics-public`.
 */
import assert from "node:assert/strict";
import { type PlaneProcess, startPlaneCluster } from "./plane_process.ts";
import { request } from "../proxy/testing/http_client.ts";
import { waitFor } from "../testing/wait_for.ts";
import { type ParsedFamily, parsePrometheusText, sampleValue } from "../shared/prometheus_parse.ts";
import { METRICS_CONTENT_TYPE } from "../shared/metrics.ts";
import { ALL_METRICS } from "../_tools/metrics_catalogue.ts";

const API_KEY = "prometheus-test-api-key-0123456789";

type Families = Map<string, ParsedFamily>;

/** `GET url` parsed strictly; every family must be one the code declares, counters `_total`. */
async function scrape(url: string, headers: HeadersInit = {}): Promise<Families> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  assert.equal(response.headers.get("content-type"), METRICS_CONTENT_TYPE);
  const families = parsePrometheusText(text);
  const known = new Set(ALL_METRICS.map((m) => m.name));
  for (const family of families.values()) {
    assert.ok(known.has(family.name), `${family.name} is in the metrics catalogue`);
    assert.ok(family.help.length > 0, `${family.name} has HELP`);
    if (family.type === "counter") assert.match(family.name, /_total$/);
    if (family.type === "histogram") assert.match(family.name, /_(seconds|bytes)$/);
  }
  return families;
}

function value(families: Families, name: string, labels: Record<string, string> = {}): number {
  return sampleValue(families, name, labels) ?? 0;
}

function metricsUrl(process: PlaneProcess): string {
  const line = process.logs.find((l) => l.message === "Metrics listening");
  assert.ok(line, `${process.role} logged its metrics URL`);
  return String(line.url);
}

Deno.test("GET /metrics on controller, drone and proxy follows a connect, requests, a WebSocket and a terminate", async () => {
  await using cluster = await startPlaneCluster({
    apiKeys: [API_KEY],
    droneArgs: ["--metrics-port", "0"],
    proxyArgs: ["--workers", "2", "--metrics-port", "0"],
  });
  await cluster.proxy!.waitForLog((l) => l.message === "Metrics listening");
  const controllerUrl = `${cluster.controllerUrl}/metrics`;
  const auth = { authorization: `Bearer ${API_KEY}` };
  const droneUrl = metricsUrl(cluster.drone!);
  const proxyUrl = metricsUrl(cluster.proxy!);
  assert.match(droneUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/, "loopback by default");
  assert.notEqual(new URL(proxyUrl).port, new URL(cluster.proxyUrl).port);

  const before = {
    controller: await scrape(controllerUrl, auth),
    drone: await scrape(droneUrl),
    proxy: await scrape(proxyUrl),
  };
  assert.equal(value(before.proxy, "plane_proxy_workers"), 2, "both workers answered");
  assert.equal(value(before.drone, "plane_drone_controller_connected"), 1);
  assert.equal(value(before.controller, "plane_controller_sockets", { kind: "drone" }), 1);
  assert.ok(value(before.controller, "process_resident_memory_bytes") > 0);
  assert.ok(value(before.drone, "process_cpu_seconds_total") > 0);
  assert.ok(before.proxy.has("plane_event_loop_lag_seconds"));
  // The V8 heap of every isolate (issue 11's soak reads it): used within reserved, each role.
  for (const [role, families] of Object.entries(before)) {
    const used = value(families, "plane_process_heap_used_bytes");
    const total = value(families, "plane_process_heap_total_bytes");
    assert.ok(used > 0 && used <= total, `${role} heap ${used} of ${total}`);
  }

  // A connect that spawns.
  const connected = await cluster.connectReady({
    key: { name: "metrics" },
    "spawn_config": { executable: { image: "echo" } },
  });
  const backend = String(connected.backend_id);
  const path = new URL(String(connected.url)).pathname;

  // Proxied requests (fresh connections, spread over both workers) and one 404-free miss.
  const port = Number(new URL(cluster.proxyUrl).port);
  const host: [string, string][] = [["Host", cluster.cluster]];
  const responses = await Promise.all(
    Array.from({ length: 8 }, () => request(port, `${path}hello`, host)),
  );
  for (const res of responses) assert.equal(res.status, 200, res.body);
  const refused = await request(port, "/not-a-token/", host);
  assert.ok(refused.status >= 400 && refused.status < 500, `status ${refused.status}`);

  // A WebSocket, observed while open.
  const ws = new WebSocket(`ws://${cluster.cluster}${path}ws`);
  const echoed = new Promise<string>((resolve, reject) => {
    ws.onmessage = (e) => resolve(String(e.data));
    ws.onerror = () => reject(new Error("WebSocket failed"));
  });
  ws.onopen = () => ws.send("metrics");
  assert.equal(await echoed, "metrics");
  const open = await scrape(proxyUrl);
  assert.equal(value(open, "plane_proxy_active_websockets"), 1);
  assert.ok(value(open, "plane_proxy_active_connections") >= 1);
  const closed = new Promise((resolve) => (ws.onclose = resolve));
  ws.close();
  await closed;

  // The drone's per-backend gauges arrive with its next resource sample (every 10 s, plane-0.5.md
  // §3.8).
  let drone: Families = before.drone;
  await waitFor(async () => {
    drone = await scrape(droneUrl);
    return sampleValue(drone, "plane_backend_memory_bytes", { backend }) !== undefined;
  }, { message: "the drone's memory gauge for the backend", timeoutMs: 30_000 });
  assert.ok(value(drone, "plane_backend_memory_bytes", { backend }) > 0);
  assert.ok(sampleValue(drone, "plane_backend_cpu_usage_ratio", { backend }) !== undefined);
  assert.equal(value(drone, "plane_drone_backends", { status: "ready" }), 1);
  assert.equal(value(drone, "plane_drone_spawn_to_ready_seconds_count"), 1);

  const controller = await scrape(controllerUrl, auth);
  assert.equal(value(controller, "plane_connects_total", { outcome: "spawned" }), 1);
  assert.equal(
    value(controller, "plane_connect_duration_seconds_count") -
      value(before.controller, "plane_connect_duration_seconds_count"),
    1,
  );
  assert.equal(value(controller, "plane_backend_spawn_to_ready_seconds_count"), 1);
  assert.equal(
    value(controller, "plane_backends", { cluster: cluster.cluster, status: "ready" }),
    1,
  );
  assert.equal(
    value(controller, "plane_drone_live_backends", {
      cluster: cluster.cluster,
      drone: cluster.droneName!,
    }),
    1,
  );
  const age = sampleValue(controller, "plane_drone_heartbeat_age_seconds", {
    drone: cluster.droneName!,
  });
  assert.ok(age !== undefined && age >= 0 && age < 30, `heartbeat age ${age}`);
  assert.ok(controller.has("plane_action_queue_depth"));

  const proxied = await scrape(proxyUrl);
  const delta = (name: string, labels: Record<string, string> = {}) =>
    value(proxied, name, labels) - value(before.proxy, name, labels);
  assert.equal(delta("plane_proxy_requests_total", { class: "2xx" }), 8);
  assert.equal(delta("plane_proxy_requests_total", { class: "1xx" }), 1, "the WebSocket's 101");
  assert.equal(delta("plane_proxy_requests_total", { class: "4xx" }), 1);
  assert.equal(delta("plane_proxy_request_duration_seconds_count"), 10);
  // The per-worker counts add up to the same responses, whichever worker served them.
  assert.equal(
    delta("plane_proxy_worker_requests_total", { worker: "0" }) +
      delta("plane_proxy_worker_requests_total", { worker: "1" }),
    10,
  );
  assert.ok(delta("plane_proxy_received_bytes_total") > 0);
  assert.ok(delta("plane_proxy_sent_bytes_total") > delta("plane_proxy_received_bytes_total"));
  assert.equal(delta("plane_proxy_route_cache_misses_total") > 0, true);
  assert.ok(delta("plane_proxy_route_cache_hits_total") > 0, "later requests hit the cache");
  assert.equal(value(proxied, "plane_proxy_active_websockets"), 0);
  assert.equal(value(proxied, "plane_proxy_controller_connected"), 1);

  // A terminate: the backend leaves the drone's gauges and shows terminated on the controller.
  const terminated = await cluster.api(`/ctrl/b/${backend}/hard-terminate`, { method: "POST" });
  assert.equal(terminated.status, 200, await terminated.text());
  await waitFor(async () => {
    const c = await scrape(controllerUrl, auth);
    return value(c, "plane_backends", { cluster: cluster.cluster, status: "terminated" }) === 1;
  }, { message: "the controller to count the backend terminated" });
  const after = {
    controller: await scrape(controllerUrl, auth),
    drone: await scrape(droneUrl),
  };
  assert.equal(
    value(after.controller, "plane_drone_live_backends", {
      cluster: cluster.cluster,
      drone: cluster.droneName!,
    }),
    0,
  );
  assert.equal(value(after.drone, "plane_drone_backends", { status: "ready" }), 0);
  assert.equal(sampleValue(after.drone, "plane_backend_memory_bytes", { backend }), undefined);
  assert.equal(
    value(after.controller, "plane_action_queue_depth", {
      drone: cluster.droneName!,
    }),
    0,
    "the terminate was acked",
  );
});

Deno.test("GET /metrics on the controller needs the API key unless --metrics-public", async (t) => {
  await t.step("401 without the key", async () => {
    await using cluster = await startPlaneCluster({
      apiKeys: [API_KEY],
      drone: false,
      proxy: false,
    });
    const refused = await fetch(`${cluster.controllerUrl}/metrics`);
    assert.equal(refused.status, 401);
    const body = await refused.json();
    assert.equal(body.kind, "Unauthorized");
    const wrong = await fetch(`${cluster.controllerUrl}/metrics`, {
      headers: { authorization: "Bearer not-the-key-not-the-key" },
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    await scrape(`${cluster.controllerUrl}/metrics`, { authorization: `Bearer ${API_KEY}` });
  });
  await t.step("open with --metrics-public, the API still keyed", async () => {
    await using cluster = await startPlaneCluster({
      apiKeys: [API_KEY],
      drone: false,
      proxy: false,
      controllerArgs: ["--metrics-public"],
    });
    await scrape(`${cluster.controllerUrl}/metrics`);
    const api = await fetch(`${cluster.controllerUrl}/ctrl/status`);
    assert.equal(api.status, 401);
    await api.body?.cancel();
  });
});
