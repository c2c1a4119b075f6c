import assert from "node:assert/strict";
import { freePort } from "../testing/free_port.ts";
import { startTestController } from "./testing/test_controller.ts";
import { bearerOf, checkBearer } from "./auth.ts";
import { ControllerConfig } from "./config.ts";
import { HttpError } from "./http_error.ts";

/**
 * A forward-auth server (plane-0.5.md §2.10) that records what it is asked and answers `status`.
 */
function authServer(status: number) {
  const seen: {
    method: string;
    path: string | null;
    authorization: string | null;
    body: string;
  }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push({
      method: req.method,
      path: req.headers.get("x-original-path"),
      authorization: req.headers.get("authorization"),
      body: await req.text(),
    });
    return new Response(null, { status });
  });
  return { url: `http://127.0.0.1:${server.addr.port}/auth`, seen, close: () => server.shutdown() };
}

Deno.test("forward auth: a 2xx lets the request through with x-original-path and the caller's headers", async () => {
  const auth = authServer(204);
  try {
    await using t = await startTestController({ forwardAuth: auth.url });
    const response = await t.request("/ctrl/status", { headers: { authorization: "Bearer test" } });
    assert.equal(response.status, 200);
    await response.body?.cancel();
    assert.deepEqual(auth.seen, [
      { method: "GET", path: "/status", authorization: "Bearer test", body: "" },
    ]);
    // /pub/* is not behind forward auth.
    const health = await t.request("/pub/health");
    assert.equal(health.status, 200);
    await health.body?.cancel();
    assert.equal(auth.seen.length, 1);
  } finally {
    await auth.close();
  }
});

Deno.test("forward auth: a refusal is 401 and an unreachable auth server is 502, both as ApiError", async () => {
  const auth = authServer(403);
  try {
    await using t = await startTestController({ forwardAuth: auth.url });
    const refused = await t.request("/ctrl/connect", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).kind, "Unauthorized");
    assert.equal(auth.seen[0]?.path, "/connect");
    assert.equal(auth.seen[0]?.method, "POST");
    assert.equal(auth.seen[0]?.body, "", "the body is not forwarded");
    // The drone socket route is behind forward auth too.
    const socket = await t.request("/ctrl/c/plane.test/drone-socket");
    assert.equal(socket.status, 401);
    await socket.body?.cancel();
  } finally {
    await auth.close();
  }
  const deadPort = freePort();
  await using t = await startTestController({ forwardAuth: `http://127.0.0.1:${deadPort}/auth` });
  const unreachable = await t.request("/ctrl/status");
  assert.equal(unreachable.status, 502);
  assert.equal((await unreachable.json()).kind, "BadGateway");
});

Deno.test("checkBearer() accepts any configured key on the API, only the cluster secret on sockets", () => {
  const config = ControllerConfig.parse({
    db: "x",
    apiKeys: ["a".repeat(16), "b".repeat(16)],
    clusterSecret: "s".repeat(16),
  });
  const req = (token?: string) =>
    new Request("http://x/", token ? { headers: { authorization: `Bearer ${token}` } } : {});
  checkBearer(config, req("b".repeat(16)), "api");
  checkBearer(config, req("s".repeat(16)), "socket");
  assert.throws(() => checkBearer(config, req("s".repeat(16)), "api"), HttpError);
  // An API key is not a socket credential (issue 10, finding 3).
  assert.throws(() => checkBearer(config, req("a".repeat(16)), "socket"), /Invalid credentials/);
  assert.throws(() => checkBearer(config, req(), "socket"), /Missing credentials/);
  assert.throws(() => checkBearer(config, req(), "api"), /Missing credentials/);
  assert.throws(() => checkBearer(config, req("nope"), "socket"), /Invalid credentials/);
  assert.equal(bearerOf(req("abc")), "abc");
  assert.equal(
    bearerOf(new Request("http://x/", { headers: { authorization: "Basic abc" } })),
    null,
  );
});

Deno.test("checkBearer() with API keys but no cluster secret refuses every socket, naming the fix", () => {
  const config = ControllerConfig.parse({ db: "x", apiKeys: ["a".repeat(16)] });
  const req = (token?: string) =>
    new Request("http://x/", token ? { headers: { authorization: `Bearer ${token}` } } : {});
  for (const token of ["a".repeat(16), undefined]) {
    assert.throws(
      () => checkBearer(config, req(token), "socket"),
      (err) =>
        err instanceof HttpError && err.status === 401 && /--cluster-secret/.test(err.message),
    );
  }
  checkBearer(config, req("a".repeat(16)), "api");
  // Nothing configured: the open loopback development case takes sockets without credentials.
  checkBearer(ControllerConfig.parse({ db: "x" }), req(), "socket");
});
