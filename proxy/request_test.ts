import assert from "node:assert/strict";
import {
  engineErrorResponse,
  extractToken,
  hostError,
  isPathRouteSpelling,
  peerIp,
  preroute,
  responseHeaders,
  routeDecision,
  type RoutedRequest,
  SERVER_HEADER,
  splitAddress,
  splitTarget,
  upstreamHeaders,
} from "./request.ts";
import { prepareRoute } from "./prepared_route.ts";
import type { ConnectionInfo, Header, RequestHead } from "./engine/types.ts";
import type { RouteInfo } from "../shared/protocol.ts";
import type { BackendName } from "../shared/names.ts";

function head(target: string, headers: Header[] = [["Host", "plane.test"]]): RequestHead {
  return { method: "GET", target, version: "1.1", headers };
}

const CONN: ConnectionInfo = { remoteAddress: "127.0.0.1", tls: false };

const ROUTE: RouteInfo = {
  "backend_id": "backend123" as BackendName,
  address: "127.0.0.1:4321",
  "secret_token": "secret987",
  cluster: "plane.test",
  user: "auser123",
  "user_data": { access: "readonly", email: "a@example.com" },
  subdomain: null,
};

function tokenOf(target: string) {
  const split = splitTarget(target);
  return split && extractToken(split);
}

function routed(target: string): RoutedRequest {
  const r = preroute(head(target), { ready: true });
  assert.equal(r.kind, "route");
  return r as RoutedRequest;
}

function get(headers: readonly Header[], name: string): string[] {
  return headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

Deno.test("extractToken() mirrors Plane's request.rs cases (plane-0.5.md §7.2 step 3, §12)", () => {
  assert.deepEqual(tokenOf("/foo/bar"), { token: "foo", upstreamTarget: "/bar" });
  assert.deepEqual(tokenOf("/foo"), { token: "foo", upstreamTarget: "/" });
  assert.deepEqual(tokenOf("/foo/"), { token: "foo", upstreamTarget: "/" });
  assert.equal(tokenOf("/"), null);
  assert.equal(tokenOf("//bar"), null);
  assert.deepEqual(tokenOf("/s.foo/bar"), { token: "s.foo", upstreamTarget: "/s.foo/bar" });
});

Deno.test("extractToken() keeps the query string on both token kinds", () => {
  assert.deepEqual(tokenOf("/abc123/a/b/c/?x=1"), {
    token: "abc123",
    upstreamTarget: "/a/b/c/?x=1",
  });
  assert.deepEqual(tokenOf("/abc123?x=1&y"), { token: "abc123", upstreamTarget: "/?x=1&y" });
  assert.deepEqual(tokenOf("/s.abc/x?q=2"), { token: "s.abc", upstreamTarget: "/s.abc/x?q=2" });
});

Deno.test("splitTarget() reduces absolute-form and refuses targets without a path", () => {
  assert.deepEqual(splitTarget("http://plane.test/tok/a?b"), { path: "/tok/a", query: "?b" });
  assert.deepEqual(splitTarget("http://plane.test"), { path: "/", query: "" });
  assert.equal(splitTarget("*"), null);
  assert.equal(splitTarget("plane.test:443"), null);
});

Deno.test("preroute() answers /ready 200 or 503 from the controller connection (plane-0.5.md §7.2 step 1)", () => {
  assert.equal((preroute(head("/ready"), { ready: true }) as { status: number }).status, 200);
  assert.equal((preroute(head("/ready"), { ready: false }) as { status: number }).status, 503);
  // The query does not change the path (`/ready?x` is still the health check).
  assert.equal((preroute(head("/ready?x=1"), { ready: true }) as { status: number }).status, 200);
});

Deno.test("preroute() answers / with 400, or 301 to the root redirect (plane-0.5.md §7.2 step 2)", () => {
  const plain = preroute(head("/"), { ready: true });
  assert.equal(plain.kind, "respond");
  if (plain.kind !== "respond") return;
  assert.equal(plain.status, 400);
  assert.deepEqual(get(plain.headers, "location"), []);
  const redirect = preroute(head("/"), { ready: true, rootRedirectUrl: "https://plane.test/" });
  assert.equal(redirect.kind, "respond");
  if (redirect.kind !== "respond") return;
  assert.equal(redirect.status, 301);
  assert.deepEqual(get(redirect.headers, "location"), ["https://plane.test/"]);
  assert.deepEqual(get(redirect.headers, "server"), [SERVER_HEADER]);
});

Deno.test("preroute() answers 400 for no token and 410 for an impossible token", () => {
  assert.equal((preroute(head("//x"), { ready: true }) as { status: number }).status, 400);
  assert.equal((preroute(head("*"), { ready: true }) as { status: number }).status, 400);
  const long = `/${"a".repeat(1025)}/`;
  assert.equal((preroute(head(long), { ready: true }) as { status: number }).status, 410);
  assert.deepEqual(routed("/abc123/a/b/c/?x=1"), {
    kind: "route",
    token: "abc123",
    upstreamTarget: "/a/b/c/?x=1",
    path: "/abc123/a/b/c/",
  });
});

Deno.test("isPathRouteSpelling() reads _plane_backend= through percent-encoding and case", () => {
  for (
    const token of [
      "_plane_backend=abc",
      "_plane_backend=",
      "%5Fplane_backend%3Dabc",
      "%5fplane_backend%3dabc",
      "_plane_backend%3Dabc",
      "_PLANE_BACKEND=abc",
      "%5F%70lane_backend=abc",
    ]
  ) assert.equal(isPathRouteSpelling(token), true, token);
  for (const token of ["abc123", "s.abc", "_plane_backend", "x_plane_backend=abc", "%E0%A4%A"]) {
    assert.equal(isPathRouteSpelling(token), false, token);
  }
});

Deno.test("preroute() on a proxy without path routing answers 410 for /_plane_backend=<id> in any spelling, asking nothing", () => {
  // Issue 10 finding 1: a backend id is public, so it must never reach the route lookup.
  for (
    const target of [
      "/_plane_backend=abc/",
      "/_plane_backend=abc",
      "/_plane_backend=abc/x?y",
      "/_plane_backend=abc?y=1",
      "/%5Fplane_backend%3Dabc/",
      "/_PLANE_BACKEND=abc/x",
      "http://plane.test/_plane_backend=abc/x",
    ]
  ) {
    const answer = preroute(head(target), { ready: true });
    assert.equal(answer.kind, "respond", target);
    assert.equal((answer as { status: number }).status, 410, target);
  }
});

Deno.test("preroute() on a path-routing proxy routes only the exact prefix and a valid id", () => {
  const options = { ready: true, pathRouting: true };
  assert.deepEqual(preroute(head("/_plane_backend=abc/x?y"), options), {
    kind: "route",
    token: "_plane_backend=abc",
    upstreamTarget: "/x?y",
    pathRouted: true,
    path: "/_plane_backend=abc/x",
  });
  for (const target of ["/%5Fplane_backend%3Dabc/", "/_plane_backend=ABC/", "/abc123/"]) {
    assert.equal((preroute(head(target), options) as { status: number }).status, 400, target);
  }
});

Deno.test("hostError() applies plane-0.5.md §7.4 against the route's cluster, ports included", () => {
  const sub = { ...ROUTE, subdomain: "mysubdomain" };
  const cases: [Header[], RouteInfo, 400 | 403 | null][] = [
    [[], ROUTE, 400],
    [[["Host", "plane.test:443:443"]], ROUTE, 400],
    [[["Host", "sub.localhost:9090:443"]], { ...ROUTE, cluster: "localhost:9090" }, 400],
    [[["Host", "sub.localhost:443"]], { ...ROUTE, cluster: "localhost:9090" }, 403],
    [[["Host", "plane.test:8080"]], ROUTE, 403],
    [[["Host", "plane.test:80"]], ROUTE, null],
    [[["Host", "plane.test"], ["host", "plane.test"]], ROUTE, 400],
    [[["Host", "plane.test"]], ROUTE, null],
    [[["host", "plane.test:443"]], ROUTE, null],
    [[["Host", "anything.plane.test"]], ROUTE, null],
    [[["Host", "PLANE.TEST"]], ROUTE, null],
    [[["Host", "foobarplane.test"]], ROUTE, 403],
    [[["Host", "other.test"]], ROUTE, 403],
    [[["Host", "plane.test"]], sub, 403],
    [[["Host", "other.plane.test"]], sub, 403],
    [[["Host", "mysubdomain.plane.test"]], sub, null],
    [[["Host", "mysubdomain.localhost:9090"]], { ...sub, cluster: "localhost:9090" }, null],
    [[["Host", "mysubdomain.localhost"]], { ...sub, cluster: "localhost:9090" }, 403],
  ];
  for (const [headers, route, expected] of cases) {
    assert.equal(hostError(headers, route)?.status ?? null, expected, JSON.stringify(headers));
  }
});

Deno.test("upstreamHeaders() sets the Plane headers exactly as proxy_plane_headers_are_set", () => {
  const request = routed("/abc123/a/b/c/");
  const { headers, skipped } = upstreamHeaders(head("/abc123/a/b/c/"), CONN, request, ROUTE);
  assert.deepEqual(skipped, []);
  assert.deepEqual(get(headers, "x-verified-username"), ["auser123"]);
  assert.deepEqual(get(headers, "x-verified-user-data"), [
    '{"access":"readonly","email":"a@example.com"}',
  ]);
  assert.deepEqual(get(headers, "x-verified-secret"), ["secret987"]);
  assert.deepEqual(get(headers, "x-verified-path"), ["/abc123/a/b/c/"]);
  assert.deepEqual(get(headers, "x-verified-backend"), ["backend123"]);
  assert.deepEqual(get(headers, "host"), ["plane.test"]);
});

Deno.test("upstreamHeaders() strips forged x-verified-* and x-forwarded-*, keeps the rest", () => {
  const inbound: Header[] = [
    ["Host", "plane.test"],
    ["X-Verified-Blah", "forged"],
    ["x-verified-backend", "forged"],
    ["X-Forwarded-For", "6.6.6.6"],
    ["x-forwarded-proto", "https"],
    ["X-Custom", "kept"],
  ];
  const request = routed("/abc123/");
  const conn = { remoteAddress: "::ffff:127.0.0.1", tls: false };
  const { headers } = upstreamHeaders(head("/abc123/", inbound), conn, request, ROUTE);
  assert.deepEqual(get(headers, "x-verified-blah"), []);
  assert.deepEqual(get(headers, "x-verified-backend"), ["backend123"]);
  assert.deepEqual(get(headers, "x-forwarded-for"), ["127.0.0.1"]);
  assert.deepEqual(get(headers, "x-forwarded-proto"), ["http"]);
  assert.deepEqual(get(headers, "x-custom"), ["kept"]);
  const tls = upstreamHeaders(head("/abc123/", inbound), { ...CONN, tls: true }, request, ROUTE);
  assert.deepEqual(get(tls.headers, "x-forwarded-proto"), ["https"]);
});

Deno.test("upstreamHeaders() drops every spelling of the proxy's headers (finding 2b)", () => {
  const forged = [
    "X_Verified_Username",
    "x-verified_username",
    "x_verified-username",
    "X-VERIFIED-SECRET",
    "x_verified_user_data",
    "x-forwarded_for",
    "X_Forwarded_Proto",
  ];
  const inbound: Header[] = [["Host", "plane.test"], ...forged.map((n): Header => [n, "mallory"])];
  const { headers } = upstreamHeaders(head("/abc123/", inbound), CONN, routed("/abc123/"), ROUTE);
  for (const name of forged) {
    assert.ok(!headers.some(([n]) => n === name), `${name} forwarded`);
  }
  assert.ok(!headers.some(([, v]) => v === "mallory"));
  assert.deepEqual(get(headers, "x-verified-username"), ["auser123"]);
  assert.deepEqual(get(headers, "x-forwarded-for"), ["127.0.0.1"]);
});

Deno.test("upstreamHeaders() applies Connection to the client's fields only, never Host (finding 2a)", () => {
  const inbound: Header[] = [
    ["Host", "plane.test"],
    ["Connection", "keep-alive, x-verified-username, X-Forwarded-For, host"],
    ["connection", "x-hop"],
    ["X-Hop", "1"],
    ["X-Kept", "yes"],
  ];
  const { headers } = upstreamHeaders(head("/abc123/", inbound), CONN, routed("/abc123/"), ROUTE);
  assert.deepEqual(get(headers, "host"), ["plane.test"]);
  assert.deepEqual(get(headers, "connection"), []);
  assert.deepEqual(get(headers, "x-hop"), []);
  assert.deepEqual(get(headers, "x-kept"), ["yes"]);
  assert.deepEqual(get(headers, "x-verified-username"), ["auser123"]);
  assert.deepEqual(get(headers, "x-forwarded-for"), ["127.0.0.1"]);
});

Deno.test("upstreamHeaders() gives static tokens no user data and an empty secret (plane-0.5.md §7.2 step 7)", () => {
  const request = routed("/s.abc123/foobar");
  const route = { ...ROUTE, "secret_token": "", user: null, "user_data": null };
  const { headers } = upstreamHeaders(head("/s.abc123/foobar"), CONN, request, route);
  assert.deepEqual(get(headers, "x-verified-user-data"), []);
  assert.deepEqual(get(headers, "x-verified-username"), []);
  assert.deepEqual(get(headers, "x-verified-secret"), [""]);
  assert.deepEqual(get(headers, "x-verified-path"), ["/s.abc123/foobar"]);
  // A dynamic token without user data still sends `{}`.
  const dynamic = upstreamHeaders(head("/abc/"), CONN, routed("/abc/"), route);
  assert.deepEqual(get(dynamic.headers, "x-verified-user-data"), ["{}"]);
});

Deno.test("upstreamHeaders() skips a header whose value is not a valid header value", () => {
  const route = { ...ROUTE, user: "evil\r\nx-injected: 1" };
  const { headers, skipped } = upstreamHeaders(head("/abc/"), CONN, routed("/abc/"), route);
  assert.deepEqual(skipped, ["x-verified-username"]);
  assert.deepEqual(get(headers, "x-verified-username"), []);
});

Deno.test("responseHeaders() adds CORS defaults only when the backend set none (plane-0.5.md §7.2 step 10)", () => {
  const plain = responseHeaders([["Server", "nginx"], ["Content-Type", "text/plain"]], "b1");
  assert.deepEqual(get(plain, "access-control-allow-origin"), ["*"]);
  assert.deepEqual(get(plain, "access-control-allow-methods"), ["*"]);
  assert.deepEqual(get(plain, "access-control-allow-headers"), ["*, Authorization"]);
  assert.deepEqual(get(plain, "server"), [SERVER_HEADER]);
  assert.deepEqual(get(plain, "x-plane-backend-id"), ["b1"]);
  assert.deepEqual(get(plain, "content-type"), ["text/plain"]);
  const own = responseHeaders([["access-control-allow-origin", "https://a.example"]], "b1");
  assert.deepEqual(get(own, "access-control-allow-origin"), ["https://a.example"]);
  assert.deepEqual(get(own, "access-control-allow-methods"), []);
  assert.deepEqual(get(own, "access-control-allow-headers"), []);
});

Deno.test("routeDecision() answers 410, 504, 400, 403 with a JSON error, CORS and Server headers", () => {
  const request = routed("/abc123/");
  const cases: [Parameters<typeof routeDecision>[3], Header[], number][] = [
    [{ kind: "gone" }, [["Host", "plane.test"]], 410],
    [{ kind: "timeout" }, [["Host", "plane.test"]], 504],
    [{ kind: "found", route: ROUTE }, [], 400],
    [{ kind: "found", route: { ...ROUTE, subdomain: "x" } }, [["Host", "plane.test"]], 403],
  ];
  for (const [result, headers, status] of cases) {
    const { decision } = routeDecision(head("/abc123/", headers), CONN, request, result);
    assert.equal(decision.kind, "respond");
    if (decision.kind !== "respond") continue;
    assert.equal(decision.status, status);
    // Issue 10, finding 7: one JSON error body (Plane's is empty).
    const body = JSON.parse(decision.body!);
    assert.deepEqual(Object.keys(body), ["id", "kind", "message"]);
    assert.match(body.message, /: /);
    assert.deepEqual(get(decision.headers, "content-type"), ["application/json"]);
    assert.deepEqual(get(decision.headers, "access-control-allow-origin"), ["*"]);
    assert.deepEqual(get(decision.headers, "access-control-allow-headers"), ["*, Authorization"]);
    assert.deepEqual(get(decision.headers, "server"), [SERVER_HEADER]);
  }
});

Deno.test("routeDecision() forwards to the route's address with the rewritten target", () => {
  const request = routed("/abc123/a/b?x=1");
  const { decision } = routeDecision(
    {
      method: "POST",
      target: "/abc123/a/b?x=1",
      version: "1.0",
      headers: [["Host", "plane.test"]],
    },
    CONN,
    request,
    { kind: "found", route: ROUTE },
  );
  assert.equal(decision.kind, "forward");
  if (decision.kind !== "forward") return;
  assert.equal(decision.hostname, "127.0.0.1");
  assert.equal(decision.port, 4321);
  assert.equal(decision.head.method, "POST");
  assert.equal(decision.head.version, "1.0");
  assert.equal(decision.head.target, "/a/b?x=1");
  const out = decision.responseHeaders!(200, [["x-plane-backend-id", "spoofed"]]);
  assert.deepEqual(get(out, "x-plane-backend-id"), ["backend123"]);
});

Deno.test("splitAddress() and peerIp() handle IPv4 and IPv6 forms", () => {
  assert.deepEqual(splitAddress("10.0.0.5:49153"), { hostname: "10.0.0.5", port: 49153 });
  assert.deepEqual(splitAddress("[::1]:8080"), { hostname: "::1", port: 8080 });
  assert.equal(peerIp("::ffff:10.1.2.3"), "10.1.2.3");
  assert.equal(peerIp("::1"), "::1");
});

/** Chromium's Accept for a page navigation. */
const NAVIGATION = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif," +
  "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
/** Chromium's Accept for a favicon. */
const IMAGE = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";

Deno.test("routeDecision() answers a browser's navigation with the HTML page, API clients with JSON", () => {
  const request = routed("/abc123/");
  const cases: [Parameters<typeof routeDecision>[3], number, RegExp][] = [
    [{ kind: "gone" }, 410, /This session has ended/],
    [{ kind: "timeout" }, 504, /This session is still starting/],
    [{ kind: "found", route: { ...ROUTE, subdomain: "x" } }, 403, /could not be served/],
  ];
  for (const [result, status, words] of cases) {
    const browser = routeDecision(
      head("/abc123/", [["Host", "plane.test"], ["Accept", NAVIGATION]]),
      CONN,
      request,
      result,
    ).decision;
    assert.equal(browser.kind, "respond");
    if (browser.kind !== "respond") continue;
    assert.equal(browser.status, status);
    assert.deepEqual(get(browser.headers, "content-type"), ["text/html; charset=utf-8"]);
    assert.deepEqual(get(browser.headers, "cache-control"), ["no-store"]);
    assert.deepEqual(get(browser.headers, "vary"), ["Accept"]);
    assert.deepEqual(get(browser.headers, "access-control-allow-origin"), ["*"]);
    assert.deepEqual(get(browser.headers, "server"), [SERVER_HEADER]);
    assert.match(browser.body!, words);

    const api = routeDecision(
      head("/abc123/", [["Host", "plane.test"], ["accept", "*/*"]]),
      CONN,
      request,
      result,
    ).decision;
    assert.equal(api.kind, "respond");
    if (api.kind !== "respond") continue;
    assert.deepEqual(get(api.headers, "content-type"), ["application/json"]);
    assert.equal(JSON.parse(api.body!).message.includes(": "), true);
  }
  // Accept fields are one list however they are split (RFC 9110 §5.3).
  const split = routeDecision(
    head("/abc123/", [["Host", "plane.test"], ["Accept", "image/png"], ["Accept", "text/html"]]),
    CONN,
    request,
    { kind: "gone" },
  ).decision as { headers: readonly Header[] };
  assert.deepEqual(get(split.headers, "content-type"), ["text/html; charset=utf-8"]);
});

Deno.test("preroute() answers /favicon.ico 404 itself, with no route lookup, in both routing modes", () => {
  for (const pathRouting of [false, true]) {
    const icon = preroute(head("/favicon.ico", [["Accept", IMAGE]]), { ready: true, pathRouting });
    assert.equal(icon.kind, "respond", "no token lookup: favicon.ico is never a token");
    if (icon.kind !== "respond") continue;
    assert.equal(icon.status, 404);
    assert.deepEqual(get(icon.headers, "content-type"), ["application/json"]);
    const body = JSON.parse(icon.body!);
    assert.equal(body.kind, "NotFound");
    assert.match(body.message, /^No icon at \/favicon\.ico: .*rel="icon"/);
  }
  const page = preroute(head("/favicon.ico?v=2", [["Accept", NAVIGATION]]), { ready: true });
  assert.equal(page.kind === "respond" && page.status, 404);
  assert.match((page as { body: string }).body, /Nothing is here/);
  // Only the exact path: a token that merely starts the same way is still looked up.
  assert.equal(preroute(head("/favicon.icon/"), { ready: true }).kind, "route");
});

Deno.test("engineErrorResponse() uses the request's Accept when the engine has a head", () => {
  const browser = engineErrorResponse(502, "bad gateway", head("/t/", [["Accept", NAVIGATION]]));
  assert.deepEqual(get(browser.headers, "content-type"), ["text/html; charset=utf-8"]);
  assert.match(browser.body, /This session cannot be reached/);
  // Framing errors come before any head: JSON.
  const framing = engineErrorResponse(400, "bare LF");
  assert.deepEqual(get(framing.headers, "content-type"), ["application/json"]);
  assert.match(JSON.parse(framing.body).message, /bare LF/);
});

Deno.test("routeDecision() on a prepared route checks every request's Host, not just the first", () => {
  const prepared = prepareRoute("abc123", ROUTE);
  const result = { kind: "found" as const, route: ROUTE, prepared };
  const decide = (headers: Header[], tls = false) =>
    routeDecision(head("/abc123/", headers), { ...CONN, tls }, routed("/abc123/"), result)
      .decision;
  const status = (d: ReturnType<typeof decide>) => d.kind === "respond" ? d.status : "forward";
  assert.equal(status(decide([["Host", "plane.test"]])), "forward");
  assert.equal(status(decide([["Host", "plane.test"]])), "forward", "the remembered host");
  assert.equal(status(decide([["Host", "evil.test"]])), 403);
  assert.equal(status(decide([["Host", "plane.test"], ["Host", "plane.test"]])), 400);
  assert.equal(status(decide([])), 400);
  // What the plain listener accepted is not taken for the TLS one (default ports differ).
  assert.equal(status(decide([["Host", "plane.test:80"]])), "forward");
  assert.equal(status(decide([["Host", "plane.test:80"]], true)), 403);
});
