/**
 * Issue 10, finding 2 (forged identity), adversarially: for every header the proxy sets, every
 * spelling a backend stack may read as it (case variants, each `-` as `-` or `_`), delivered
 * as a plain field, as a field plus a `Connection` list naming the proxy's own header, on a
 * WebSocket upgrade, and as a chunked-body trailer, sent through a real `plane proxy` with a
 * real token. The backend must see exactly the proxy's values and no forged field under any
 * spelling. The variants are generated, not listed.
 */
import assert from "node:assert/strict";
import { defaultImages, startPlaneCluster } from "./plane_process.ts";
import { openRawWebSocket, RawConnection } from "../proxy/testing/http_client.ts";

const RAW_BACKEND = new URL("../drone/executor/testdata/raw_echo_backend.ts", import.meta.url)
  .pathname;

/** The headers the proxy sets on every forwarded request (plane-0.5.md §7.2 step 7). */
const PROXY_SET = [
  "x-verified-username",
  "x-verified-user-data",
  "x-verified-secret",
  "x-verified-backend",
  "x-verified-path",
  "x-forwarded-for",
  "x-forwarded-proto",
] as const;

/** Every spelling of `name`: each `-` as `-` or `_`, in lower, upper, title and alternating case. */
function spellings(name: string): string[] {
  const parts = name.split("-");
  const out: string[] = [];
  for (let mask = 0; mask < 1 << (parts.length - 1); mask++) {
    let joined = parts[0]!;
    for (let i = 1; i < parts.length; i++) {
      joined += ((mask >> (i - 1)) & 1 ? "_" : "-") + parts[i];
    }
    const title = joined.replace(/(^|[-_])([a-z])/g, (m) => m.toUpperCase());
    const alternating = [...joined].map((c, i) => i % 2 ? c.toUpperCase() : c).join("");
    out.push(joined, joined.toUpperCase(), title, alternating);
  }
  return out;
}

/** A name as a WSGI/CGI server reads it. */
function normalized(name: string): string {
  return name.toLowerCase().replaceAll("_", "-");
}

/** Asserts the backend saw each proxy header once, spelled canonically, with the proxy's value. */
function assertOnlyProxyValues(
  seen: Map<string, string[]>,
  expected: Record<string, string>,
  variant: string,
): void {
  for (const [name, values] of seen) {
    const norm = normalized(name);
    if (!norm.startsWith("x-verified-") && !(PROXY_SET as readonly string[]).includes(norm)) {
      continue;
    }
    assert.equal(name, norm, `${variant}: backend saw a forged spelling ${name}`);
    assert.deepEqual(values, [expected[norm]], `${variant}: ${name}`);
  }
  for (const name of PROXY_SET) {
    assert.deepEqual(seen.get(name), [expected[name]], `${variant}: ${name} missing`);
  }
}

/** Field lines of a raw head as name → values (names as received). */
function fieldsOf(head: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    out.set(name, [...(out.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return out;
}

Deno.test("security: no spelling or delivery of a forged identity header reaches the backend", async () => {
  await using cluster = await startPlaneCluster({
    apiKeys: ["forgery-test-key"],
    clusterSecret: "forgery-test-secret",
    images: {
      ...defaultImages(),
      raw: { command: [Deno.execPath(), "run", "--allow-net", "--allow-env", RAW_BACKEND] },
    },
  });
  const port = Number(new URL(cluster.proxyUrl).port);
  const host = cluster.cluster;
  const auth = { role: "viewer", team: "blue" };

  async function backend(image: string) {
    const connected = await cluster.connectReady({
      key: { name: `forgery-${image}` },
      "spawn_config": { executable: { image } },
      user: "alice",
      auth,
    });
    const token = new URL(String(connected.url)).pathname.split("/")[1]!;
    const expected = (path: string): Record<string, string> => ({
      "x-verified-username": "alice",
      "x-verified-user-data": JSON.stringify(auth),
      "x-verified-secret": String(connected.secret_token),
      "x-verified-backend": String(connected.backend_id),
      "x-verified-path": path,
      "x-forwarded-for": "127.0.0.1",
      "x-forwarded-proto": "http",
    });
    return { token, expected };
  }

  const echo = await backend("echo");
  const all = PROXY_SET.flatMap((name) => spellings(name).map((spelling) => ({ name, spelling })));
  assert.equal(all.length, 128, "4 spellings per `-`/`_` choice");
  const forged = (i: number) => `mallory-${i}`;

  // Plain fields, then the same with `Connection` naming the proxy's own header (and Host):
  // one keep-alive connection carries them all.
  {
    await using conn = await RawConnection.open(port);
    let requests = 0;
    for (const listing of [false, true]) {
      for (const [i, { name, spelling }] of all.entries()) {
        const variant = `${listing ? "connection-listed " : ""}${spelling}`;
        const headers: [string, string][] = [["Host", host], [spelling, forged(i)]];
        if (listing) headers.push(["Connection", `${name}, host, ${spelling}`]);
        await conn.send("GET", `/${echo.token}/probe`, headers);
        const res = await conn.read();
        requests++;
        assert.equal(res.status, 200, `${variant}: ${res.body}`);
        const seen = JSON.parse(res.body).headers as Record<string, string>;
        assert.equal(seen.host, host, `${variant}: Host was dropped`);
        const map = new Map(Object.entries(seen).map(([k, v]) => [k, [v]]));
        assertOnlyProxyValues(map, echo.expected(`/${echo.token}/probe`), variant);
      }
    }
    assert.equal(requests, 2 * all.length);
  }

  // WebSocket upgrades: every spelling of one proxy header in one handshake, which also lists
  // the proxy's header in `Connection`.
  for (const name of PROXY_SET) {
    const extra: [string, string][] = spellings(name).map((s, i) => [s, forged(i)]);
    extra.push(["Connection", name]);
    const ws = await openRawWebSocket(port, `/${echo.token}/ws?headers=1`, host, extra);
    try {
      assert.equal(ws.response.status, 101, `upgrade ${name}`);
      const seen = JSON.parse(await ws.receive()) as Record<string, string>;
      const map = new Map(Object.entries(seen).map(([k, v]) => [k, [v]]));
      assertOnlyProxyValues(map, echo.expected(`/${echo.token}/ws`), `upgrade ${name}`);
      await ws.send("still open");
      assert.equal(await ws.receive(), "still open");
    } finally {
      ws.close();
    }
  }

  // Chunked trailers, on a backend that reports the bytes it received.
  const raw = await backend("raw");
  {
    await using conn = await RawConnection.open(port);
    for (const name of PROXY_SET) {
      const trailers = spellings(name).map((s, i) => `${s}: ${forged(i)}\r\n`).join("");
      const request = `POST /${raw.token}/upload HTTP/1.1\r\nHost: ${host}\r\n` +
        `Transfer-Encoding: chunked\r\nTrailer: ${name}\r\n\r\n` +
        `5\r\nhello\r\n0\r\n${trailers}X-Benign-Trailer: kept\r\n\r\n`;
      await conn.write(new TextEncoder().encode(request));
      const res = await conn.read();
      assert.equal(res.status, 200, `trailer ${name}: ${res.body}`);
      const seen = JSON.parse(res.body) as { head: string; trailers: string[]; bodyBytes: number };
      assert.equal(seen.bodyBytes, 5);
      assertOnlyProxyValues(fieldsOf(seen.head), raw.expected(`/${raw.token}/upload`), name);
      assert.deepEqual(seen.trailers, ["X-Benign-Trailer: kept"], `trailer ${name}`);
    }
  }
});
