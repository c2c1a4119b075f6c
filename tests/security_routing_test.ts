/**
 * Issue 10, findings 1 and 5, through the product as users run it (`plane controller|proxy|
 * drone` subprocesses with an API key and a cluster secret):
 *
 * 1. A backend id is never a credential: `/_plane_backend=<id>/` reaches nothing through a
 *    normal proxy, however it is spelled, and the controller resolves the prefix only for a proxy
 *    socket that declared path routing, which it accepts only with `--allow-path-routing`.
 * 5. Revocation and soft termination close what they must: a revoked token's open WebSocket is
 *    closed; a terminating backend takes no new requests while open tunnels stay until it exits.
 */
import assert from "node:assert/strict";
import { type PlaneCluster, startPlaneCluster } from "./plane_process.ts";
import { RawConnection, request } from "../proxy/testing/http_client.ts";
import { connectFakePeer, isVariant } from "../controller/testing/fake_peer.ts";
import type { MessageFromProxy, MessageToProxy } from "../shared/protocol.ts";
import { randomProxyName } from "../shared/names.ts";
import { waitFor } from "../testing/wait_for.ts";

const API_KEY = "key-security-routing-0123456789";
const SECRET = "secret-security-routing-0123456789";

type RouteInfoResponse = Extract<MessageToProxy, { RouteInfoResponse: unknown }>;

function proxyPort(c: PlaneCluster): number {
  return Number(c.cluster.split(":")[1]);
}

/** A WebSocket through the proxy whose messages and closing a test can observe. */
async function openEcho(url: string) {
  const ws = new WebSocket(url);
  const messages: string[] = [];
  let closed = false;
  ws.onmessage = (e) => messages.push(String(e.data));
  const done = new Promise<void>((resolve) => {
    ws.onclose = () => {
      closed = true;
      resolve();
    };
  });
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
  });
  return {
    get closed() {
      return closed;
    },
    /** Sends `text` and waits for its echo. */
    async echo(text: string) {
      const before = messages.length;
      ws.send(text);
      await waitFor(() => messages.length > before, { message: `echo of ${text}` });
      assert.equal(messages[before], text);
    },
    done,
    close() {
      if (!closed) ws.close();
      return done;
    },
  };
}

/**
 * Every spelling of `/_plane_backend=<id>…` a lenient decoder could read as the path-routing
 * prefix: `_` and `=` raw or percent-encoded in either case, the name in several cases, with
 * and without a rest and a query, in origin and absolute form (RFC 9112 §3.2.2).
 */
function pathRouteTargets(id: string, cluster: string): string[] {
  const targets: string[] = [];
  for (const underscore of ["_", "%5F", "%5f"]) {
    for (const equals of ["=", "%3D", "%3d"]) {
      for (const name of ["plane_backend", "PLANE_BACKEND", "Plane_Backend", "plane%5Fbackend"]) {
        const prefix = `/${underscore}${name}${equals}${id}`;
        for (const rest of ["", "/", "/x?y", "?y=1"]) targets.push(`${prefix}${rest}`);
        targets.push(`http://${cluster}${prefix}/x`);
      }
    }
  }
  return targets;
}

async function status(c: PlaneCluster, backend: string): Promise<string> {
  const response = await c.api(`/pub/b/${backend}/status`);
  return (await response.json()).status;
}

Deno.test("a normal proxy never routes /_plane_backend=<id>, in any spelling, and a backend id is no token", async () => {
  await using c = await startPlaneCluster({ apiKeys: [API_KEY], clusterSecret: SECRET });
  const port = proxyPort(c);
  const open = await c.connectReady({
    "spawn_config": { executable: { image: "echo" } },
    user: "alice",
  });
  const bound = await c.connectReady({
    "spawn_config": { executable: { image: "echo" }, subdomain: "bound" },
    user: "bob",
  });
  const openToken = new URL(String(open.url)).pathname.split("/")[1]!;
  // The id is public: every proxied response names it.
  const proxied = await request(port, `/${openToken}/`, [["Host", c.cluster]]);
  assert.equal(proxied.status, 200);
  const publicId = proxied.headers.get("x-plane-backend-id")!;
  assert.equal(publicId, open.backend_id);

  const targets = (id: string) => [
    ...pathRouteTargets(id, c.cluster),
    // The id where a token goes.
    `/${id}/`,
    `/${id}`,
    `/${id}/x?y`,
  ];
  async function attempt(label: string) {
    for (
      const [id, hosts] of [
        [String(open.backend_id), [c.cluster, `any.${c.cluster}`]],
        [String(bound.backend_id), [`bound.${c.cluster}`, c.cluster]],
      ] as const
    ) {
      for (const target of targets(id)) {
        for (const host of hosts) {
          const answer = await request(port, target, [["Host", host]]);
          const where = `${label}: ${target} with Host ${host}`;
          assert.ok(
            answer.status >= 400 && answer.status < 500,
            `${where} answered ${answer.status}`,
          );
          assert.equal(answer.headers.get("x-plane-backend-id"), undefined, where);
          assert.ok(!answer.body.includes("SESSION_BACKEND_ID"), `${where} reached the backend`);
        }
      }
      const upgrade = await request(port, `/_plane_backend=${id}/ws`, [
        ["Host", hosts[0]],
        ["Connection", "Upgrade"],
        ["Upgrade", "websocket"],
        ["Sec-WebSocket-Version", "13"],
        ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
      ]);
      assert.equal(upgrade.status, 410, `${label}: WebSocket upgrade by id`);
    }
  }
  await attempt("with live tokens");
  // Revoking the user's tokens changes nothing for the prefix.
  const revoked = await c.api("/ctrl/b/revoke", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ "backend_id": open.backend_id, user: "alice" }),
  });
  assert.equal(revoked.status, 200);
  await revoked.body?.cancel();
  await waitFor(
    async () => (await request(port, `/${openToken}/`, [["Host", c.cluster]])).status === 410,
    {
      message: "the revoked token answers 410",
    },
  );
  await attempt("after revoking the token");
});

Deno.test("the controller resolves _plane_backend=<id> only for a proxy socket that declared path routing, and refuses that declaration without --allow-path-routing", async () => {
  await using c = await startPlaneCluster({
    apiKeys: [API_KEY],
    clusterSecret: SECRET,
    proxy: false,
  });
  const ready = await c.connectReady({ "spawn_config": { executable: { image: "echo" } } });
  const id = String(ready.backend_id);
  await using peer = await connectFakePeer<MessageFromProxy>({
    controllerUrl: c.controllerUrl,
    path: `/ctrl/c/${c.cluster}/proxy-socket`,
    name: randomProxyName(),
    bearer: SECRET,
  });
  for (const token of [`_plane_backend=${id}`, id]) {
    const answer = peer.next<RouteInfoResponse>((m) =>
      isVariant("RouteInfoResponse")(m) &&
      (m as RouteInfoResponse).RouteInfoResponse.token === token
    );
    peer.send({ RouteInfoRequest: { token } });
    assert.equal((await answer).RouteInfoResponse.route_info, null, token);
  }
  await c.controller.waitForLog((l) =>
    l.level === "warn" && typeof l.message === "string" && /path rout/i.test(l.message)
  );
  // A proxy declaring path routing is refused before the upgrade, with a message naming the fix.
  const declared = await fetch(
    `${c.controllerUrl}/ctrl/c/${c.cluster}/proxy-socket?path_routing=true`,
    { headers: { authorization: `Bearer ${SECRET}` } },
  );
  assert.equal(declared.status, 403);
  const body = await declared.json();
  assert.match(body.message, /--allow-path-routing/);
});

Deno.test("a --path-routing proxy routes by id only when the controller allows it, with an empty x-verified-secret", async () => {
  await using c = await startPlaneCluster({
    apiKeys: [API_KEY],
    clusterSecret: SECRET,
    controllerArgs: ["--allow-path-routing"],
    proxyArgs: ["--path-routing"],
  });
  const ready = await c.connectReady({ "spawn_config": { executable: { image: "echo" } } });
  const id = String(ready.backend_id);
  await waitFor(async () => (await fetch(`${c.proxyUrl}/ready`)).status === 200, {
    message: "path-routing proxy connected",
  });
  const answer = await request(proxyPort(c), `/_plane_backend=${id}/hi?x=1`, [["Host", c.cluster]]);
  assert.equal(answer.status, 200);
  const body = JSON.parse(answer.body);
  assert.equal(body.path, "/hi?x=1");
  assert.equal(body.headers["x-verified-backend"], id);
  assert.equal(body.headers["x-verified-secret"], "");
  // A dynamic token is not a path route: exclusive, as in Plane 0.3.
  const token = new URL(String(ready.url)).pathname.split("/")[1]!;
  assert.equal((await request(proxyPort(c), `/${token}/`, [["Host", c.cluster]])).status, 400);
});

Deno.test("revoking a token closes the WebSockets it opened; its HTTP requests answer 410", async () => {
  await using c = await startPlaneCluster({ apiKeys: [API_KEY], clusterSecret: SECRET });
  const ready = await c.connectReady({
    "spawn_config": { executable: { image: "echo" } },
    user: "carol",
  });
  const url = new URL(String(ready.url));
  const other = await c.connectReady({
    key: { name: "other-key" },
    "spawn_config": { executable: { image: "echo" } },
    user: "dave",
  });
  const ws = await openEcho(`ws://${url.host}${url.pathname}ws`);
  const bystander = await openEcho(`ws://${url.host}${new URL(String(other.url)).pathname}ws`);
  // A kept-alive HTTP connection that used the token before the revocation.
  await using kept = await RawConnection.open(proxyPort(c));
  try {
    await ws.echo("before");
    await kept.send("GET", `${url.pathname}x`, [["Host", c.cluster]]);
    assert.equal((await kept.read()).status, 200);
    const revoked = await c.api("/ctrl/b/revoke", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ "backend_id": ready.backend_id, user: "carol" }),
    });
    assert.equal(revoked.status, 200);
    await revoked.body?.cancel();
    await waitFor(() => ws.closed, {
      message: "the revoked token's WebSocket closed",
      timeoutMs: 5_000,
    });
    const http = await request(proxyPort(c), `${url.pathname}x`, [["Host", c.cluster]]);
    assert.equal(http.status, 410);
    await kept.send("GET", `${url.pathname}x`, [["Host", c.cluster]]);
    assert.equal((await kept.read()).status, 410, "the kept-alive connection's next request");
    // Another user's tunnel is untouched.
    await bystander.echo("still here");
  } finally {
    await ws.close();
    await bystander.close();
  }
});

Deno.test("a soft-terminating backend takes no new requests, while its open WebSocket echoes until it exits", async () => {
  await using c = await startPlaneCluster({ apiKeys: [API_KEY], clusterSecret: SECRET });
  const ready = await c.connectReady({
    // The backend ignores SIGTERM, so it stays in `terminating` until hard-terminated.
    "spawn_config": { executable: { image: "echo", env: { IGNORE_SIGTERM: "1" } } },
    user: "erin",
  });
  const id = String(ready.backend_id);
  const url = new URL(String(ready.url));
  const port = proxyPort(c);
  // The route is cached by the proxy before the terminate.
  assert.equal((await request(port, `${url.pathname}x`, [["Host", c.cluster]])).status, 200);
  const ws = await openEcho(`ws://${url.host}${url.pathname}ws`);
  try {
    await ws.echo("before");
    const soft = await c.api(`/ctrl/b/${id}/soft-terminate`, { method: "POST" });
    assert.equal(soft.status, 200);
    await soft.body?.cancel();
    await waitFor(async () => (await status(c, id)) === "terminating", {
      message: "backend terminating",
    });
    await waitFor(
      async () => (await request(port, `${url.pathname}x`, [["Host", c.cluster]])).status === 410,
      { message: "new requests refused while terminating", timeoutMs: 5_000 },
    );
    const upgrade = await fetch(`${c.proxyUrl}${url.pathname}ws`, {
      headers: { connection: "upgrade", upgrade: "websocket" },
    });
    assert.equal(upgrade.status, 410);
    await upgrade.body?.cancel();
    assert.equal(await status(c, id), "terminating");
    await ws.echo("during grace");
    const hard = await c.api(`/ctrl/b/${id}/hard-terminate`, { method: "POST" });
    assert.equal(hard.status, 200);
    await hard.body?.cancel();
    await waitFor(() => ws.closed, { message: "the tunnel closes when the backend exits" });
    await waitFor(async () => (await status(c, id)) === "terminated", {
      message: "backend terminated",
    });
  } finally {
    await ws.close();
  }
});
