import assert from "node:assert/strict";
import {
  clusterIsHttps,
  clusterNameError,
  connectionUrl,
  type HostMatch,
  matchHost,
} from "./cluster.ts";

Deno.test("clusterNameError() accepts host[:port] and rejects everything else", () => {
  for (const ok of ["plane.test", "localhost:9090", "127.0.0.1", "[::1]:8080", "a-b.example.com"]) {
    assert.equal(clusterNameError(ok), null, ok);
  }
  for (const bad of ["", "bad cluster", "host:99999", "host:", "-a.com", "a..b", "[::1", "h/x"]) {
    assert.notEqual(clusterNameError(bad), null, bad);
  }
});

Deno.test("clusterIsHttps() is true without a port or with 443 (plane-0.5.md §1.1)", () => {
  assert.equal(clusterIsHttps("c1.example.com"), true);
  assert.equal(clusterIsHttps("c1.example.com:443"), true);
  assert.equal(clusterIsHttps("localhost:9090"), false);
});

Deno.test("connectionUrl() builds {proto}://[{sub}.]{cluster}/{token}/ (plane-0.5.md §2.2)", () => {
  assert.equal(connectionUrl("plane.test", "tok", null), "https://plane.test/tok/");
  assert.equal(connectionUrl("plane.test", "tok", "sub"), "https://sub.plane.test/tok/");
  assert.equal(connectionUrl("localhost:9090", "tok", null), "http://localhost:9090/tok/");
});

Deno.test("matchHost() follows plane-0.5.md §7.4 and matches ports exactly", () => {
  const cases: [host: string, cluster: string, listenerPort: number, expected: HostMatch][] = [
    // Plane's cases (request.rs).
    ["plane.test", "plane.test", 80, { ok: true, subdomain: null }],
    ["plane.test:443", "plane.test", 80, { ok: true, subdomain: null }],
    ["foo.plane.test", "plane.test", 443, { ok: true, subdomain: "foo" }],
    ["a.b.plane.test", "plane.test", 443, { ok: true, subdomain: "a.b" }],
    ["foobarplane.test", "plane.test", 443, { ok: false, status: 403 }],
    ["foobar.myhost:8080", "myhost:8080", 80, { ok: true, subdomain: "foobar" }],
    ["foobar.myhost", "myhost:8080", 80, { ok: false, status: 403 }],
    // A cluster without a port: no port, 443 (its public HTTPS) or the listener's default.
    ["plane.test:80", "plane.test", 80, { ok: true, subdomain: null }],
    ["plane.test:80", "plane.test", 443, { ok: false, status: 403 }],
    ["sub.plane.test:8443", "plane.test", 443, { ok: false, status: 403 }],
    ["plane.test:9090", "plane.test", 80, { ok: false, status: 403 }],
    // A cluster with a port: exactly it (absent only for 80 and 443).
    ["localhost:9090", "localhost:9090", 80, { ok: true, subdomain: null }],
    ["sub.localhost:9090", "localhost:9090", 80, { ok: true, subdomain: "sub" }],
    ["sub.localhost:443", "localhost:9090", 80, { ok: false, status: 403 }],
    ["localhost", "localhost:9090", 80, { ok: false, status: 403 }],
    ["localhost:09090", "localhost:9090", 80, { ok: true, subdomain: null }],
    ["plane.test", "plane.test:443", 443, { ok: true, subdomain: null }],
    ["plane.test:443", "plane.test:443", 443, { ok: true, subdomain: null }],
    ["plane.test:8080", "plane.test:443", 443, { ok: false, status: 403 }],
    // Malformed: not host[:port] (the `:443` Plane strips no longer hides a second port).
    ["sub.localhost:9090:443", "localhost:9090", 80, { ok: false, status: 400 }],
    ["plane.test:443:443", "plane.test", 443, { ok: false, status: 400 }],
    ["plane.test:", "plane.test", 80, { ok: false, status: 400 }],
    ["plane.test:x", "plane.test", 80, { ok: false, status: 400 }],
    ["plane.test:99999", "plane.test", 80, { ok: false, status: 400 }],
    [":9090", "localhost:9090", 80, { ok: false, status: 400 }],
    ["", "plane.test", 80, { ok: false, status: 400 }],
    ["[::1", "[::1]:9090", 80, { ok: false, status: 400 }],
    ["[::1]x", "[::1]:9090", 80, { ok: false, status: 400 }],
    // IPv6 literals.
    ["[::1]:9090", "[::1]:9090", 80, { ok: true, subdomain: null }],
    ["[::1]:9091", "[::1]:9090", 80, { ok: false, status: 403 }],
  ];
  for (const [host, cluster, listenerPort, expected] of cases) {
    assert.deepEqual(matchHost(host, cluster, listenerPort), expected, `${host} in ${cluster}`);
  }
});
