/**
 * `serveProxy()` listeners (plane-0.5.md §7.1, §10.4, dynamic-proxy tests): HTTPS with
 * Plane's certificate file, a certificate reload that new handshakes see while open
 * connections carry on, the HTTP→HTTPS redirect port, and graceful shutdown.
 */
import assert from "node:assert/strict";
import { createProxy, type Proxy } from "./mod.ts";
import { type ProxyServer, serveProxy } from "./serve.ts";
import { type FakeController, startFakeController } from "./testing/fake_controller.ts";
import { RawConnection, request } from "./testing/http_client.ts";
import { waitFor } from "../testing/wait_for.ts";
import { createLogger } from "../shared/log.ts";
import type { BackendName } from "../shared/names.ts";

const log = createLogger("proxy", { level: "error" });
const testdata = (name: string) => new URL(`./testdata/${name}`, import.meta.url);
const CA1 = await Deno.readTextFile(testdata("ca1.pem"));
const CA2 = await Deno.readTextFile(testdata("ca2.pem"));

async function startProxy(fake: FakeController): Promise<Proxy> {
  const proxy = createProxy({
    cluster: "plane.test",
    controllerUrl: fake.url,
    backoffInitialMs: 10,
    log,
  });
  await waitFor(() => proxy.ready(), { message: "proxy ready" });
  return proxy;
}

/**
 * One request over TLS trusting only `ca`; the raw response text, up to the end of the head
 * (enough for empty bodies) or, with `toEnd`, until the server closes.
 */
async function tlsRequest(port: number, ca: string, text: string, toEnd = false): Promise<string> {
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca] });
  try {
    await conn.write(new TextEncoder().encode(text));
    let out = "";
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      out += new TextDecoder().decode(buf.subarray(0, n));
      if (!toEnd && out.includes("\r\n\r\n")) break;
    }
    return out;
  } finally {
    conn.close();
  }
}

Deno.test("serveProxy() serves HTTPS with the certificate file and reloads it on change", async () => {
  await using fake = startFakeController();
  const proxy = await startProxy(fake);
  const dir = await Deno.makeTempDir();
  const certPath = `${dir}/cert.json`;
  await Deno.copyFile(testdata("cert1.json"), certPath);
  let server: ProxyServer | null = null;
  try {
    server = await serveProxy(proxy, {
      hostname: "127.0.0.1",
      httpPort: 0,
      https: { port: 0, certPath, pollMs: 20 },
      log,
    });
    const port = server.httpsPort!;
    const ready = await tlsRequest(port, CA1, "GET /ready HTTP/1.1\r\nHost: plane.test\r\n\r\n");
    assert.match(ready, /^HTTP\/1\.1 200 /);
    // A connection opened before the reload keeps working after it.
    const early = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [CA1] });
    try {
      await early.handshake();
      await Deno.writeTextFile(certPath, await Deno.readTextFile(testdata("cert2.json")));
      await waitFor(async () => {
        try {
          return /^HTTP\/1\.1 200 /.test(
            await tlsRequest(port, CA2, "GET /ready HTTP/1.1\r\nHost: plane.test\r\n\r\n"),
          );
        } catch {
          return false;
        }
      }, { message: "the new certificate served" });
      await assert.rejects(tlsRequest(port, CA1, "GET /ready HTTP/1.1\r\nHost: x\r\n\r\n"));
      await early.write(
        new TextEncoder().encode("GET /ready HTTP/1.1\r\nHost: plane.test\r\n\r\n"),
      );
      const buf = new Uint8Array(4096);
      const n = await early.read(buf);
      assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 200 /);
    } finally {
      early.close();
    }
  } finally {
    await server?.close({ graceMs: 1_000 });
    await proxy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serveProxy() tells backends x-forwarded-proto https behind TLS", async () => {
  await using fake = startFakeController();
  const backend = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => new Response(req.headers.get("x-forwarded-proto")),
  );
  const proxy = await startProxy(fake);
  fake.routes.set("tok", {
    "backend_id": "b1" as BackendName,
    address: `127.0.0.1:${backend.addr.port}`,
    "secret_token": "s",
    cluster: "plane.test",
    user: null,
    "user_data": null,
    subdomain: null,
  });
  const server = await serveProxy(proxy, {
    hostname: "127.0.0.1",
    httpPort: 0,
    https: { port: 0, certPath: testdata("cert1.json").pathname },
    log,
  });
  try {
    const text = await tlsRequest(
      server.httpsPort!,
      CA1,
      "GET /tok/ HTTP/1.1\r\nHost: plane.test\r\nConnection: close\r\n\r\n",
      true,
    );
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.equal(text.split("\r\n\r\n")[1], "https");
  } finally {
    await server.close({ graceMs: 1_000 });
    await proxy.close();
    await backend.shutdown();
  }
});

Deno.test("serveProxy() with HTTPS redirects every plain request, /ready included (plane-0.5.md §7.1)", async () => {
  await using fake = startFakeController();
  const proxy = await startProxy(fake);
  const server = await serveProxy(proxy, {
    hostname: "127.0.0.1",
    httpPort: 0,
    https: { port: 0, certPath: testdata("cert1.json").pathname },
    log,
  });
  try {
    const ready = await request(server.httpPort, "/ready", [["Host", "plane.test:80"]]);
    assert.equal(ready.status, 301);
    assert.equal(ready.headers.get("location"), "https://plane.test/ready");
    const deep = await request(server.httpPort, "/tok/a/b?x=1", [["Host", "foo.bar.baz:8080"]]);
    assert.equal(deep.headers.get("location"), "https://foo.bar.baz/tok/a/b?x=1");
    assert.equal((await request(server.httpPort, "/", [])).status, 400);
    assert.deepEqual(fake.received, [], "redirects ask no routes");
  } finally {
    await server.close({ graceMs: 1_000 });
    await proxy.close();
  }
});

Deno.test("serveProxy() shuts down gracefully: in-flight requests finish, new connections are refused", async () => {
  await using fake = startFakeController();
  const backend = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("done"),
  );
  const proxy = await startProxy(fake);
  const server = await serveProxy(proxy, { hostname: "127.0.0.1", httpPort: 0, log });
  try {
    fake.routes.set("tok", "pending");
    await using conn = await RawConnection.open(server.httpPort);
    await conn.send("GET", "/tok/", [["Host", "plane.test"]]);
    await fake.next((m) => "RouteInfoRequest" in m);
    const closing = server.close({ graceMs: 5_000 });
    await waitFor(async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: server.httpPort })).close();
        return false;
      } catch {
        return true;
      }
    }, { message: "listener closed" });
    fake.send({
      RouteInfoResponse: {
        token: "tok",
        "route_info": {
          "backend_id": "b1" as BackendName,
          address: `127.0.0.1:${backend.addr.port}`,
          "secret_token": "s",
          cluster: "plane.test",
          user: null,
          "user_data": null,
          subdomain: null,
        },
      },
    });
    const res = await conn.read();
    assert.equal(res.status, 200);
    assert.equal(res.body, "done");
    assert.equal(res.headers.get("connection"), "close");
    conn.close();
    await closing;
  } finally {
    await server.close();
    await proxy.close();
    await backend.shutdown();
  }
});
