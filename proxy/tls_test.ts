import assert from "node:assert/strict";
import { httpsRedirectLocation, parseCertFile, redirectDecision } from "./tls.ts";
import { SERVER_HEADER } from "./request.ts";

// testdata/certN.json: a leaf certificate for plane.test, *.plane.test, localhost and
// 127.0.0.1 (valid until 2126) signed by testdata/caN.pem, in Plane's file format; made with
// `openssl x509 -req`. Two CAs let a test tell which certificate a handshake presented.
const CERT1 = new URL("./testdata/cert1.json", import.meta.url);

Deno.test("parseCertFile() reads Plane's {cert, key} JSON (plane-0.5.md §10.4)", async () => {
  const pair = parseCertFile(await Deno.readTextFile(CERT1));
  assert.ok(!(pair instanceof Error));
  assert.match(pair.cert, /BEGIN CERTIFICATE/);
  assert.match(pair.key, /BEGIN PRIVATE KEY/);
  for (
    const [text, message] of [
      ["{", /not JSON/],
      ["[]", /"cert" is not/],
      ['{"cert": "x", "key": "y"}', /"cert" is not a PEM/],
      ['{"cert": "-----BEGIN CERTIFICATE-----", "key": 1}', /"key" is not a PEM/],
    ] as const
  ) {
    const result = parseCertFile(text);
    assert.ok(result instanceof Error, text);
    assert.match(result.message, message);
  }
});

Deno.test("httpsRedirectLocation() drops the port and keeps path and query (plane-0.5.md §7.1)", () => {
  assert.equal(httpsRedirectLocation("foo.bar.baz", "/"), "https://foo.bar.baz/");
  assert.equal(
    httpsRedirectLocation("foo.bar.baz:8080", "/a/b?x=1&y"),
    "https://foo.bar.baz/a/b?x=1&y",
  );
  assert.equal(httpsRedirectLocation("[::1]:80", "/x"), "https://[::1]/x");
  assert.equal(httpsRedirectLocation(null, "/"), null);
  assert.equal(httpsRedirectLocation("", "/"), null);
  assert.equal(httpsRedirectLocation("bad host", "/"), null);
  assert.equal(httpsRedirectLocation("evil.test/x", "/"), null);
});

Deno.test("redirectDecision() redirects everything, /ready included, and 400s without Host", () => {
  const ready = redirectDecision({
    method: "GET",
    target: "/ready",
    version: "1.1",
    headers: [["Host", "plane.test:80"]],
  });
  assert.equal(ready.status, 301);
  assert.deepEqual(ready.headers.find(([n]) => n === "Location"), [
    "Location",
    "https://plane.test/ready",
  ]);
  assert.ok(ready.headers.some(([n, v]) => n === "Server" && v === SERVER_HEADER));
  const missing = redirectDecision({ method: "GET", target: "/", version: "1.0", headers: [] });
  assert.equal(missing.status, 400);
});
