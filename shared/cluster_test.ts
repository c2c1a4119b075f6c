import assert from "node:assert/strict";
import { clusterIsHttps, clusterNameError, connectionUrl, subdomainFromHost } from "./cluster.ts";

Deno.test("clusterNameError() accepts host[:port] and rejects everything else", () => {
  for (const ok of ["plane.test", "localhost:9090", "127.0.0.1", "[::1]:8080", "a-b.example.com"]) {
    assert.equal(clusterNameError(ok), null, ok);
  }
  for (const bad of ["", "bad cluster", "host:99999", "host:", "-a.com", "a..b", "[::1", "h/x"]) {
    assert.notEqual(clusterNameError(bad), null, bad);
  }
});

Deno.test("clusterIsHttps() is true without a port or with 443 (§1.1)", () => {
  assert.equal(clusterIsHttps("c1.example.com"), true);
  assert.equal(clusterIsHttps("c1.example.com:443"), true);
  assert.equal(clusterIsHttps("localhost:9090"), false);
});

Deno.test("connectionUrl() builds {proto}://[{sub}.]{cluster}/{token}/ (§2.2)", () => {
  assert.equal(connectionUrl("plane.test", "tok", null), "https://plane.test/tok/");
  assert.equal(connectionUrl("plane.test", "tok", "sub"), "https://sub.plane.test/tok/");
  assert.equal(connectionUrl("localhost:9090", "tok", null), "http://localhost:9090/tok/");
});

Deno.test("subdomainFromHost() follows §7.4", () => {
  assert.equal(subdomainFromHost("plane.test", "plane.test"), null);
  assert.equal(subdomainFromHost("plane.test:443", "plane.test"), null);
  assert.equal(subdomainFromHost("foo.plane.test", "plane.test"), "foo");
  assert.equal(subdomainFromHost("a.b.plane.test", "plane.test"), "a.b");
  assert.equal(subdomainFromHost("foobarplane.test", "plane.test"), undefined);
  assert.equal(subdomainFromHost("foobar.myhost:8080", "myhost:8080"), "foobar");
  assert.equal(subdomainFromHost("foobar.myhost", "myhost:8080"), undefined);
});
