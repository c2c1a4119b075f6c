/**
 * Issue 10 through a real `plane proxy`: finding 6 (a request body that stops arriving holds
 * proxy→backend connections forever), finding 7's proxy part (the proxy's own errors, framing
 * 400s included, carry one JSON body) and finding 8's proxy part (`Host: sub.<cluster>:443`
 * and other ports are refused).
 */
import assert from "node:assert/strict";
import { defaultImages, type PlaneCluster, startPlaneCluster } from "./plane_process.ts";
import { RawConnection, type RawResponse } from "../proxy/testing/http_client.ts";
import { waitFor } from "../testing/wait_for.ts";

const RAW_BACKEND = new URL("../drone/executor/testdata/raw_echo_backend.ts", import.meta.url)
  .pathname;
const IMAGES = {
  ...defaultImages(),
  raw: { command: [Deno.execPath(), "run", "--allow-net", "--allow-env", RAW_BACKEND] },
};
const encoder = new TextEncoder();

function proxyPort(cluster: PlaneCluster): number {
  return Number(new URL(cluster.proxyUrl).port);
}

async function rawToken(cluster: PlaneCluster): Promise<string> {
  const connected = await cluster.connectReady({
    key: { name: "limits" },
    "spawn_config": { executable: { image: "raw" } },
  });
  return new URL(String(connected.url)).pathname.split("/")[1]!;
}

/** A proxy-made error: JSON `{id, kind, message}` with the message naming a fix. */
function assertJsonError(res: RawResponse, status: number, kind: string, what: string): string {
  assert.equal(res.status, status, `${what}: ${res.body}`);
  assert.equal(res.headers.get("content-type"), "application/json", what);
  assert.equal(res.headers.get("access-control-allow-origin"), "*", what);
  assert.match(res.headers.get("server") ?? "", /^Plane\//, what);
  const body = JSON.parse(res.body);
  assert.deepEqual(Object.keys(body), ["id", "kind", "message"], what);
  assert.equal(body.kind, kind, what);
  assert.match(body.message, /: /, `${what}: the message names a fix`);
  return body.message;
}

/** True once the server closed the connection (nothing more can be read). */
async function closedByServer(conn: RawConnection): Promise<boolean> {
  try {
    await conn.read();
    return false;
  } catch {
    return true;
  }
}

Deno.test("security: the proxy closes both sides of a request whose body stalls (--body-timeout-seconds)", async () => {
  await using cluster = await startPlaneCluster({
    apiKeys: ["limits-test-api-key-0001"],
    clusterSecret: "limits-test-cluster-secret-0001",
    images: IMAGES,
    proxyArgs: ["--body-timeout-seconds", "1"],
  });
  const port = proxyPort(cluster);
  const token = await rawToken(cluster);
  await using probe = await RawConnection.open(port);
  /** Connections the backend has open besides the probe's own. */
  const backendOpen = async () => {
    await probe.send("GET", `/${token}/count`, [["Host", cluster.cluster]]);
    return (JSON.parse((await probe.read()).body) as { open: number }).open;
  };
  const baseline = await backendOpen();

  const stalled: RawConnection[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      const conn = await RawConnection.open(port);
      stalled.push(conn);
      // Content-Length 1000, then 3 bytes, then nothing.
      await conn.write(encoder.encode(
        `POST /${token}/upload HTTP/1.1\r\nHost: ${cluster.cluster}\r\n` +
          `Content-Length: 1000\r\n\r\nabc`,
      ));
    }
    const started = Date.now();
    await waitFor(async () => (await backendOpen()) >= baseline + 20, {
      message: "20 stalled uploads reaching the backend",
    });
    // Every proxy→backend connection of a stalled upload is closed, then each client got a 408.
    await waitFor(async () => (await backendOpen()) <= baseline, {
      message: "backend connections of stalled uploads closed",
      timeoutMs: 5_000,
    });
    for (const [i, conn] of stalled.entries()) {
      const res = await conn.read();
      assertJsonError(res, 408, "RequestTimeout", `stalled upload ${i}`);
      assert.equal(res.headers.get("connection"), "close");
      assert.ok(await closedByServer(conn), `client connection ${i} closed`);
    }
    assert.ok(Date.now() - started < 8_000, `closed within a bound (${Date.now() - started} ms)`);
  } finally {
    for (const conn of stalled) conn.close();
  }
});

Deno.test("security: the proxy's own errors carry one JSON body and Host ports must match", async () => {
  await using cluster = await startPlaneCluster({
    apiKeys: ["errors-test-api-key-0001"],
    clusterSecret: "errors-test-cluster-secret-0001",
    images: IMAGES,
  });
  const port = proxyPort(cluster);
  const host = cluster.cluster;
  const token = await rawToken(cluster);
  const send = async (bytes: string) => {
    await using conn = await RawConnection.open(port);
    await conn.write(encoder.encode(bytes));
    const res = await conn.read();
    return { res, closed: await closedByServer(conn) };
  };

  // Engine framing errors: 400 with the JSON body, then the connection closes.
  const both = await send(
    `POST /${token}/x HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\n` +
      `Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  );
  const message = assertJsonError(both.res, 400, "InvalidRequest", "Content-Length with chunked");
  assert.match(message, /Content-Length and Transfer-Encoding/);
  assert.equal(both.res.headers.get("connection"), "close");
  assert.ok(both.closed);
  const badChunk = await send(
    `POST /${token}/x HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`,
  );
  assert.match(assertJsonError(badChunk.res, 400, "InvalidRequest", "bad chunk size"), /chunk/);
  assert.ok(badChunk.closed);

  // Route-level answers: the same body.
  const route = async (target: string, headers: [string, string][]) => {
    await using conn = await RawConnection.open(port);
    await conn.send("GET", target, headers);
    return await conn.read();
  };
  assertJsonError(await route("/", [["Host", host]]), 400, "InvalidRequest", "no token");
  assertJsonError(await route("/not-a-token/", [["Host", host]]), 410, "Gone", "unknown token");

  // Finding 8: the cluster names its port, so a Host must name exactly that port.
  const hostname = host.split(":")[0]!;
  const hosts: [string, number][] = [
    [`sub.${host}:443`, 400],
    [`${host}:443`, 400],
    [`${hostname}:443`, 403],
    [`sub.${hostname}:443`, 403],
    [hostname, 403],
    [`${hostname}:1`, 403],
  ];
  for (const [value, status] of hosts) {
    const res = await route(`/${token}/`, [["Host", value]]);
    assertJsonError(res, status, status === 400 ? "InvalidRequest" : "Forbidden", value);
  }
  const ok = await route(`/${token}/`, [["Host", host], ["Connection", "host"]]);
  assert.equal(ok.status, 200, ok.body);
  assert.match(JSON.parse(ok.body).head, new RegExp(`\r\nHost: ${host}\r\n`));
});
