/**
 * HTTPS with no hand-made certificate (issue 14; plane-0.5.md §10): Debian's Pebble as the ACME
 * server, our controller, `plane dns` and two `plane proxy --acme-endpoint` processes of one
 * cluster, all as users run them and all on loopback. The proxies obtain certificates for
 * `cluster` and `*.cluster` one after the other through the lease; a client trusting only
 * Pebble's root verifies both names and reaches a backend over HTTPS and a WebSocket; then
 * Pebble's short validity makes a proxy renew, and the open WebSocket keeps working while new
 * handshakes get the new certificate.
 *
 * The cluster name is never resolved: the client dials 127.0.0.1 and verifies the certificate
 * for the name it gives TLS (`RawConnection.openTls`).
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { type PlaneProcess, startPlane, startPlaneCluster } from "./plane_process.ts";
import { PEBBLE_LISTENER_CA, pebbleMissing, startPebble } from "./pebble.ts";
import { openRawWebSocket, RawConnection } from "../proxy/testing/http_client.ts";
import { waitFor } from "../testing/wait_for.ts";
import { delay } from "../shared/delay.ts";

const CLUSTER = "c1.plane.test";
const ZONE = "plane.test";
/** Renewal comes with a third of the lifetime left: about 27 s after issue. */
const VALIDITY_SECONDS = 40;

/** The serial number of the certificate the proxy serves for `serverName` now. */
function servedSerial(port: number, serverName: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: serverName, ca }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.once("error", reject);
  });
}

async function httpsGet(port: number, host: string, path: string, root: string) {
  await using conn = await RawConnection.openTls(port, { serverName: host, caCerts: [root] });
  await conn.send("GET", path, [["Host", host]]);
  return await conn.read();
}

function logTime(line: Record<string, unknown>): number {
  return Date.parse(String(line.time));
}

/** The [start, end] of each certificate order a proxy ran, from its log. */
function orders(proxy: PlaneProcess): [number, number][] {
  const starts = proxy.logs.filter((l) => l.message === "Obtaining a certificate").map(logTime);
  const ends = proxy.logs.filter((l) => l.message === "Certificate obtained").map(logTime);
  return ends.map((end, i) => [starts[i]!, end]);
}

Deno.test({
  name: "ACME: two proxies take turns through the lease to obtain cluster and *.cluster " +
    "certificates from Pebble via plane dns; HTTPS and WebSockets verify; a renewal keeps " +
    "an open WebSocket",
  ignore: pebbleMissing(),
  async fn() {
    await using cluster = await startPlaneCluster({ cluster: CLUSTER, proxy: false });
    const dns = await startPlane("dns", [
      "--controller-url",
      cluster.controllerUrl,
      "--zone",
      ZONE,
      "--port",
      "0",
      "--hostname",
      "127.0.0.1",
    ], { ready: (l) => l.message === "DNS server listening" });
    await using _dns = dns;
    const dnsPort = Number(dns.logs.find((l) => l.message === "DNS server listening")!.port);
    await using pebble = await startPebble({ dnsPort, validitySeconds: VALIDITY_SECONDS });

    const startProxy = (name: string) =>
      startPlane("proxy", [
        "--controller-url",
        cluster.controllerUrl,
        "--cluster",
        CLUSTER,
        "--name",
        name,
        "--hostname",
        "127.0.0.1",
        "--http-port",
        "0",
        "--https-port",
        "0",
        "--cert-path",
        `${cluster.dir}/${name}.json`,
        "--acme-endpoint",
        pebble.directoryUrl,
        "--acme-email",
        "ops@plane.test",
        "--acme-ca-file",
        PEBBLE_LISTENER_CA,
      ]);
    const [a, b] = await Promise.all([startProxy("px-a"), startProxy("px-b")]);
    await using _a = a;
    await using _b = b;
    const listening = (p: PlaneProcess) =>
      p.waitForLog((l) => l.message === "Proxy listening", 90_000);
    const [listenA] = await Promise.all([listening(a), listening(b)]);
    const httpsPort = Number(listenA.https);

    // One order at a time across the cluster (plane-0.5.md §10.3), and they did contend for the
    // lease.
    const all = [...orders(a), ...orders(b)].sort((x, y) => x[0] - y[0]);
    assert.ok(orders(a).length >= 1 && orders(b).length >= 1, "both proxies obtained one");
    for (let i = 1; i < all.length; i++) {
      assert.ok(all[i]![0] >= all[i - 1]![1], `orders overlap: ${JSON.stringify(all)}`);
    }
    assert.ok(
      [...a.logs, ...b.logs].some((l) =>
        l.message === "Certificate lease held by another proxy; retrying"
      ),
      "one proxy waited for the other's lease",
    );

    // A client that trusts only Pebble's root verifies both names.
    const root = await pebble.root();
    const connected = await cluster.connectReady({
      key: { name: "acme-e2e" },
      "spawn_config": { executable: { image: "echo" } },
    });
    const path = new URL(String(connected.url)).pathname;
    for (const host of [CLUSTER, `app.${CLUSTER}`]) {
      const res = await httpsGet(httpsPort, host, `${path}hello`, root);
      assert.equal(res.status, 200, `${host}: ${res.body}`);
      const seen = JSON.parse(res.body);
      assert.equal(seen.headers["x-forwarded-proto"], "https");
      assert.equal(seen.headers.host, host);
    }
    await assert.rejects(
      RawConnection.openTls(httpsPort, { serverName: "other.test", caCerts: [root] }),
      "a name outside the cluster does not verify",
    );
    const ws = await openRawWebSocket(httpsPort, `${path}ws`, CLUSTER, [], { caCerts: [root] });
    try {
      assert.equal(ws.response.status, 101);
      await ws.send("before renewal");
      assert.equal(await ws.receive(), "before renewal");

      // Pebble's 40 s certificates are renewed with a third of their lifetime left. Meanwhile
      // the WebSocket carries a message every second (answering the backend's pings too).
      const firstSerial = await servedSerial(httpsPort, CLUSTER, root);
      const ordersBefore = orders(a).length;
      let renewed = false;
      let ticks = 0;
      const chatter = (async () => {
        while (!renewed) {
          await ws.send(`tick ${ticks}`);
          assert.equal(await ws.receive(), `tick ${ticks}`);
          ticks++;
          await delay(1_000);
        }
      })();
      try {
        await Promise.race([
          chatter.then(() => assert.fail("the WebSocket chatter ended early")),
          (async () => {
            await waitFor(() => orders(a).length > ordersBefore, {
              message: "proxy a renews its certificate",
              timeoutMs: 90_000,
              intervalMs: 200,
            });
            await waitFor(
              async () => (await servedSerial(httpsPort, CLUSTER, root)) !== firstSerial,
              {
                message: "new handshakes get the renewed certificate",
                timeoutMs: 20_000,
                intervalMs: 200,
              },
            );
          })(),
        ]);
      } finally {
        renewed = true;
      }
      await chatter;
      assert.ok(ticks > 5, `messages crossed the WebSocket during the renewal: ${ticks}`);
      await ws.send("after renewal");
      assert.equal(await ws.receive(), "after renewal");
      const again = await httpsGet(httpsPort, `app.${CLUSTER}`, `${path}again`, root);
      assert.equal(again.status, 200);
    } finally {
      ws.close();
    }
    for (const proxy of [a, b]) {
      const errors = proxy.logs.filter((l) => l.level === "error");
      assert.deepEqual(errors, [], `${proxy.role} logged errors`);
    }
  },
});
