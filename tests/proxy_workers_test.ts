/**
 * Issue 13 `--workers`, as users run it: `plane proxy --workers 2` as a subprocess with
 * deno.json's permissions (no `--allow-all`; Deno workers inherit them) in front of a real
 * controller and drone. A connect, plain requests on fresh connections, a WebSocket, a
 * terminated backend refused on every worker, and a clean SIGTERM.
 */
import assert from "node:assert/strict";
import { startPlaneCluster } from "./plane_process.ts";
import { request } from "../proxy/testing/http_client.ts";
import { waitFor } from "../testing/wait_for.ts";

Deno.test("plane proxy --workers 2: a connect, requests, a WebSocket and a termination through two workers", async () => {
  await using cluster = await startPlaneCluster({ proxyArgs: ["--workers", "2"] });
  const listening = cluster.proxy!.logs.find((l) => l.message === "Proxy listening")!;
  assert.equal(listening.workers, 2);
  const port = Number(new URL(cluster.proxyUrl).port);
  const host: [string, string][] = [["Host", cluster.cluster]];

  const connected = await cluster.connectReady({
    key: { name: "two-workers" },
    "spawn_config": { executable: { image: "echo" } },
  });
  const path = new URL(String(connected.url)).pathname;
  // Fresh connections, so the kernel spreads them over both workers' listeners.
  const responses = await Promise.all(
    Array.from({ length: 16 }, () => request(port, `${path}hello`, host)),
  );
  for (const res of responses) {
    assert.equal(res.status, 200, res.body);
    const seen = JSON.parse(res.body);
    assert.equal(seen.path, "/hello");
    assert.equal(seen.headers["x-verified-backend"], connected.backend_id);
  }

  const ws = new WebSocket(`ws://${cluster.cluster}${path}ws`);
  const echoed = new Promise<string>((resolve, reject) => {
    ws.onmessage = (e) => resolve(String(e.data));
    ws.onerror = () => reject(new Error("WebSocket through two workers failed"));
  });
  ws.onopen = () => ws.send("through a worker");
  assert.equal(await echoed, "through a worker");
  const closed = new Promise((resolve) => (ws.onclose = resolve));
  ws.close();
  await closed;

  const terminated = await cluster.api(`/ctrl/b/${connected.backend_id}/hard-terminate`, {
    method: "POST",
  });
  assert.equal(terminated.status, 200, await terminated.text());
  // BackendRemoved reached both workers: every fresh connection is refused.
  await waitFor(async () => {
    const after = await Promise.all(
      Array.from({ length: 16 }, () => request(port, `${path}hello`, host)),
    );
    return after.every((res) => res.status === 410);
  }, { message: "every worker to refuse the terminated backend" });

  const status = await cluster.proxy!.stop();
  assert.equal(status.code, 0);
  assert.ok(cluster.proxy!.logs.some((l) => l.message === "Proxy shutting down"));
  assert.deepEqual(
    cluster.proxy!.logs.filter((l) => l.level === "error"),
    [],
    "no worker died",
  );
});
