/**
 * The Jamsocket-compatible API end to end (jamsocket-api.md §11): a real controller with a
 * service map, a real drone (local-process runtime) and the echo backend, driven exactly as
 * `@jamsocket/server` and `@jamsocket/client` drive Jamsocket.
 */
import assert from "node:assert/strict";
import { startTestController } from "../controller/testing/test_controller.ts";
import {
  browserStatusStream,
  cliRequest,
  ServerClient,
} from "../controller/testing/jamsocket_clients.ts";
import { startTestDrone, waitForSchedulable } from "./env.ts";
import { startProxy } from "../cli/proxy_command.ts";
import { ProxyConfig } from "../proxy/config.ts";
import { createLogger } from "../shared/log.ts";
import { waitFor } from "../testing/wait_for.ts";
import { freePort } from "../testing/free_port.ts";

// The proxy listens on the cluster's own port, so the connection URL works as returned.
const PROXY_PORT = freePort();
const CLUSTER = `localhost:${PROXY_PORT}`;
const API_KEY = "jamsocket-e2e-key-0123456789";
/** Drone and proxy sockets take the cluster secret only, never an API key (issue 10). */
const CLUSTER_SECRET = "jamsocket-e2e-secret-0123456789";

Deno.test("Jamsocket v2 end to end: connect a service → stream to ready → backend sees JAMSOCKET_SERVICE → terminate ends the stream", async () => {
  await using t = await startTestController({
    defaultCluster: CLUSTER,
    apiKeys: [API_KEY],
    clusterSecret: CLUSTER_SECRET,
    services: { "acme/echo-service": { image: "echo" } },
  });
  await using d = await startTestDrone({
    // The drone authenticates with the cluster secret, given as the URL's user name.
    controllerUrl: t.url.replace("http://", `http://${CLUSTER_SECRET}@`),
    cluster: CLUSTER,
  });
  await waitForSchedulable(t.db, d.drone.name);

  const jamsocket = new ServerClient({
    apiUrl: t.url,
    account: "acme",
    service: "echo-service",
    token: API_KEY,
  });
  const connected = await jamsocket.connect({ key: "doc-1", user: "ann" });
  const id = connected.backend_id as string;
  assert.equal(connected.spawned, true);

  // @jamsocket/client: status once, then the stream at status_url + "/stream", until ready.
  const statusUrl = connected.status_url as string;
  assert.equal(statusUrl, `${t.url}/v2/backend/${id}/status`);
  const upToReady = await browserStatusStream(statusUrl, "ready");
  assert.deepEqual(upToReady.entries.map((e) => e.status), [
    "scheduled",
    "loading",
    "starting",
    "waiting",
    "ready",
  ]);
  assert.deepEqual([upToReady.skipped, upToReady.parseErrors], [[], []]);
  assert.equal((await jamsocket.status(id)).status, "ready");

  // Through the proxy, at the URL the API returned: HTTP with the verified identity, and a
  // WebSocket.
  const proxy = await startProxy(
    ProxyConfig.parse({
      controllerUrl: t.url.replace("http://", `http://${CLUSTER_SECRET}@`),
      cluster: CLUSTER,
      hostname: "127.0.0.1",
      httpPort: PROXY_PORT,
    }),
    { log: createLogger("proxy", { level: "error" }), shutdownMs: 1_000 },
  );
  try {
    await waitFor(() => proxy.ready(), { message: "proxy connected" });
    const url = connected.url as string;
    assert.match(url, new RegExp(`^http://${CLUSTER}/[A-Za-z0-9_-]{43}/$`));
    const answer = await (await fetch(`${url}hello`)).json();
    assert.equal(answer.path, "/hello");
    assert.equal(answer.env.JAMSOCKET_SERVICE, "echo-service");
    assert.equal(answer.env.SESSION_BACKEND_ID, id);
    assert.equal(answer.env.SESSION_BACKEND_KEY, "doc-1");
    assert.equal(answer.headers["x-verified-username"], "ann");
    assert.equal(answer.headers["x-verified-backend"], id);
    assert.equal(answer.headers["x-verified-secret"], connected.secret_token);
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}ws`);
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send("through the proxy");
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error("WebSocket through the proxy failed"));
    });
    ws.close();
    await new Promise((r) => (ws.onclose = r));
    assert.equal(echoed, "through the proxy");
  } finally {
    await proxy.stop();
  }

  // The v2 logs stream: raw lines as data payloads.
  const logs = await fetch(`${t.url}/v2/backend/${id}/logs/stream`, {
    headers: { authorization: `Bearer ${API_KEY}`, accept: "text/event-stream" },
  });
  assert.equal(logs.headers.get("content-type"), "text/event-stream");
  const reader = logs.body!.getReader();
  let text = "";
  while (!text.includes("listening on")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await reader.cancel();
  assert.match(text, /^data:listening on \d+$/m);

  // Follow the stream while terminating: it reports terminating, terminated, then ends.
  const following = browserStatusStream(statusUrl, null);
  const terminate = await cliRequest(t.url, "POST", `/v2/backend/${id}/terminate`, {
    token: API_KEY,
    body: { hard: false },
  });
  assert.deepEqual(terminate.body, { status: "ok" });
  const rest = await following;
  assert.equal(rest.ended, true, "the stream ended after terminated");
  const last = rest.entries.at(-1)!;
  assert.deepEqual(
    [last.status, last.termination_reason, last.termination_kind],
    ["terminated", "external", "soft"],
  );
  assert.ok(rest.entries.some((e) => e.status === "terminating"));

  const again = await cliRequest(t.url, "POST", `/v2/backend/${id}/terminate`, {
    token: API_KEY,
  });
  assert.equal(again.code, "BackendNotRunning");
});
